/*
 * The PCIe test endpoint's BAR0, from user space.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testdev.h"

volatile uint32_t *testdev_map(int fd)
{
	void *p = mmap(NULL, TESTDEV_BAR_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

uint32_t testdev_rd32(volatile uint32_t *bar, uint32_t off)
{
	return bar[off / 4];
}

uint64_t testdev_rd64(volatile uint32_t *bar, uint32_t off)
{
	uint64_t lo = bar[off / 4];

	return lo | (uint64_t)bar[off / 4 + 1] << 32;
}

void testdev_wr32(volatile uint32_t *bar, uint32_t off, uint32_t v)
{
	bar[off / 4] = v;
}

/* low half first, as the register map asks */
void testdev_wr64(volatile uint32_t *bar, uint32_t off, uint64_t v)
{
	bar[off / 4] = (uint32_t)v;
	bar[off / 4 + 1] = (uint32_t)(v >> 32);
}

uint32_t testdev_translate(volatile uint32_t *bar, uint64_t va,
			   uint32_t pasid, uint64_t *addr, uint32_t *info)
{
	uint32_t st;

	testdev_wr64(bar, REG_IOVA, va);
	testdev_wr32(bar, REG_PASID, pasid);
	testdev_wr32(bar, REG_FLAGS, FLAG_PASID);
	testdev_wr32(bar, REG_COMMAND, CMD_ATS_TRANSLATE);
	st = testdev_rd32(bar, REG_STATUS);
	*addr = testdev_rd64(bar, REG_TR_ADDR);
	*info = testdev_rd32(bar, REG_TR_INFO);
	return st;
}

uint32_t testdev_page_request(volatile uint32_t *bar, uint32_t code,
			      uint64_t va, unsigned int index,
			      uint32_t pri_bits, uint32_t pasid)
{
	testdev_wr64(bar, REG_IOVA, va);
	testdev_wr32(bar, REG_PASID, pasid);
	testdev_wr32(bar, REG_FLAGS, FLAG_PASID);
	testdev_wr32(bar, REG_PRI, (index & PRI_INDEX_MASK) | pri_bits);
	testdev_wr32(bar, REG_COMMAND, code);
	return testdev_rd32(bar, REG_STATUS);
}

unsigned int testdev_response(volatile uint32_t *bar, unsigned int index)
{
	unsigned int off = REG_RESP_TABLE + (index & PRI_INDEX_MASK);

	return (testdev_rd32(bar, off & ~3u) >> (8 * (off & 3))) & 0xff;
}

uint64_t physical_address(const void *va)
{
	uint64_t entry = 0;
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)va / page) * 8;

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, 8, off) != 8)
		entry = 0;
	close(fd);
	if (!(entry >> 63) || !(entry & ((1ull << 55) - 1)))
		return 0;
	return (entry & ((1ull << 55) - 1)) * page + (uintptr_t)va % page;
}
