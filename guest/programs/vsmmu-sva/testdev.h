/*
 * The PCIe test endpoint (vsmmu-testdev-regs.h) bound to the SVA test
 * driver: its character device and its BAR0, which the driver lets user
 * space map for the ATS and PRI requests the driver does not make.
 */
#ifndef VSMMU_SVA_TESTDEV_H
#define VSMMU_SVA_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vsmmu-testdev-regs.h"

/* The first PCIe endpoint's device node */
#define SVA_PCI_DEVICE "/dev/vsmmu-sva-pci0"

/* BAR0 mapped through @fd (SVA_PCI_DEVICE); NULL with errno */
volatile uint32_t *testdev_map(int fd);

uint32_t testdev_rd32(volatile uint32_t *bar, uint32_t off);
uint64_t testdev_rd64(volatile uint32_t *bar, uint32_t off);
void testdev_wr32(volatile uint32_t *bar, uint32_t off, uint32_t v);
void testdev_wr64(volatile uint32_t *bar, uint32_t off, uint64_t v);

/* ATS translation of @va with @pasid: REG_STATUS; TR_ADDR, TR_INFO out */
uint32_t testdev_translate(volatile uint32_t *bar, uint64_t va,
			   uint32_t pasid, uint64_t *addr, uint32_t *info);

/* A page request (or stop marker: @code CMD_STOP_MARKER) with @pasid */
uint32_t testdev_page_request(volatile uint32_t *bar, uint32_t code,
			      uint64_t va, unsigned int index,
			      uint32_t pri_bits, uint32_t pasid);

/* REG_RESP_TABLE byte of PRG @index: code in 3:0, count in 7:4 */
unsigned int testdev_response(volatile uint32_t *bar, unsigned int index);

/* The physical address behind @va (root: /proc/self/pagemap), or 0 */
uint64_t physical_address(const void *va);

#endif /* VSMMU_SVA_TESTDEV_H */
