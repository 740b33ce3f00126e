/*
 * Commands and records of the test endpoint (docs/test-endpoint.md).
 */
#include <string.h>

#include "testdev.h"
#include "util.h"

uint32_t cmd(struct ctx *c, uint32_t code)
{
	wr32(c, REG_COMMAND, code);
	return rd32(c, REG_STATUS);
}

uint32_t dma(struct ctx *c, uint32_t code, uint64_t iova, uint32_t len,
	     uint32_t flags)
{
	wr64(c, REG_IOVA, iova);
	wr32(c, REG_LEN, len);
	wr32(c, REG_FLAGS, flags);
	return cmd(c, code);
}

void buffer_fill(struct ctx *c, uint32_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 4)
		wr32(c, REG_BUFFER + i, seed * 2654435761u + i);
}

long buffer_compare(struct ctx *c, const uint8_t *mem, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t v;

		memcpy(&v, mem + i, 4);
		if (rd32(c, REG_BUFFER + i) != v)
			return i;
	}
	return -1;
}

uint32_t wait_responses(struct ctx *c, uint32_t want, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	uint32_t n;

	while ((n = rd32(c, REG_RESP_COUNT)) < want && now_ms() < end)
		sleep_ms(5);
	return n;
}

unsigned int resp_entry(struct ctx *c, unsigned int index)
{
	unsigned int off = REG_RESP_TABLE + (index & 0x1ff);

	return (rd32(c, off & ~3u) >> (8 * (off & 3))) & 0xff;
}

uint32_t ats_translate(struct ctx *c, uint64_t iova, bool write,
		       uint64_t *addr, uint32_t *info)
{
	uint32_t st = dma(c, CMD_ATS_TRANSLATE, iova, 0,
			  write ? FLAG_WRITE : 0);

	*addr = rd64(c, REG_TR_ADDR);
	*info = rd32(c, REG_TR_INFO);
	return st;
}

int page_request(struct ctx *c, uint64_t iova, unsigned int index,
		 uint32_t pri_bits, uint32_t flags, uint32_t pasid,
		 uint32_t code)
{
	uint32_t st;

	wr64(c, REG_IOVA, iova);
	wr32(c, REG_FLAGS, flags);
	wr32(c, REG_PASID, pasid);
	wr32(c, REG_PRI, (index & 0x1ff) | pri_bits);
	st = cmd(c, code);
	return st == ST_OK ? (int)rd32(c, REG_PR_OUTCOME) : -(int)st;
}
