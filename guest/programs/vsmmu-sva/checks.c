/*
 * The SVA scenarios: the endpoint DMAs between the process's own virtual
 * addresses through its PASID, with nothing pinned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "kmsg.h"
#include "report.h"
#include "sva.h"
#include "util.h"

struct bound {
	int fd;
	uint32_t pasid;
};

/* Opens and binds; on failure prints the check's FAIL line */
static int bind_self(const char *name, struct bound *b)
{
	b->fd = sva_open();
	if (b->fd < 0) {
		check(name, "FAIL", "open %s: %s", SVA_DEVICE, strerror(errno));
		return -1;
	}
	if (sva_bind(b->fd, &b->pasid) < 0) {
		check(name, "FAIL", "bind: %s", strerror(errno));
		close(b->fd);
		return -1;
	}
	return 0;
}

/*
 * A fresh shared mapping of a memfd whose @len bytes are @byte, written
 * with write(): the pages exist, this process has no entries for them
 */
static unsigned char *map_file_data(size_t len, unsigned char byte)
{
	unsigned char buf[PAGE];
	unsigned char *p;
	size_t done;
	int fd = memfd_create("vsmmu-sva", MFD_CLOEXEC);

	if (fd < 0)
		return NULL;
	memset(buf, byte, sizeof(buf));
	for (done = 0; done < len; done += PAGE) {
		if (write(fd, buf, PAGE) != PAGE) {
			close(fd);
			return NULL;
		}
	}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* One transfer that must end with @want; else FAIL naming @what */
static int dma_expect(const char *name, const char *what, int fd, uint32_t op,
		      const void *src, void *dst, size_t len, uint8_t pattern,
		      uint32_t want)
{
	uint32_t st, done;

	if (sva_dma(fd, op, src, dst, len, pattern, &st, &done) < 0) {
		check(name, "FAIL", "%s: the driver refused the DMA: %s", what,
		      strerror(errno));
		return -1;
	}
	if (st != want) {
		check(name, "FAIL", "%s: DMA ended %s (%u bytes written), "
		      "expected %s", what, sva_status_name(st), done,
		      sva_status_name(want));
		return -1;
	}
	return 0;
}

void check_bind_dma(void)
{
	const char *name = "bind-dma";
	const size_t len = 16 * PAGE;
	unsigned char *src, *dst;
	struct bound b;
	long bad;
	size_t i;

	if (bind_self(name, &b) < 0)
		return;
	src = map_anon(len, PROT_READ | PROT_WRITE);
	dst = map_anon(len, PROT_READ | PROT_WRITE);
	if (!src || !dst) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < len; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	memset(dst, 0, len);
	/* the device reads what the CPU wrote and writes where it reads */
	if (dma_expect(name, "copy", b.fd, VSMMU_SVA_OP_COPY, src, dst, len,
		       0, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	if (memcmp(src, dst, len)) {
		for (i = 0; i < len && src[i] == dst[i]; i++)
			;
		check(name, "FAIL", "copy: byte %zu is 0x%02x, wrote 0x%02x",
		      i, dst[i], src[i]);
		goto out;
	}
	/* a fill across a page boundary, the bytes around it untouched */
	if (dma_expect(name, "fill", b.fd, VSMMU_SVA_OP_FILL, NULL,
		       dst + PAGE - 100, 200, 0x5a, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	bad = first_not(dst + PAGE - 100, 200, 0x5a);
	if (bad >= 0 || dst[PAGE - 101] != src[PAGE - 101] ||
	    dst[PAGE + 100] != src[PAGE + 100]) {
		check(name, "FAIL", "fill: wrong bytes around offset %d",
		      PAGE - 100);
		goto out;
	}
	check(name, "PASS", "PASID %u: %zu KiB copied and 200 bytes filled "
	      "across a page boundary, through the process's page tables",
	      b.pasid, len / 1024);
out:
	close(b.fd);
}

void check_iopf(void)
{
	const char *name = "iopf";
	const size_t len = 16 * PAGE;
	unsigned char *dst, *src, *dst2;
	long irqs_before, irqs_after;
	int resident;
	struct bound b;
	long bad;

	if (bind_self(name, &b) < 0)
		return;
	dst = map_anon(len, PROT_READ | PROT_WRITE);
	src = map_anon(len, PROT_READ | PROT_WRITE);
	dst2 = map_anon(len, PROT_READ | PROT_WRITE);
	if (!dst || !src || !dst2) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out;
	}
	resident = resident_pages(dst, len);
	if (resident != 0) {
		check(name, "FAIL", "%d pages of the fresh mapping are already "
		      "resident", resident);
		goto out;
	}
	irqs_before = evtq_interrupts();
	if (irqs_before < 0) {
		check(name, "FAIL", "no arm-smmu-v3-evtq line in /proc/interrupts");
		goto out;
	}
	/* each page's first access faults: stalled, then resumed */
	if (dma_expect(name, "fill untouched pages", b.fd, VSMMU_SVA_OP_FILL,
		       NULL, dst, len, 0xc3, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	irqs_after = evtq_interrupts();
	bad = first_not(dst, len, 0xc3);
	if (bad >= 0) {
		check(name, "FAIL", "byte %ld is 0x%02x after the fill", bad,
		      dst[bad]);
		goto out;
	}
	if (irqs_after <= irqs_before) {
		check(name, "FAIL", "the DMA completed without a stall event "
		      "(event-queue interrupts %ld -> %ld)", irqs_before,
		      irqs_after);
		goto out;
	}
	/*
	 * reads fault too: a file's pages with data, mapped but not yet
	 * touched by this process, so the device must really read them
	 */
	munmap(src, len);
	src = map_file_data(len, 0x3c);
	if (!src) {
		check(name, "FAIL", "memfd: %s", strerror(errno));
		goto out;
	}
	memset(dst2, 0xff, len);
	if (dma_expect(name, "copy from untouched file pages", b.fd,
		       VSMMU_SVA_OP_COPY, src, dst2, len, 0,
		       VSMMU_SVA_DMA_OK) < 0)
		goto out;
	bad = first_not(dst2, len, 0x3c);
	if (bad >= 0) {
		check(name, "FAIL", "byte %ld copied from an untouched page is "
		      "0x%02x", bad, dst2[bad]);
		goto out;
	}
	check(name, "PASS", "PASID %u: %zu untouched pages written and %zu "
	      "read by the device, each fault stalled and resumed by Linux's "
	      "I/O page fault handler (event-queue interrupts %ld -> %ld)",
	      b.pasid, len / PAGE, len / PAGE, irqs_before, irqs_after);
out:
	close(b.fd);
}

void check_iopf_abort(void)
{
	const char *name = "iopf-abort";
	unsigned char *none, *gone, *ok;
	long irqs_before, irqs_after;
	uint32_t st = 0, done = 0;
	struct bound b;

	if (bind_self(name, &b) < 0)
		return;
	none = map_anon(2 * PAGE, PROT_NONE);
	gone = map_anon(PAGE, PROT_READ | PROT_WRITE);
	ok = map_anon(PAGE, PROT_READ | PROT_WRITE);
	if (!none || !gone || !ok || munmap(gone, PAGE) < 0) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out;
	}
	/*
	 * Linux cannot resolve these: each stalls (an event), then
	 * CMD_RESUME aborts it and the device sees it, nothing written
	 */
	irqs_before = evtq_interrupts();
	if (sva_dma(b.fd, VSMMU_SVA_OP_FILL, NULL, none, 2 * PAGE, 1, &st,
		    &done) < 0 || st != VSMMU_SVA_DMA_FAULT || done) {
		check(name, "FAIL", "fill of a PROT_NONE mapping: %s, %u bytes "
		      "written", sva_status_name(st), done);
		goto out;
	}
	irqs_after = evtq_interrupts();
	if (irqs_before < 0 || irqs_after <= irqs_before) {
		check(name, "FAIL", "the fault was aborted without a stall event "
		      "(event-queue interrupts %ld -> %ld)", irqs_before,
		      irqs_after);
		goto out;
	}
	if (dma_expect(name, "fill of an unmapped page", b.fd,
		       VSMMU_SVA_OP_FILL, NULL, gone, 64, 2,
		       VSMMU_SVA_DMA_FAULT) < 0)
		goto out;
	if (dma_expect(name, "copy from a PROT_NONE mapping", b.fd,
		       VSMMU_SVA_OP_COPY, none, ok, 64, 0,
		       VSMMU_SVA_DMA_FAULT) < 0)
		goto out;
	/* and nothing is left held: the next transfer runs */
	if (dma_expect(name, "fill after the aborts", b.fd, VSMMU_SVA_OP_FILL,
		       NULL, ok, PAGE, 3, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	if (first_not(ok, PAGE, 3) >= 0) {
		check(name, "FAIL", "the fill after the aborts left wrong bytes");
		goto out;
	}
	check(name, "PASS", "PASID %u: faults Linux cannot resolve (PROT_NONE, "
	      "unmapped) stall (event-queue interrupts %ld -> %ld), then end "
	      "the DMA with an abort the device sees, nothing written; the "
	      "next DMA runs", b.pasid, irqs_before, irqs_after);
out:
	close(b.fd);
}

void check_munmap(void)
{
	const char *name = "munmap";
	unsigned char *buf, *other;
	struct bound b;

	if (bind_self(name, &b) < 0)
		return;
	buf = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	other = map_anon(PAGE, PROT_READ | PROT_WRITE);
	if (!buf || !other) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out;
	}
	memset(buf, 0, 2 * PAGE);
	/* the device caches both pages' translations */
	if (dma_expect(name, "first fill", b.fd, VSMMU_SVA_OP_FILL, NULL, buf,
		       2 * PAGE, 0x11, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	/* read-only now: the mm's invalidation must reach the SMMU */
	if (mprotect(buf, PAGE, PROT_READ) < 0) {
		check(name, "FAIL", "mprotect: %s", strerror(errno));
		goto out;
	}
	if (dma_expect(name, "fill after mprotect(PROT_READ)", b.fd,
		       VSMMU_SVA_OP_FILL, NULL, buf, 64, 0x22,
		       VSMMU_SVA_DMA_FAULT) < 0)
		goto out;
	if (buf[0] != 0x11) {
		check(name, "FAIL", "a read-only page was written: 0x%02x",
		      buf[0]);
		goto out;
	}
	memset(other, 0, PAGE);
	if (dma_expect(name, "copy from the read-only page", b.fd,
		       VSMMU_SVA_OP_COPY, buf, other, 64, 0,
		       VSMMU_SVA_DMA_OK) < 0)
		goto out;
	if (first_not(other, 64, 0x11) >= 0) {
		check(name, "FAIL", "the copy from the read-only page read "
		      "0x%02x, not 0x11", other[first_not(other, 64, 0x11)]);
		goto out;
	}
	if (munmap(buf + PAGE, PAGE) < 0) {
		check(name, "FAIL", "munmap: %s", strerror(errno));
		goto out;
	}
	if (dma_expect(name, "fill after munmap", b.fd, VSMMU_SVA_OP_FILL,
		       NULL, buf + PAGE, 64, 0x33, VSMMU_SVA_DMA_FAULT) < 0)
		goto out;
	check(name, "PASS", "PASID %u: after mprotect and munmap the device's "
	      "cached translations are gone (writes fault, reads still work)",
	      b.pasid);
out:
	close(b.fd);
}

/*
 * A child of check_exit: binds through the shared file, fills its page,
 * reports the address, waits for the go and exits with the binding still
 * held by the parent's copy of the file.
 */
static void exit_child(int fd, int report_fd, int go_fd)
{
	unsigned char *page = map_anon(PAGE, PROT_READ | PROT_WRITE);
	uint64_t msg[2];
	uint32_t pasid;
	char c;

	if (!page || sva_bind(fd, &pasid) < 0)
		_exit(2);
	memset(page, 0x77, PAGE);
	msg[0] = (uintptr_t)page;
	msg[1] = pasid;
	if (write(report_fd, msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
	/* the go, or end of file if the parent gave up */
	if (read(go_fd, &c, 1) < 0)
		_exit(4);
	_exit(0);
}

void check_exit(void)
{
	const char *name = "exit";
	int report[2] = { -1, -1 }, go[2] = { -1, -1 }, status, shared = -1;
	long irqs_before, irqs_after, kmsg_before, kmsg_after;
	unsigned ok = 0, faulted = 0, other_ok = 0;
	unsigned char *mine = NULL;
	struct bound me = { .fd = -1 };
	uint32_t st, done;
	uint64_t msg[2];
	pid_t pid = -1;

	if (bind_self(name, &me) < 0)
		return;
	mine = map_anon(PAGE, PROT_READ | PROT_WRITE);
	shared = sva_open();
	if (!mine || shared < 0 || pipe(report) < 0 || pipe(go) < 0) {
		check(name, "FAIL", "setup: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);	/* so that the parent's close is an EOF */
		close(report[0]);
		exit_child(shared, report[1], go[0]);
	}
	close(report[1]);
	report[1] = -1;
	close(go[0]);
	go[0] = -1;
	/* resident: its DMA must not fault (a fault is an event) */
	memset(mine, 0, PAGE);
	if (pid < 0 || read(report[0], msg, sizeof(msg)) != sizeof(msg)) {
		check(name, "FAIL", "the child did not bind");
		goto out;
	}
	/* the child's PASID works from here, for the child's memory */
	if (dma_expect(name, "fill of the child's page", shared,
		       VSMMU_SVA_OP_FILL, NULL, (void *)(uintptr_t)msg[0], 64,
		       0x78, VSMMU_SVA_DMA_OK) < 0)
		goto out;
	irqs_before = evtq_interrupts();
	kmsg_before = kmsg_last_seq();
	/* the child exits while its PASID keeps DMAing */
	if (write(go[1], "g", 1) != 1) {
		check(name, "FAIL", "go: %s", strerror(errno));
		goto out;
	}
	close(go[1]);
	go[1] = -1;
	for (int i = 0; i < 20000 && faulted < 50; i++) {
		if (sva_dma(shared, VSMMU_SVA_OP_FILL, NULL,
			    (void *)(uintptr_t)msg[0], 64, 0x79, &st,
			    &done) < 0 || st == VSMMU_SVA_DMA_TIMEOUT) {
			check(name, "FAIL", "DMA to the exiting process's PASID "
			      "%s", st == VSMMU_SVA_DMA_TIMEOUT ? "hung "
			      "(a stall nobody answers)" : strerror(errno));
			goto out;
		}
		if (st == VSMMU_SVA_DMA_OK)
			ok++;
		else
			faulted++;
		/* another process's PASID on the same device keeps working */
		if (sva_dma(me.fd, VSMMU_SVA_OP_FILL, NULL, mine, 64, i & 0xff,
			    &st, &done) == 0 && st == VSMMU_SVA_DMA_OK &&
		    mine[63] == (i & 0xff))
			other_ok++;
		else {
			check(name, "FAIL", "the other process's DMA failed "
			      "while the child exited (round %d)", i);
			goto out;
		}
	}
	waitpid(pid, &status, 0);
	pid = -1;
	irqs_after = evtq_interrupts();
	kmsg_after = kmsg_last_seq();
	if (!faulted) {
		check(name, "FAIL", "the exited process's PASID still "
		      "translates (%u DMAs ok after its exit)", ok);
		goto out;
	}
	if (irqs_before < 0 || kmsg_before < 0) {
		check(name, "FAIL", "cannot watch events (%ld) or the kernel log "
		      "(%ld)", irqs_before, kmsg_before);
		goto out;
	}
	if (irqs_after != irqs_before || kmsg_after != kmsg_before) {
		check(name, "FAIL", "the faults after mm release were not quiet: "
		      "event-queue interrupts %ld -> %ld, kernel log records "
		      "%ld -> %ld", irqs_before, irqs_after, kmsg_before,
		      kmsg_after);
		goto out;
	}
	check(name, "PASS", "PASID %u: %u DMAs ok while its process exited, "
	      "then %u faulted with no event and no kernel log line (the "
	      "quiet CD of mm release); PASID %u of another process: %u ok",
	      (uint32_t)msg[1], ok, faulted, me.pasid, other_ok);
out:
	/* a child still waiting for the go gets end of file and exits */
	close_pipe(go);
	close_pipe(report);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (shared >= 0)
		close(shared);
	close(me.fd);
}

/* A child of check_scale: binds, DMAs, verifies, reports, waits */
static void scale_child(int n, int report_fd, int barrier_fd)
{
	const size_t len = 4 * PAGE;
	unsigned char *buf = map_anon(2 * len, PROT_READ | PROT_WRITE);
	unsigned char tag = (unsigned char)(n * 3 + 1);
	uint32_t st, done, msg[2] = { 0, 0 };
	char c;
	int fd;

	fd = sva_open();
	if (fd < 0 || !buf || sva_bind(fd, &msg[0]) < 0)
		_exit(2);
	memset(buf, tag, len);
	/* own data in, own data out: another process's PASID would differ */
	if (sva_dma(fd, VSMMU_SVA_OP_COPY, buf, buf + len, len, 0, &st,
		    &done) == 0 && st == VSMMU_SVA_DMA_OK &&
	    first_not(buf + len, len, tag) < 0)
		msg[1] = 1;
	if (write(report_fd, msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
	/* stay bound until every child has reported */
	if (read(barrier_fd, &c, 1) < 0)
		_exit(4);
	close(fd);
	_exit(0);
}

void check_scale(int processes)
{
	const char *name = "scale";
	int report[2], barrier[2], i, ok = 0, got = 0, bad_exit = 0;
	uint32_t *pasids;
	int distinct = 1;

	pasids = calloc(processes, sizeof(*pasids));
	if (!pasids || pipe(report) < 0 || pipe(barrier) < 0) {
		check(name, "FAIL", "setup: %s", strerror(errno));
		free(pasids);
		return;
	}
	for (i = 0; i < processes; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(report[0]);
			close(barrier[1]);
			scale_child(i, report[1], barrier[0]);
		}
		if (pid < 0)
			break;
	}
	close(report[1]);
	close(barrier[0]);
	while (got < i) {
		uint32_t msg[2];

		if (read(report[0], msg, sizeof(msg)) != sizeof(msg))
			break;
		pasids[got++] = msg[0];
		ok += msg[1];
	}
	/* all bound at once here: their PASIDs must all differ */
	for (int a = 0; a < got; a++)
		for (int c = a + 1; c < got; c++)
			if (pasids[a] == pasids[c])
				distinct = 0;
	close(barrier[1]);
	while (wait(&i) > 0)
		if (!WIFEXITED(i) || WEXITSTATUS(i))
			bad_exit++;
	close(report[0]);
	free(pasids);
	if (got == processes && ok == processes && distinct && !bad_exit)
		check(name, "PASS", "%d processes bound at once, distinct "
		      "PASIDs, each DMA verified", processes);
	else
		check(name, "FAIL", "%d of %d processes reported, %d verified, "
		      "PASIDs %s, %d bad exits", got, processes, ok,
		      distinct ? "distinct" : "shared", bad_exit);
}
