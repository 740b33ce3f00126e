/*
 * Check 'storm': the VFIO map/unmap storm of the benchmark. Under strict
 * invalidation each unmap is a TLBI and a CMD_SYNC, so the time it takes
 * is the SMMU's invalidation path as a VFIO user sees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "checks.h"
#include "report.h"
#include "util.h"
#include "vfio.h"

#define STORM_ROUNDS	2000
#define STORM_MAX	(64 * 1024)

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * STORM_ROUNDS rounds of map + unmap at IOVA_STORM, the size cycling
 * through 4, 8, 16, 32 and 64 KiB; prints the figure the benchmark reads:
 *     VSMMU-STORM: rounds=R seconds=S us_per_round=U
 */
void check_storm(struct ctx *c)
{
	static const size_t sizes[] = { 4096, 8192, 16384, 32768, 65536 };
	uint8_t *buf;
	double start, secs;
	unsigned int i;

	buf = mmap(NULL, STORM_MAX, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		result("storm", false, "FAIL", "mmap: %s", strerror(errno));
		return;
	}
	start = seconds();
	for (i = 0; i < STORM_ROUNDS; i++) {
		size_t size = sizes[i % 5];

		if (map_dma(c, buf, IOVA_STORM, size, true) ||
		    unmap_dma(c, IOVA_STORM, size) != 0) {
			result("storm", false, "FAIL", "round %u (%zu bytes): %s",
			       i, size, strerror(errno));
			munmap(buf, STORM_MAX);
			return;
		}
	}
	secs = seconds() - start;
	munmap(buf, STORM_MAX);
	printf("VSMMU-STORM: rounds=%u seconds=%.4f us_per_round=%.1f\n",
	       STORM_ROUNDS, secs, secs * 1e6 / STORM_ROUNDS);
	result("storm", false, "PASS", "%u rounds of 4-64 KiB in %.3f s",
	       STORM_ROUNDS, secs);
}
