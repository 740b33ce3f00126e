/*
 * The test endpoint through its BAR0 (mapped by vfio.c): register access,
 * commands, the buffer and the response records.
 */
#ifndef VSMMU_ATS_PRI_TESTDEV_H
#define VSMMU_ATS_PRI_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "vsmmu-testdev-regs.h"

static inline uint32_t rd32(struct ctx *c, unsigned int off)
{
	return *(volatile uint32_t *)(c->bar + off);
}

static inline uint64_t rd64(struct ctx *c, unsigned int off)
{
	return rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static inline void wr32(struct ctx *c, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(c->bar + off) = v;
}

static inline void wr64(struct ctx *c, unsigned int off, uint64_t v)
{
	wr32(c, off, (uint32_t)v);
	wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* Runs one endpoint command and returns its STATUS */
uint32_t cmd(struct ctx *c, uint32_t code);

/* Runs a DMA (or ATS) command on iova; returns its STATUS */
uint32_t dma(struct ctx *c, uint32_t code, uint64_t iova, uint32_t len,
	     uint32_t flags);

/* Fills len bytes of BAR0's buffer with a pattern derived from seed */
void buffer_fill(struct ctx *c, uint32_t seed, uint32_t len);

/* Index of the first word of BAR0's buffer that differs from mem, or -1 */
long buffer_compare(struct ctx *c, const uint8_t *mem, uint32_t len);

/* Waits up to ms for RESP_COUNT to reach want; returns the count */
uint32_t wait_responses(struct ctx *c, uint32_t want, unsigned int ms);

/* The response table entry of a PRG index: count << 4 | code, 0 if none */
unsigned int resp_entry(struct ctx *c, unsigned int index);

/* ATS translation of iova; returns STATUS, fills address and info */
uint32_t ats_translate(struct ctx *c, uint64_t iova, bool write,
		       uint64_t *addr, uint32_t *info);

/* Sends one page request; returns PR_OUTCOME, or -STATUS on failure */
int page_request(struct ctx *c, uint64_t iova, unsigned int index,
		 uint32_t pri_bits, uint32_t flags, uint32_t pasid,
		 uint32_t code);

#endif /* VSMMU_ATS_PRI_TESTDEV_H */
