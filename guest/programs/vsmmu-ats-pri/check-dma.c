/*
 * Check 'dma': untranslated DMA through mapped IOVAs.
 */
#include <string.h>

#include "checks.h"
#include "report.h"
#include "testdev.h"
#include "util.h"

/* 1. DMA through mapped IOVAs, verified both ways */
void check_dma(struct ctx *c)
{
	const uint32_t len = BUFFER_SIZE;
	uint32_t st;
	long bad;

	mem_fill(c->rw, 0x1111, len);
	st = dma(c, CMD_DMA_READ, IOVA_RW, len, 0);
	if (st != ST_OK) {
		result("dma", false, "FAIL",
		       "DMA read of IOVA 0x%llx: status %u", IOVA_RW, st);
		return;
	}
	bad = buffer_compare(c, c->rw, len);
	if (bad >= 0) {
		result("dma", false, "FAIL",
		       "memory -> device: byte %ld differs", bad);
		return;
	}
	buffer_fill(c, 0x2222, len);
	memset(c->rw + PAGE, 0, len);
	st = dma(c, CMD_DMA_WRITE, IOVA_RW + PAGE + 0x100, len, 0);
	bad = st == ST_OK ? buffer_compare(c, c->rw + PAGE + 0x100, len) : 0;
	if (st != ST_OK || bad >= 0) {
		result("dma", false, "FAIL", "device -> memory at IOVA 0x%llx: "
		       "status %u, first bad byte %ld",
		       IOVA_RW + PAGE + 0x100, st, bad);
		return;
	}
	st = dma(c, CMD_DMA_READ, IOVA_RO, 64, 0);
	if (st != ST_OK || (rd32(c, REG_BUFFER) & 0xff) != 0x5a) {
		result("dma", false, "FAIL",
		       "DMA read of read-only IOVA: status %u", st);
		return;
	}
	result("dma", false, "PASS", "%u bytes memory->device at IOVA 0x%llx "
	       "and device->memory at 0x%llx verified; read-only IOVA "
	       "readable", len, IOVA_RW, IOVA_RW + PAGE + 0x100);
}
