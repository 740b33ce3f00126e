/*
 * Check 'remap': DMA through an IOVA that is mapped to one page after
 * another, while a second thread maps and unmaps another IOVA.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "report.h"
#include "testdev.h"
#include "util.h"
#include "vfio.h"

#define REMAP_ROUNDS	500

/*
 * 7. No stale translation after TLBI + SYNC, through the whole chain (the
 * guest driver's invalidation, the SMMU's TLB, the front end's translation
 * cache): one IOVA is mapped to page A, then to page B, and so on; after each
 * map the endpoint reads it and writes it, and must see exactly the page now
 * mapped. Meanwhile a second thread maps and unmaps another IOVA in a loop,
 * so invalidations and syncs are in flight during the DMA.
 */
struct storm {
	struct ctx *c;
	uint8_t *page;
	atomic_bool stop;
	unsigned int rounds;
	int error;
};

static void *storm_run(void *arg)
{
	struct storm *st = arg;

	while (!atomic_load(&st->stop)) {
		if (map_dma(st->c, st->page, IOVA_STORM, PAGE, true) ||
		    unmap_dma(st->c, IOVA_STORM, PAGE) != 0) {
			st->error = errno;
			break;
		}
		st->rounds++;
	}
	return NULL;
}

/* One round: map IOVA_REMAP to page, check a device read and a device write */
static bool remap_round(struct ctx *c, uint8_t *page, uint8_t *other,
			unsigned int round, char *detail, size_t len)
{
	uint32_t st, other_word;
	long bad;

	mem_fill(page, 0x7000 + round, 256);
	memcpy(&other_word, other, 4);
	if (map_dma(c, page, IOVA_REMAP, PAGE, true)) {
		snprintf(detail, len, "round %u: map failed: %s", round,
			 strerror(errno));
		return false;
	}
	st = dma(c, CMD_DMA_READ, IOVA_REMAP, 256, 0);
	bad = st == ST_OK ? buffer_compare(c, page, 256) : 0;
	if (st != ST_OK || bad >= 0) {
		snprintf(detail, len, "round %u: device read of the new "
			 "mapping: status %u, byte %ld differs (stale "
			 "translation?)", round, st, bad);
		return false;
	}
	buffer_fill(c, 0x9000 + round, 256);
	st = dma(c, CMD_DMA_WRITE, IOVA_REMAP, 256, 0);
	bad = st == ST_OK ? buffer_compare(c, page, 256) : 0;
	if (st != ST_OK || bad >= 0 || memcmp(other, &other_word, 4)) {
		snprintf(detail, len, "round %u: device write: status %u, byte "
			 "%ld differs, previous page %s", round, st, bad,
			 memcmp(other, &other_word, 4) ? "written (stale)" :
			 "untouched");
		return false;
	}
	if (unmap_dma(c, IOVA_REMAP, PAGE)) {
		snprintf(detail, len, "round %u: unmap failed", round);
		return false;
	}
	return true;
}

void check_remap(struct ctx *c)
{
	uint8_t *a = alloc_pages(PAGE), *b = alloc_pages(PAGE);
	uint8_t *storm_page = alloc_pages(PAGE);
	struct storm storm = { .c = c, .page = storm_page };
	pthread_t thread;
	char detail[256] = "";
	uint64_t start = now_ms();
	unsigned int round;
	bool ok = true;

	if (!a || !b || !storm_page ||
	    pthread_create(&thread, NULL, storm_run, &storm)) {
		result("remap", false, "FAIL", "setup: %s", strerror(errno));
		return;
	}
	for (round = 0; ok && round < REMAP_ROUNDS; round++)
		ok = remap_round(c, round % 2 ? b : a, round % 2 ? a : b,
				 round, detail, sizeof(detail));
	atomic_store(&storm.stop, true);
	pthread_join(thread, NULL);
	if (!ok || storm.error) {
		result("remap", false, "FAIL", "%s%s%s", detail,
		       storm.error ? "; storm thread: " : "",
		       storm.error ? strerror(storm.error) : "");
		return;
	}
	result("remap", false, "PASS", "%u rounds of map IOVA 0x%llx to page "
	       "A/B, device read + write, unmap: every DMA saw the page mapped "
	       "at the time, never the previous one; %u map/unmap rounds on "
	       "IOVA 0x%llx ran concurrently; %llu ms", REMAP_ROUNDS,
	       IOVA_REMAP, storm.rounds, IOVA_STORM,
	       (unsigned long long)(now_ms() - start));
}
