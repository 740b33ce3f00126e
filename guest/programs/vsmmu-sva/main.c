/*
 * vsmmu-sva: Linux SVA scenarios on the vSMMU (docs/sva.md). Binds this
 * process (and children) to the SVA test driver's endpoint and checks what
 * the device's DMA sees. One "CHECK <name>: PASS|FAIL|UNSUPPORTED" line per
 * check; exit status 0 when none failed.
 *   --checks LIST     bind-dma,iopf,iopf-abort,munmap,exit,teardown,
 *                     pri-teardown,scale (default: all, in this order);
 *                     also buggy-tlbi and buggy-cfgi, driver bugs on
 *                     purpose for the vSMMU's checker (not in the
 *                     default list)
 *   --processes N     processes for 'scale' (default 64)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "report.h"
#include "sva.h"

#define ALL_CHECKS \
	"bind-dma,iopf,iopf-abort,munmap,exit,teardown,pri-teardown,scale"

static int processes = 64;

static void run(const char *name)
{
	if (!strcmp(name, "bind-dma"))
		check_bind_dma();
	else if (!strcmp(name, "iopf"))
		check_iopf();
	else if (!strcmp(name, "iopf-abort"))
		check_iopf_abort();
	else if (!strcmp(name, "munmap"))
		check_munmap();
	else if (!strcmp(name, "exit"))
		check_exit();
	else if (!strcmp(name, "teardown"))
		check_teardown();
	else if (!strcmp(name, "scale"))
		check_scale(processes);
	else if (!strcmp(name, "pri-teardown"))
		check_pri_teardown();
	else if (!strcmp(name, "buggy-tlbi"))
		check_buggy_tlbi();
	else if (!strcmp(name, "buggy-cfgi"))
		check_buggy_cfgi();
	else
		check(name, "FAIL", "no such check (have " ALL_CHECKS
		      ",buggy-tlbi,buggy-cfgi)");
}

/* UNSUPPORTED for every check: no SVA endpoint, or one Linux cannot bind */
static int unsupported(char *list, const char *why)
{
	for (char *n = strtok(list, ","); n; n = strtok(NULL, ","))
		check(n, "UNSUPPORTED", "%s", why);
	return 0;
}

int main(int argc, char **argv)
{
	char list[256] = ALL_CHECKS;
	uint32_t pasid;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--checks") && i + 1 < argc) {
			snprintf(list, sizeof(list), "%s", argv[++i]);
		} else if (!strcmp(argv[i], "--processes") && i + 1 < argc) {
			processes = atoi(argv[++i]);
			if (processes < 1 || processes > 4096) {
				fprintf(stderr, "--processes: 1..4096\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s [--checks LIST] "
				"[--processes N]\n", argv[0]);
			return 2;
		}
	}
	fd = sva_open();
	if (fd < 0)
		return unsupported(list, errno == ENOENT ?
				   "no " SVA_DEVICE ": no SVA-capable endpoint "
				   "(the driver binds only where Linux enables "
				   "SVA with I/O page faults)" :
				   strerror(errno));
	if (sva_bind(fd, &pasid) < 0 &&
	    (errno == ENODEV || errno == EOPNOTSUPP))
		return unsupported(list, "Linux refuses to bind: no SVA here");
	close(fd);
	for (char *n = strtok(list, ","); n; n = strtok(NULL, ","))
		run(n);
	return check_failures() ? 1 : 0;
}
