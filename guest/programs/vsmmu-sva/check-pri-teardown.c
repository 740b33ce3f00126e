/*
 * Check 'pri-teardown' (docs/sva.md, scenario 5): a PASID of the PCIe
 * test endpoint torn down while its page requests are outstanding, then
 * reused by another process. Linux 6.12 has no PRI-based I/O page faults
 * for SMMUv3: its PRI queue thread logs each entry as "unexpected PRI
 * request" and answers every L=1 entry (a stop marker too) with
 * PRI_RESP_DENY, whatever the PASID's state. The check shows what the
 * model does architecturally (every request and the stop marker reach
 * the PRI queue with the old PASID; a group without its last request is
 * never answered) and what the new owner of the PASID gets: its own
 * translations, none of the old owner's, and none of its faults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "kmsg.h"
#include "report.h"
#include "sva.h"
#include "testdev.h"
#include "util.h"

#define NAME "pri-teardown"
#define GROUP_DONE	30	/* L=0 and L=1 before the unbind */
#define GROUP_OPEN	31	/* L=0 only: its group never completes */
#define STOP_INDEX	32	/* the stop marker */
#define MAX_HOLDERS	256	/* bound processes waiting for A's PASID */

/* What an owner child reports once bound */
struct owner_report {
	uint64_t va;		/* 2 pages: the first resident, the second not */
	uint64_t pa;		/* of the first page */
	uint32_t pasid;
	uint32_t pad;
};

/* What it reports when told to end */
struct owner_end {
	uint32_t first_byte;	/* of the first page */
	uint32_t pad;
};

struct owner {
	pid_t pid;
	int go;			/* write end: EOF tells the child to end */
	int report;		/* read end */
	int page;		/* its first page, a memfd the parent keeps */
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * An owner: binds the file @fd (opened by the parent) to its own mm, maps
 * the parent's one-page memfd @page_fd as the first of two pages (so that
 * its physical page outlives the owner and no later owner can get it),
 * fills it with @byte, reports, then on the parent's EOF reports what its
 * memory holds and exits
 */
static void owner_main(int fd, int page_fd, unsigned char byte, int go_fd,
		       int report_fd)
{
	const int keep[] = { fd, page_fd, go_fd, report_fd };
	unsigned char *p;
	struct owner_report r = { 0 };
	struct owner_end e;
	char c;

	close_other_fds(keep, 4);
	p = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	if (!p || mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       page_fd, 0) == MAP_FAILED || sva_bind(fd, &r.pasid) < 0)
		_exit(2);
	memset(p, byte, PAGE);
	r.va = (uintptr_t)p;
	r.pa = physical_address(p);
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	while (read(go_fd, &c, 1) > 0)
		;
	e.first_byte = p[0];
	e.pad = 0;
	if (write(report_fd, &e, sizeof(e)) != sizeof(e))
		_exit(4);
	_exit(0);
}

static int owner_start(struct owner *o, int fd, unsigned char byte,
		       struct owner_report *r)
{
	int go[2], rep[2];

	o->page = memfd_create("vsmmu-sva-owner", MFD_CLOEXEC);
	if (o->page < 0 || ftruncate(o->page, PAGE) < 0)
		goto fail_page;
	if (pipe2(go, O_CLOEXEC) < 0)
		goto fail_page;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		goto fail_page;
	}
	o->pid = fork();
	if (o->pid == 0)
		owner_main(fd, o->page, byte, go[0], rep[1]);
	close(go[0]);
	close(rep[1]);
	o->go = go[1];
	o->report = rep[0];
	if (o->pid < 0 || read(o->report, r, sizeof(*r)) != sizeof(*r)) {
		close(o->go);
		close(o->report);
		if (o->pid > 0)
			waitpid(o->pid, NULL, 0);
		o->pid = -1;
		goto fail_page;
	}
	return 0;
fail_page:
	if (o->page >= 0)
		close(o->page);
	o->page = -1;
	o->pid = -1;
	return -1;
}

/* Ends the owner: what its memory held, -1 if it did not say */
static int owner_end(struct owner *o, struct owner_end *e)
{
	int ok;

	if (o->pid <= 0)
		return -1;
	close(o->go);
	ok = read(o->report, e, sizeof(*e)) == sizeof(*e);
	close(o->report);
	waitpid(o->pid, NULL, 0);
	o->pid = -1;
	return ok ? 0 : -1;
}

/* Ends the owner and gives its page back */
static void owner_release(struct owner *o)
{
	struct owner_end e;

	owner_end(o, &e);
	if (o->page >= 0)
		close(o->page);
	o->page = -1;
}

/* Waits up to 2 s for PRG @index to have @count responses */
static unsigned int wait_response(volatile uint32_t *bar, unsigned int index,
				  unsigned int count)
{
	unsigned int r = 0;

	for (int i = 0; i < 400; i++) {
		r = testdev_response(bar, index);
		if ((r >> RESP_TABLE_COUNT_SHIFT) >= count)
			break;
		sleep_ms(5);
	}
	return r;
}

static int request(volatile uint32_t *bar, uint32_t code, uint64_t va,
		   unsigned int index, uint32_t bits, uint32_t pasid,
		   const char *what)
{
	uint32_t st = testdev_page_request(bar, code, va, index, bits, pasid);
	uint32_t outcome = testdev_rd32(bar, REG_PR_OUTCOME);

	if (st != ST_OK || outcome != PR_ACCEPTED) {
		check(NAME, "FAIL", "%s (PASID %u, index %u): status %u, "
		      "outcome %u; expected queued in the PRI queue", what,
		      pasid, index, st, outcome);
		return -1;
	}
	return 0;
}

void check_pri_teardown(void)
{
	struct owner a = { .pid = -1, .page = -1 }, b = { .pid = -1, .page = -1 };
	struct owner holders[MAX_HOLDERS];
	int holder_fds[MAX_HOLDERS], nholders = 0;
	struct owner_report ra, rb;
	struct owner_end eb;
	int fd_a = -1, fd_b = -1, tries, logged;
	uint32_t ctrl = 0, st, info, inv_before, inv_pasid, done;
	volatile uint32_t *bar = NULL;
	unsigned int r_done, r_open, r_stop;
	uint64_t tr;
	long seq;
	char needle[64];

	fd_a = open(SVA_PCI_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd_a < 0) {
		check(NAME, errno == ENOENT ? "UNSUPPORTED" : "FAIL",
		      "%s: %s (the PCIe test endpoint with PASID, boot-guest "
		      "--testdev)", SVA_PCI_DEVICE, strerror(errno));
		return;
	}
	bar = testdev_map(fd_a);
	if (!bar) {
		check(NAME, "FAIL", "mmap of BAR0: %s", strerror(errno));
		goto out;
	}
	seq = kmsg_last_seq();
	testdev_wr32(bar, REG_COMMAND, CMD_CLEAR_RESULTS);
	testdev_wr32(bar, REG_COMMAND, CMD_ATC_CLEAR);
	/* Linux never enables PRI for SMMUv3: the test-only switch does */
	ctrl = testdev_rd32(bar, REG_CTRL);
	testdev_wr32(bar, REG_CTRL, ctrl | CTRL_FORCE_PRI);

	/* owner A: its page through PASID p, by ATS */
	if (owner_start(&a, fd_a, 0xa1, &ra) < 0) {
		check(NAME, "FAIL", "the first owner did not bind");
		goto out;
	}
	st = testdev_translate(bar, ra.va, ra.pasid, &tr, &info);
	if (st == ST_DISABLED) {
		check(NAME, "FAIL", "Linux did not enable ATS on the endpoint");
		goto out;
	}
	if (st != ST_OK || (tr & ~0xfffull) != (ra.pa & ~0xfffull)) {
		check(NAME, "FAIL", "ATS for owner A's page (PASID %u): status "
		      "%u, address 0x%llx info 0x%x, expected 0x%llx", ra.pasid,
		      st, (unsigned long long)tr, info,
		      (unsigned long long)ra.pa);
		goto out;
	}

	/*
	 * Page requests for A's second page, then the stop marker, and the
	 * unbind at once: Linux's PRI thread may not have drained them yet
	 */
	if (request(bar, CMD_PAGE_REQUEST, ra.va + PAGE, GROUP_DONE,
		    PRI_READ, ra.pasid, "L=0 request") < 0 ||
	    request(bar, CMD_PAGE_REQUEST, ra.va + PAGE, GROUP_DONE,
		    PRI_READ | PRI_LAST, ra.pasid, "L=1 request") < 0 ||
	    request(bar, CMD_PAGE_REQUEST, ra.va + PAGE, GROUP_OPEN,
		    PRI_READ | PRI_WRITE, ra.pasid, "L=0 request") < 0 ||
	    request(bar, CMD_STOP_MARKER, 0, STOP_INDEX, 0, ra.pasid,
		    "stop marker") < 0)
		goto out;
	inv_before = testdev_rd32(bar, REG_INV_COUNT);
	if (sva_unbind(fd_a) < 0) {
		check(NAME, "FAIL", "unbind: %s", strerror(errno));
		goto out;
	}
	/* the unbind's ATC_INV for the PASID came before its SYNC ended */
	inv_pasid = testdev_rd32(bar, REG_INV_PASID);
	if (testdev_rd32(bar, REG_INV_COUNT) == inv_before ||
	    inv_pasid != (0x80000000u | ra.pasid) ||
	    testdev_rd32(bar, REG_ATC_ENTRIES)) {
		check(NAME, "FAIL", "after the unbind: %u ATC invalidations "
		      "(had %u), last PASID field 0x%x, %u ATC entries; "
		      "expected an invalidation for PASID %u and an empty ATC",
		      testdev_rd32(bar, REG_INV_COUNT), inv_before, inv_pasid,
		      testdev_rd32(bar, REG_ATC_ENTRIES), ra.pasid);
		goto out;
	}
	r_done = wait_response(bar, GROUP_DONE, 1);
	r_stop = wait_response(bar, STOP_INDEX, 1);
	if (owner_end(&a, &eb) < 0) {
		check(NAME, "FAIL", "owner A did not end cleanly");
		goto out;
	}

	/*
	 * Owner B: A's PASID, once A's mm is gone (Linux frees the PASID
	 * then, after an SRCU grace period). Processes that get another
	 * PASID (one freed late by an earlier check) stay bound, so the
	 * allocator must come to p.
	 */
	for (tries = 0; tries < MAX_HOLDERS; tries++) {
		fd_b = open(SVA_PCI_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd_b < 0 || owner_start(&b, fd_b, 0xb2, &rb) < 0) {
			check(NAME, "FAIL", "the second owner did not bind: %s",
			      strerror(errno));
			goto out;
		}
		if (rb.pasid == ra.pasid)
			break;
		holders[nholders] = b;
		holder_fds[nholders++] = fd_b;
		b.pid = -1;
		b.page = -1;
		fd_b = -1;
		sleep_ms(50);
	}
	if (rb.pasid != ra.pasid) {
		check(NAME, "FAIL", "PASID %u was not given to a new process "
		      "(%d processes got others)", ra.pasid, nholders);
		goto out;
	}
	/* B's translation, never A's: the ATC and TLBs forgot A's */
	if (!ra.pa || !rb.pa || (rb.pa & ~0xfffull) == (ra.pa & ~0xfffull)) {
		check(NAME, "FAIL", "setup: the owners' pages 0x%llx and 0x%llx "
		      "must differ (A's memfd page is still held)",
		      (unsigned long long)ra.pa, (unsigned long long)rb.pa);
		goto out;
	}
	st = testdev_translate(bar, rb.va, rb.pasid, &tr, &info);
	if (st != ST_OK || (tr & ~0xfffull) != (rb.pa & ~0xfffull)) {
		check(NAME, "FAIL", "ATS for owner B's page (PASID %u, VA "
		      "0x%llx; A's was 0x%llx): status %u, address 0x%llx, "
		      "expected B's 0x%llx (A's was 0x%llx)", rb.pasid,
		      (unsigned long long)rb.va, (unsigned long long)ra.va, st,
		      (unsigned long long)tr, (unsigned long long)rb.pa,
		      (unsigned long long)ra.pa);
		goto out;
	}
	if (sva_dma(fd_b, VSMMU_SVA_OP_FILL, NULL, (void *)(uintptr_t)rb.va,
		    64, 0xc3, &st, &done) < 0 || st != VSMMU_SVA_DMA_OK) {
		check(NAME, "FAIL", "DMA with the reused PASID: %s",
		      st == VSMMU_SVA_DMA_OK ? strerror(errno) :
		      sva_status_name(st));
		goto out;
	}
	r_open = testdev_response(bar, GROUP_OPEN);
	if (owner_end(&b, &eb) < 0) {
		check(NAME, "FAIL", "owner B did not end cleanly");
		goto out;
	}
	if (eb.first_byte != 0xc3) {
		check(NAME, "FAIL", "owner B's memory: first byte 0x%02x, "
		      "expected the DMA's 0xc3", eb.first_byte);
		goto out;
	}

	/* what Linux 6.12 did with the PRI queue's entries */
	if ((r_done >> RESP_TABLE_COUNT_SHIFT) != 1 ||
	    (r_done & RESP_TABLE_CODE_MASK) != RESP_FAILURE ||
	    (r_stop >> RESP_TABLE_COUNT_SHIFT) != 1 ||
	    (r_stop & RESP_TABLE_CODE_MASK) != RESP_FAILURE || r_open) {
		check(NAME, "FAIL", "responses: group %u 0x%02x, stop marker "
		      "%u 0x%02x, open group %u 0x%02x; expected one Response "
		      "Failure (Linux's deny) each for the completed group and "
		      "the stop marker and none for the open group",
		      GROUP_DONE, r_done, STOP_INDEX, r_stop, GROUP_OPEN,
		      r_open);
		goto out;
	}
	snprintf(needle, sizeof(needle), ".0x%05x: [", ra.pasid);
	logged = kmsg_count(seq, needle);
	if (logged != 4) {
		check(NAME, "FAIL", "the kernel logged %d PRI queue entries with "
		      "PASID %u (\"%s\"), expected 4 (3 requests and the stop "
		      "marker)", logged, ra.pasid, needle);
		goto out;
	}
	check(NAME, "PASS", "PASID %u: 3 page requests and a stop marker "
	      "queued, unbound at once (ATC invalidated for the PASID before "
	      "the unbind returned); Linux logged all 4 entries and denied "
	      "the completed group and the stop marker, the open group got "
	      "no response; reused by another process (%d bound before it "
	      "took other PASIDs): its own translation 0x%llx (not A's "
	      "0x%llx, still allocated), DMA into its memory", ra.pasid,
	      nholders, (unsigned long long)rb.pa,
	      (unsigned long long)ra.pa);
out:
	owner_release(&a);
	owner_release(&b);
	for (int i = 0; i < nholders; i++) {
		owner_release(&holders[i]);
		close(holder_fds[i]);
	}
	if (bar) {
		testdev_wr32(bar, REG_CTRL, ctrl);
		munmap((void *)bar, TESTDEV_BAR_SIZE);
	}
	if (fd_b >= 0)
		close(fd_b);
	close(fd_a);
}
