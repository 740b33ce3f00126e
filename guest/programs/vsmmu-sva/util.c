/*
 * Memory helpers of the checks.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The first offset at which @p[0..len) is not @byte, or -1 */
long first_not(const unsigned char *p, size_t len, unsigned char byte)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != byte)
			return (long)i;
	return -1;
}

/* Pages of [p, p + len) resident, from mincore() */
int resident_pages(void *p, size_t len)
{
	unsigned char vec[64];
	size_t i, n = len / PAGE;
	int r = 0;

	if (n > sizeof(vec) || mincore(p, len, vec) < 0)
		return -1;
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	return r;
}


void close_pipe(int p[2])
{
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		p[i] = -1;
	}
}

/*
 * Interrupts of the SMMU's event queue so far (stall events arrive there),
 * or -1 if there is no such line (e.g. a combined interrupt)
 */
long evtq_interrupts(void)
{
	char line[512];
	long total = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *s = strchr(line, ':');

		if (!s || !strstr(line, "arm-smmu-v3-evtq"))
			continue;
		total = total < 0 ? 0 : total;
		for (s++;;) {
			char *end;
			long v = strtol(s, &end, 10);

			if (end == s)
				break;
			total += v;
			s = end;
		}
	}
	fclose(f);
	return total;
}

void close_other_fds(const int *keep, int n)
{
	for (int fd = 3; fd < 1024; fd++) {
		int kept = 0;

		for (int i = 0; i < n; i++)
			kept |= keep[i] == fd;
		if (!kept)
			close(fd);
	}
}
