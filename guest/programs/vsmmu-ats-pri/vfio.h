/*
 * The endpoint through VFIO type1: container, group and device, BAR0, and
 * the DMA mappings of the test's buffers.
 */
#ifndef VSMMU_ATS_PRI_VFIO_H
#define VSMMU_ATS_PRI_VFIO_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"

/* Opens container, group and device fd for c->bdf in group; 0 or -1 */
int vfio_open(struct ctx *c, int group);

/* Maps BAR0 into c->bar, enables bus mastering, checks REG_ID; 0 or -1 */
int map_bar0(struct ctx *c);

/* VFIO_IOMMU_MAP_DMA of size bytes at vaddr to iova; 0 or -1 */
int map_dma(struct ctx *c, void *vaddr, uint64_t iova, uint64_t size,
	    bool writable);

/* VFIO_IOMMU_UNMAP_DMA of size bytes at iova; 0 or -1 */
int unmap_dma(struct ctx *c, uint64_t iova, uint64_t size);

/* Allocates c->rw, c->ro, c->inv and maps them at IOVA_RW/RO/INV; 0 or -1 */
int map_buffers(struct ctx *c);

#endif /* VSMMU_ATS_PRI_VFIO_H */
