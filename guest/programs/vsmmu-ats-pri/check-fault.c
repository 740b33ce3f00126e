/*
 * Check 'fault': a DMA abort and its event record in the driver's log.
 */
#include <unistd.h>

#include "checks.h"
#include "kmsg.h"
#include "report.h"
#include "testdev.h"

/* SMMUv3 event F_TRANSLATION */
#define EVT_ID_TRANSLATION	0x10

/* 2. DMA to an unmapped IOVA aborts and the event reaches the driver's log */
void check_fault(struct ctx *c)
{
	const uint64_t iova = IOVA_UNMAPPED + 0x80;
	int kfd = kmsg_open();
	struct evt ev;
	unsigned int type, sid;
	uint32_t st;

	if (kfd < 0) {
		result("fault", false, "FAIL", "cannot open /dev/kmsg");
		return;
	}
	st = dma(c, CMD_DMA_READ, iova, 64, 0);
	if (st != ST_FAULT) {
		result("fault", false, "FAIL", "DMA read of unmapped IOVA "
		       "0x%llx: status %u, expected %u (aborted)",
		       (unsigned long long)iova, st, ST_FAULT);
		close(kfd);
		return;
	}
	if (kmsg_wait_event(kfd, EVT_ID_TRANSLATION, &ev, 5000)) {
		result("fault", false, "FAIL", "DMA aborted but no 'event "
		       "0x10 received' from arm-smmu-v3 within 5 s");
		close(kfd);
		return;
	}
	close(kfd);
	type = ev.dw[0] & 0xff;
	sid = ev.dw[0] >> 32;
	if (type != EVT_ID_TRANSLATION || sid != c->rid || ev.dw[2] != iova) {
		result("fault", false, "FAIL", "event dwords 0x%016llx "
		       "0x%016llx 0x%016llx: type 0x%x sid 0x%x addr 0x%llx, "
		       "expected 0x10 0x%x 0x%llx",
		       (unsigned long long)ev.dw[0],
		       (unsigned long long)ev.dw[1],
		       (unsigned long long)ev.dw[2], type, sid,
		       (unsigned long long)ev.dw[2], c->rid,
		       (unsigned long long)iova);
		return;
	}
	result("fault", false, "PASS", "DMA to unmapped IOVA 0x%llx aborted; "
	       "driver logged F_TRANSLATION (0x10) StreamID 0x%x InputAddr "
	       "0x%llx (dw0=0x%016llx)", (unsigned long long)iova, sid,
	       (unsigned long long)ev.dw[2], (unsigned long long)ev.dw[0]);
}
