/*
 * Check 'teardown' (docs/sva.md, scenario 6): the device copies from a
 * process's memory without pause while that process unmaps it (Linux
 * clears the PTEs, issues the mm notifier's TLBI and CMD_SYNC, then frees
 * the page-table pages) and then, copying from memory that stays mapped,
 * while the process exits (mm release rewrites the live CD into a quiet
 * one, a hitless update, while the device's transactions run in QEMU's
 * device thread). Every transfer delivers exactly the process's bytes or
 * faults; one started after munmap() returned faults; once the process
 * is gone every transfer faults and no event is recorded; nothing hangs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "report.h"
#include "sva.h"
#include "util.h"

#define NAME "teardown"
#define PMD_SPAN	(2ul << 20)
#define REGION		(2 * PMD_SPAN)	/* two whole last-level tables */
#define CHUNK		0x10000ul	/* one transfer */

/* The byte at @off of the region (@live: of the region that stays) */
static unsigned char expected(unsigned long off, int live)
{
	return (unsigned char)((live ? 0x10 : 0x40) + (off / PAGE) % 191);
}

/*
 * The child: binds the parent's file to its mm, fills the region and the
 * live chunk, faults the shared destination in, reports both addresses;
 * on the first go unmaps the region and says so, on end of file exits
 */
static void teardown_child(int fd, unsigned char *dst, int go_fd,
			   int report_fd)
{
	unsigned char *raw = map_anon(REGION + PMD_SPAN, PROT_READ | PROT_WRITE);
	unsigned char *live = map_anon(CHUNK, PROT_READ | PROT_WRITE);
	unsigned char *region;
	uint32_t pasid;
	uint64_t msg[3];
	char c;

	if (!raw || !live || sva_bind(fd, &pasid) < 0)
		_exit(2);
	region = (unsigned char *)(((uintptr_t)raw + PMD_SPAN - 1) &
				   ~(PMD_SPAN - 1));
	/* small pages: last-level tables, not one huge page, to free */
	madvise(region, REGION, MADV_NOHUGEPAGE);
	for (unsigned long off = 0; off < REGION; off += PAGE)
		memset(region + off, expected(off, 0), PAGE);
	for (unsigned long off = 0; off < CHUNK; off += PAGE)
		memset(live + off, expected(off, 1), PAGE);
	memset(dst, 0, CHUNK);	/* resident here too: only sources fault */
	msg[0] = (uintptr_t)region;
	msg[1] = (uintptr_t)live;
	msg[2] = pasid;
	if (write(report_fd, msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
	if (read(go_fd, &c, 1) != 1)
		_exit(4);
	if (munmap(region, REGION) < 0)
		_exit(5);
	if (write(report_fd, "u", 1) != 1)
		_exit(6);
	while (read(go_fd, &c, 1) > 0)
		;
	_exit(0);
}

/* Whether the child said it has unmapped the region */
static int unmapped(int report_fd)
{
	struct pollfd p = { .fd = report_fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 0) == 1 && read(report_fd, &c, 1) == 1 && c == 'u';
}

void check_teardown(void)
{
	int fd, go[2] = { -1, -1 }, report[2] = { -1, -1 }, status = 0;
	unsigned int ok = 0, after_unmap = 0, live_ok = 0, live_fault = 0;
	unsigned int after_exit = 0;
	/*
	 * The device writes through the child's page tables: shared pages,
	 * so that the parent sees what reached the child's memory
	 */
	unsigned char *dst = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int gone = 0, use_live = 0, exiting = 0;
	long irqs_reaped = -1;
	uint64_t msg[3];
	pid_t pid = -1;

	fd = sva_open();
	if (fd < 0 || dst == MAP_FAILED || pipe2(go, O_CLOEXEC) < 0 ||
	    pipe2(report, O_CLOEXEC) < 0) {
		check(NAME, "FAIL", "setup: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(report[0]);
		teardown_child(fd, dst, go[0], report[1]);
	}
	close(go[0]);
	close(report[1]);
	go[0] = report[1] = -1;
	if (pid < 0 || read(report[0], msg, sizeof(msg)) != sizeof(msg)) {
		check(NAME, "FAIL", "the child did not bind");
		goto out;
	}
	for (unsigned int i = 0; i < 20000 && after_exit < 50; i++) {
		int live = use_live;
		unsigned long off = live ? 0 : (i * CHUNK) % REGION;
		int stale_if_ok = gone && !live;
		uint32_t st = VSMMU_SVA_DMA_FAULT, done = 0;
		long bad;

		if (i == 8 && write(go[1], "g", 1) != 1)
			break;
		memset(dst, 0, CHUNK);
		if (sva_dma(fd, VSMMU_SVA_OP_COPY,
			    (void *)(uintptr_t)(msg[live] + off), dst, CHUNK, 0,
			    &st, &done) < 0) {
			check(NAME, "FAIL", "transfer %u: %s", i, strerror(errno));
			goto out;
		}
		if (st == VSMMU_SVA_DMA_TIMEOUT) {
			check(NAME, "FAIL", "transfer %u hung", i);
			goto out;
		}
		if (st == VSMMU_SVA_DMA_OK)
			done = CHUNK;
		for (bad = 0; bad < (long)done; bad++)
			if (dst[bad] != expected(off + bad, live))
				break;
		if (bad < (long)done) {
			check(NAME, "FAIL", "transfer %u (%s, %u bytes): byte %ld "
			      "is 0x%02x, the process had 0x%02x there", i,
			      sva_status_name(st), done, bad, dst[bad],
			      expected(off + bad, live));
			goto out;
		}
		if (st == VSMMU_SVA_DMA_OK && stale_if_ok) {
			check(NAME, "FAIL", "transfer %u started after munmap() "
			      "returned and still read the unmapped memory: a "
			      "stale translation after the CMD_SYNC", i);
			goto out;
		}
		if (live && !exiting && st != VSMMU_SVA_DMA_OK) {
			check(NAME, "FAIL", "transfer %u from the live chunk "
			      "faulted while the process was alive", i);
			goto out;
		}
		if (st == VSMMU_SVA_DMA_OK && (live_fault || irqs_reaped >= 0)) {
			check(NAME, "FAIL", "transfer %u read the exiting process's "
			      "memory after %s: the quiet CD or its invalidation "
			      "was not used", i, irqs_reaped >= 0 ?
			      "the process was gone" : "an earlier one faulted");
			goto out;
		}
		if (!live) {
			ok += st == VSMMU_SVA_DMA_OK;
			after_unmap += stale_if_ok;
		} else {
			live_ok += st == VSMMU_SVA_DMA_OK;
			live_fault += st != VSMMU_SVA_DMA_OK;
		}
		after_exit += irqs_reaped >= 0;
		if (!gone)
			gone = unmapped(report[0]);
		use_live |= gone && after_unmap >= 20;
		if (use_live && !exiting && live_ok >= 5) {
			/* mm release while the device copies live memory */
			close(go[1]);
			go[1] = -1;
			exiting = 1;
		}
		if (exiting && irqs_reaped < 0 &&
		    waitpid(pid, &status, WNOHANG) == pid) {
			pid = -1;
			irqs_reaped = evtq_interrupts();
		}
	}
	if (irqs_reaped < 0 || after_exit < 50) {
		check(NAME, "FAIL", "the child never %s (%u ok, %u after munmap)",
		      exiting ? "ended" : "unmapped", ok, after_unmap);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		check(NAME, "FAIL", "the child failed (status 0x%x)", status);
		goto out;
	}
	if (evtq_interrupts() != irqs_reaped) {
		check(NAME, "FAIL", "faults after the process was gone recorded "
		      "events (event-queue interrupts %ld -> %ld): not the quiet "
		      "CD of mm release", irqs_reaped, evtq_interrupts());
		goto out;
	}
	check(NAME, "PASS", "PASID %u: %u transfers of 64 KiB ok, every byte "
	      "the process's; all %u started after munmap() of 4 MiB returned "
	      "faulted (no stale leaf translation); then from memory still "
	      "mapped: %u ok (5 before its exit began), then faults (%u), the "
	      "last %u after it was reaped with no event recorded; nothing "
	      "hung", (uint32_t)msg[2], ok, after_unmap, live_ok, live_fault,
	      after_exit);
out:
	close_pipe(go);
	close_pipe(report);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (fd >= 0)
		close(fd);
	if (dst != MAP_FAILED)
		munmap(dst, CHUNK);
}
