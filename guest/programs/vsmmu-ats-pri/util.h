/*
 * Helpers with no device behind them: the clock, anonymous pages and their
 * guest physical addresses, and the memory side of the test patterns.
 */
#ifndef VSMMU_ATS_PRI_UTIL_H
#define VSMMU_ATS_PRI_UTIL_H

#include <stddef.h>
#include <stdint.h>

void sleep_ms(unsigned int ms);

/* CLOCK_MONOTONIC in milliseconds */
uint64_t now_ms(void);

/* size bytes of populated anonymous memory, or NULL */
uint8_t *alloc_pages(size_t size);

/* Guest physical address of a virtual address (root: pagemap has PFNs) */
uint64_t phys_addr(const void *va);

/* Fills len bytes of mem with a pattern derived from seed */
void mem_fill(uint8_t *mem, uint32_t seed, uint32_t len);

#endif /* VSMMU_ATS_PRI_UTIL_H */
