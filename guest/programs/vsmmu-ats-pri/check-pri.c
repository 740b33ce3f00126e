/*
 * Checks 'pri' and 'pri-overflow': page requests, stop markers and the PRI
 * queue's overflow, against the guest driver's answers and log.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "kmsg.h"
#include "report.h"
#include "sysfs.h"
#include "testdev.h"
#include "util.h"

/*
 * Linux's PRI_RESP_DENY is CMD_PRI_RESP Resp=0b00, which IHI 0070 4.5.2
 * names ResponseFailure: the endpoint sees PCIe Response Failure (0xf).
 */
#define RESP_LINUX_DENY		0xf

/* 5a. one L=1 request: queued, logged, answered (deny) with its index */
static bool pri_single(struct ctx *c, int kfd, char *detail, size_t len)
{
	const unsigned int idx = 5;
	char line[1024];
	int out = page_request(c, IOVA_RW, idx, PRI_LAST | PRI_READ, 0, 0,
			       CMD_PAGE_REQUEST);
	uint32_t n = wait_responses(c, 1, 5000);
	uint64_t r = rd64(c, REG_RESP_RING);
	bool logged = !kmsg_wait_line(kfd, "[5L]", "privileged R access", line,
				      sizeof(line), 2000);

	if (out != PR_ACCEPTED || n != 1 || (r & 0x1ff) != idx ||
	    ((r >> 16) & 0xff) != RESP_LINUX_DENY || !logged) {
		snprintf(detail, len, "L=1 request index %u: outcome %d, %u "
			 "responses, ring[0] 0x%llx (want index %u code 0x%x), "
			 "driver log line '[5L] ... R access' %s", idx, out, n,
			 (unsigned long long)r, idx, RESP_LINUX_DENY,
			 logged ? "found" : "missing");
		return false;
	}
	snprintf(detail, len, "L=1 index %u queued, logged, answered code 0x%x "
		 "(Linux's deny) with index %u", idx, RESP_LINUX_DENY, idx);
	return true;
}

/* 5b. a group: two L=0 requests, no response until the L=1 one */
static bool pri_group(struct ctx *c, int kfd, char *detail, size_t len)
{
	const unsigned int idx = 9;
	char line[1024];
	int o1 = page_request(c, IOVA_RW, idx, PRI_READ, 0, 0,
			      CMD_PAGE_REQUEST);
	int o2 = page_request(c, IOVA_RW + PAGE, idx, PRI_READ, 0, 0,
			      CMD_PAGE_REQUEST);
	unsigned int before, after;
	int o3;

	sleep_ms(300);
	before = resp_entry(c, idx);
	o3 = page_request(c, IOVA_RW + 2 * PAGE, idx, PRI_LAST | PRI_READ, 0,
			  0, CMD_PAGE_REQUEST);
	wait_responses(c, 2, 5000);
	after = resp_entry(c, idx);
	if (o1 || o2 || o3 || before != 0 ||
	    after != (1u << 4 | RESP_LINUX_DENY) ||
	    kmsg_wait_line(kfd, "[9]", NULL, line, sizeof(line), 2000) ||
	    kmsg_wait_line(kfd, "[9L]", NULL, line, sizeof(line), 2000)) {
		snprintf(detail, len, "group index %u: outcomes %d %d %d, "
			 "response entry before L=1 0x%x (want 0), after 0x%x "
			 "(want 0x%x), or log lines [9]/[9L] missing", idx, o1,
			 o2, o3, before, after, 1u << 4 | RESP_LINUX_DENY);
		return false;
	}
	snprintf(detail, len, "group index %u: 2 x L=0 queued without "
		 "response, L=1 answered once", idx);
	return true;
}

/* 5c. a stop marker with a PASID: queued as one, no automatic response */
static bool pri_stop(struct ctx *c, int kfd, char *detail, size_t len)
{
	const unsigned int idx = 20;
	char line[1024];
	uint32_t before = rd32(c, REG_RESP_COUNT);
	int out = page_request(c, IOVA_RW, idx, 0, FLAG_PASID, 1,
			       CMD_STOP_MARKER);
	bool logged = !kmsg_wait_line(kfd, ".0x00001: [20L]", NULL, line,
				      sizeof(line), 3000);
	bool no_rw = logged && strstr(line, "privileged  access");
	unsigned int entry;

	wait_responses(c, before + 1, 1000);
	entry = resp_entry(c, idx);
	if (out != PR_ACCEPTED || !logged || !no_rw ||
	    (entry && (entry & 0xf) != RESP_LINUX_DENY)) {
		snprintf(detail, len, "stop marker PASID 1 index %u: outcome "
			 "%d (want 0 queued), logged %d without R/W %d, "
			 "response 0x%x", idx, out, logged, no_rw, entry);
		return false;
	}
	snprintf(detail, len, "stop marker PASID 1 queued and logged without "
		 "R/W, no automatic response (%s)", entry ?
		 "Linux 6.12 still answers it with deny, as any L=1 entry" :
		 "none at all");
	return true;
}

static void force_pri(struct ctx *c)
{
	unsigned int pri = ext_cap(c, PCI_EXT_PRI);

	note("PRI Control.Enable=%u (Linux never enables PRI with SMMUv3): "
	     "setting the endpoint's test-only CTRL.FORCE_PRI",
	     pri ? cfg_word(c, pri + 4) & 1 : 0);
	wr32(c, REG_CTRL, rd32(c, REG_CTRL) | CTRL_FORCE_PRI);
}

/* 5. PRI: requests reach the PRI queue, Linux answers, stop markers */
void check_pri(struct ctx *c)
{
	char d1[300], d2[300], d3[300];
	int kfd;

	if (ats_unsupported(c, "pri"))
		return;
	force_pri(c);
	cmd(c, CMD_CLEAR_RESULTS);
	kfd = kmsg_open();
	if (kfd < 0) {
		result("pri", true, "FAIL", "cannot open /dev/kmsg");
		return;
	}
	if (!pri_single(c, kfd, d1, sizeof(d1)))
		result("pri", true, "FAIL", "%s", d1);
	else if (!pri_group(c, kfd, d2, sizeof(d2)))
		result("pri", true, "FAIL", "%s", d2);
	else if (!pri_stop(c, kfd, d3, sizeof(d3)))
		result("pri", true, "FAIL", "%s", d3);
	else
		result("pri", true, "PASS", "%s; %s; %s", d1, d2, d3);
	close(kfd);
}

/* 6a. the burst's outcomes and responses as spec 8.1 says */
static bool overflow_outcomes(struct ctx *c, unsigned int start, int kfd,
			      char *detail, size_t len)
{
	const unsigned int q = c->priq_entries, g = c->groups, full = q / 2;
	uint32_t accepted = rd32(c, REG_BURST_ACCEPTED);
	uint32_t refused = rd32(c, REG_BURST_REFUSED);
	uint32_t lost = rd32(c, REG_BURST_LOST);
	char line[1024];
	unsigned int bad = 0, i, e = 0;

	/*
	 * The first q requests (full groups) are queued; then overflow: each
	 * later L=1 request is answered by the SMMU (accepted too, as a PCIe
	 * endpoint sees it), each L=0 request and the stop marker are lost.
	 */
	if (accepted != q + g - full || refused != 0 || lost != g - full + 1) {
		snprintf(detail, len, "burst of %u groups + stop marker: "
			 "accepted %u refused %u lost %u, want %u 0 %u (is "
			 "the PRI queue %u entries? boot with --priq-log2)", g,
			 accepted, refused, lost, q + g - full, g - full + 1,
			 q);
		return false;
	}
	if (kmsg_wait_line(kfd, "PRIQ overflow detected", NULL, line,
			   sizeof(line), 5000)) {
		snprintf(detail, len, "no 'PRIQ overflow detected' in the log");
		return false;
	}
	wait_responses(c, g, 5000);
	for (i = 0; i < g && !bad; i++) {
		unsigned int want = 1u << 4 |
			(i < full ? RESP_LINUX_DENY : RESP_SUCCESS);

		e = resp_entry(c, start + i);
		bad = e != want ? i + 1 : 0;
	}
	if (bad || resp_entry(c, start + g)) {
		snprintf(detail, len, "response table: index %u entry 0x%x, "
			 "stop marker index %u entry 0x%x (want one deny per "
			 "queued group, one automatic Success per overflowed "
			 "group, none for the stop marker)",
			 bad ? start + bad - 1 : 0, e, start + g,
			 resp_entry(c, start + g));
		return false;
	}
	snprintf(detail, len, "%u groups (L=0+L=1) + stop marker into a "
		 "%u-entry PRIQ: %u requests queued, indexes %u-%u answered by "
		 "Linux (deny), %u-%u automatic Success while overflowed, %u "
		 "L=0 and the stop marker dropped (no response); driver logged "
		 "overflow", g, q, q, start, start + full - 1,
		 start + full, start + g - 1, g - full);
	return true;
}

/* 6b. after Linux acknowledged the overflow, requests are queued again */
static bool overflow_recovered(struct ctx *c, unsigned int index,
			       char *detail, size_t len)
{
	uint32_t before = rd32(c, REG_RESP_COUNT);
	int out;
	uint32_t st;

	sleep_ms(200);
	out = page_request(c, IOVA_RW, index, PRI_LAST | PRI_READ, 0, 0,
			   CMD_PAGE_REQUEST);
	wait_responses(c, before + 1, 5000);
	mem_fill(c->rw, 0x5555, 256);
	st = dma(c, CMD_DMA_READ, IOVA_RW, 256, 0);
	if (out != PR_ACCEPTED ||
	    resp_entry(c, index) != (1u << 4 | RESP_LINUX_DENY) ||
	    st != ST_OK || buffer_compare(c, c->rw, 256) >= 0) {
		snprintf(detail, len, "after overflow: new request index %u "
			 "outcome %d (want 0 queued) response 0x%x, DMA status "
			 "%u", index, out, resp_entry(c, index), st);
		return false;
	}
	snprintf(detail, len, "after the driver acknowledged the overflow, "
		 "index %u was queued and answered (deny) normally and DMA "
		 "works", index);
	return true;
}

/* 6. PRI queue overflow */
void check_pri_overflow(struct ctx *c)
{
	const unsigned int start = 100;
	char d1[600], d2[300];
	int kfd;
	uint32_t st;

	if (ats_unsupported(c, "pri-overflow"))
		return;
	if (c->groups <= c->priq_entries / 2 || c->groups > 300) {
		result("pri-overflow", true, "FAIL", "--groups %u must exceed "
		       "half the PRI queue (%u entries)", c->groups,
		       c->priq_entries);
		return;
	}
	force_pri(c);
	cmd(c, CMD_CLEAR_RESULTS);
	kfd = kmsg_open();
	wr64(c, REG_IOVA, IOVA_RW);
	wr32(c, REG_LEN, c->groups);
	wr32(c, REG_FLAGS, FLAG_PASID);
	wr32(c, REG_PASID, 2);
	wr32(c, REG_PRI, start | PRI_READ | PRI_LAST | PRI_BURST_GROUPS |
	     PRI_BURST_STOP);
	st = cmd(c, CMD_PAGE_REQUEST_BURST);
	if (st != ST_OK)
		result("pri-overflow", true, "FAIL",
		       "burst command: status %u", st);
	else if (!overflow_outcomes(c, start, kfd, d1, sizeof(d1)))
		result("pri-overflow", true, "FAIL", "%s", d1);
	else if (!overflow_recovered(c, start + c->groups + 1, d2,
				     sizeof(d2)))
		result("pri-overflow", true, "FAIL", "%s", d2);
	else
		result("pri-overflow", true, "PASS", "%s; %s", d1, d2);
	if (kfd >= 0)
		close(kfd);
}
