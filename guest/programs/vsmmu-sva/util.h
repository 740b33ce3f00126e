/*
 * Memory helpers of the checks.
 */
#ifndef VSMMU_SVA_UTIL_H
#define VSMMU_SVA_UTIL_H

#include <stddef.h>

#define PAGE 4096

/* A private anonymous mapping, or NULL */
void *map_anon(size_t len, int prot);

/* The first offset at which @p[0..len) is not @byte, or -1 */
long first_not(const unsigned char *p, size_t len, unsigned char byte);

/* Pages of [p, p + len) resident (at most 64 pages), or -1 */
int resident_pages(void *p, size_t len);

/*
 * Interrupts of the SMMU's event queue so far (stall events arrive there),
 * or -1 if there is no such line (e.g. a combined interrupt)
 */
long evtq_interrupts(void);

/*
 * In a child: closes every descriptor above 2 but the @n in @keep, so that
 * it holds no other child's pipe ends (their EOF must not wait for it)
 */
void close_other_fds(const int *keep, int n);

/* Closes both ends of a pipe that are still open (>= 0) */
void close_pipe(int p[2]);

#endif /* VSMMU_SVA_UTIL_H */
