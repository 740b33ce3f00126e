/*
 * Checks that break the rules on purpose, for the vSMMU's driver checker
 * (docs/checker.md): they pass when the device sees what the bug gives,
 * and each prints the report the host's checker must make, as a line
 *   VSMMU-CHECK-EXPECT: rule=R sid=N ssid=N address=0xA
 * that scripts/boot-guest --expect-check compares with the report file.
 * They need the SVA test driver's buggy module parameter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "report.h"
#include "sva.h"
#include "util.h"

/*
 * buggy-tlbi: the device writes page P (the SMMU caches its translation,
 * writable); the driver write-protects P with no TLB invalidation
 * (VSMMU_SVA_WRPROTECT_NOFLUSH, buggy=skip-tlbi); then two other pages
 * of the process are made read-only with mprotect(), whose TLBIs for the
 * same ASID are followed by CMD_SYNCs. The device's next write to P goes
 * through the stale entry: it succeeds, and the checker must report rule
 * tlbi for P.
 */
void check_buggy_tlbi(void)
{
	const char *name = "buggy-tlbi";
	unsigned char *p;
	uint32_t pasid, st, done;
	long sid;
	int fd;

	fd = sva_open();
	if (fd < 0) {
		check(name, "FAIL", "open %s: %s", SVA_DEVICE, strerror(errno));
		return;
	}
	if (sva_bind(fd, &pasid) < 0) {
		check(name, "FAIL", "bind: %s", strerror(errno));
		goto out_close;
	}
	p = map_anon(3 * PAGE, PROT_READ | PROT_WRITE);
	if (!p) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out_close;
	}
	memset(p, 1, 3 * PAGE);
	if (sva_dma(fd, VSMMU_SVA_OP_FILL, NULL, p, PAGE, 0x11, &st,
		    &done) < 0) {
		check(name, "FAIL", "first fill: %s", strerror(errno));
		goto out_unmap;
	}
	if (st != VSMMU_SVA_DMA_OK) {
		check(name, "FAIL", "first fill: %s", sva_status_name(st));
		goto out_unmap;
	}
	sid = ioctl(fd, VSMMU_SVA_WRPROTECT_NOFLUSH, (unsigned long)p);
	if (sid < 0) {
		check(name, errno == EOPNOTSUPP ? "UNSUPPORTED" : "FAIL",
		      "VSMMU_SVA_WRPROTECT_NOFLUSH: %s%s", strerror(errno),
		      errno == EPERM ? " (needs vsmmu.sva_buggy=skip-tlbi)" :
		      errno == EOPNOTSUPP ? " (a kernel with THP)" : "");
		goto out_unmap;
	}
	if (mprotect(p + PAGE, PAGE, PROT_READ) < 0 ||
	    mprotect(p + 2 * PAGE, PAGE, PROT_READ) < 0) {
		check(name, "FAIL", "mprotect: %s", strerror(errno));
		goto out_restore;
	}
	if (sva_dma(fd, VSMMU_SVA_OP_FILL, NULL, p, PAGE, 0x22, &st,
		    &done) < 0) {
		check(name, "FAIL", "second fill: %s", strerror(errno));
		goto out_restore;
	}
	if (st != VSMMU_SVA_DMA_OK || first_not(p, PAGE, 0x22) >= 0) {
		check(name, "FAIL", "the write to the read-only page ended %s: "
		      "no stale TLB entry was used", sva_status_name(st));
		goto out_restore;
	}
	printf("VSMMU-CHECK-EXPECT: rule=tlbi sid=%ld ssid=%u address=%p\n",
	       sid, pasid, (void *)p);
	check(name, "PASS", "PASID %u: the device wrote page %p through a "
	      "stale TLB entry after it was made read-only with no TLBI",
	      pasid, (void *)p);
out_restore:
	/* back to a consistent state, invalidated this time */
	mprotect(p, 3 * PAGE, PROT_READ);
	mprotect(p, 3 * PAGE, PROT_READ | PROT_WRITE);
out_unmap:
	munmap(p, 3 * PAGE);
out_close:
	close(fd);
}

/*
 * buggy-cfgi: the device fills a page with PASID p (the SMMU caches p's
 * CD); the driver changes p's live CD (CD.R toggled) with no CMD_CFGI_CD
 * (VSMMU_SVA_CD_TOGGLE_NOCFGI, buggy=skip-cfgi); an mprotect() makes a
 * CMD_SYNC; a child binds PASID q, whose CD write the driver does
 * invalidate (CMD_CFGI_CD of q, then a CMD_SYNC). The device's next
 * transfer with p uses the stale cached CD, and the checker must report
 * rule cfgi for p. The CD is toggled back afterwards.
 */
void check_buggy_cfgi(void)
{
	const char *name = "buggy-cfgi";
	int bound[2] = { -1, -1 }, quit[2] = { -1, -1 };
	uint32_t pasid, child_pasid = 0, st, done;
	unsigned char *p;
	pid_t child = -1;
	long sid;
	int fd;

	fd = sva_open();
	if (fd < 0) {
		check(name, "FAIL", "open %s: %s", SVA_DEVICE, strerror(errno));
		return;
	}
	if (sva_bind(fd, &pasid) < 0) {
		check(name, "FAIL", "bind: %s", strerror(errno));
		goto out_close;
	}
	p = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	if (!p) {
		check(name, "FAIL", "mmap: %s", strerror(errno));
		goto out_close;
	}
	memset(p, 1, 2 * PAGE);
	if (sva_dma(fd, VSMMU_SVA_OP_FILL, NULL, p, PAGE, 0x33, &st,
		    &done) < 0 || st != VSMMU_SVA_DMA_OK) {
		check(name, "FAIL", "first fill failed");
		goto out_unmap;
	}
	sid = ioctl(fd, VSMMU_SVA_CD_TOGGLE_NOCFGI);
	if (sid < 0) {
		check(name, "FAIL", "VSMMU_SVA_CD_TOGGLE_NOCFGI: %s%s",
		      strerror(errno), errno == EPERM ?
		      " (needs vsmmu.sva_buggy=skip-cfgi)" : "");
		goto out_unmap;
	}
	if (mprotect(p + PAGE, PAGE, PROT_READ) < 0 || pipe(bound) < 0 ||
	    pipe(quit) < 0) {
		check(name, "FAIL", "mprotect/pipe: %s", strerror(errno));
		goto out_restore;
	}
	child = fork();
	if (child == 0) {
		uint32_t q = 0;
		int cfd;
		char c;

		/* only the parent's end may keep quit open: EOF is the signal */
		close(quit[1]);
		close(bound[0]);
		cfd = sva_open();
		if (cfd < 0 || sva_bind(cfd, &q) < 0)
			q = 0;
		if (write(bound[1], &q, sizeof(q)) != sizeof(q))
			_exit(1);
		if (read(quit[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(bound[1]);
	bound[1] = -1;
	close(quit[0]);
	quit[0] = -1;
	if (child < 0 ||
	    read(bound[0], &child_pasid, sizeof(child_pasid)) !=
	    sizeof(child_pasid) || !child_pasid || child_pasid == pasid) {
		check(name, "FAIL", "the child did not bind another PASID");
		goto out_restore;
	}
	if (sva_dma(fd, VSMMU_SVA_OP_FILL, NULL, p, PAGE, 0x44, &st,
		    &done) < 0 || st != VSMMU_SVA_DMA_OK ||
	    first_not(p, PAGE, 0x44) >= 0) {
		check(name, "FAIL", "the fill after the CD change failed");
		goto out_restore;
	}
	printf("VSMMU-CHECK-EXPECT: rule=cfgi sid=%ld ssid=%u\n", sid, pasid);
	check(name, "PASS", "PASID %u: the device used the CD cached before "
	      "the driver changed it with no CMD_CFGI_CD (PASID %u's CD "
	      "was invalidated meanwhile)", pasid, child_pasid);
out_restore:
	if (ioctl(fd, VSMMU_SVA_CD_TOGGLE_NOCFGI) < 0)
		check(name, "FAIL", "toggling CD.R back: %s", strerror(errno));
	if (child > 0) {
		close_pipe(quit);
		waitpid(child, NULL, 0);
	}
	close_pipe(bound);
	close_pipe(quit);
out_unmap:
	munmap(p, 2 * PAGE);
out_close:
	close(fd);
}
