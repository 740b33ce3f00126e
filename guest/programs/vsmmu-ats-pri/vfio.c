/*
 * VFIO type1: container, group and device, BAR0 and config space regions,
 * DMA map and unmap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "report.h"
#include "sysfs.h"
#include "testdev.h"
#include "util.h"
#include "vfio.h"

int vfio_open(struct ctx *c, int group)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];

	/* The virt GIC here has no ITS: MSIs are not isolated */
	write_text("/sys/module/vfio_iommu_type1/parameters/"
		   "allow_unsafe_interrupts", "Y");
	c->container = open("/dev/vfio/vfio", O_RDWR);
	if (c->container < 0)
		return setup_error("open /dev/vfio/vfio");
	if (ioctl(c->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1)
		return setup_error("VFIO API version or type1 IOMMU missing");
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	c->group = open(path, O_RDWR);
	if (c->group < 0)
		return setup_error(path);
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return setup_error("group not viable (another device in it?)");
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container))
		return setup_error("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		return setup_error("VFIO_SET_IOMMU type1 "
				   "(allow_unsafe_interrupts?)");
	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, c->bdf);
	if (c->device < 0)
		return setup_error("VFIO_GROUP_GET_DEVICE_FD");
	return 0;
}

static int region_info(struct ctx *c, unsigned int index,
		       struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, info);
}

int map_bar0(struct ctx *c)
{
	struct vfio_region_info bar, cfg;
	uint16_t command;
	void *p;

	if (region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &bar) ||
	    !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar.size < 4096)
		return setup_error("BAR0 region info (not mmap-able?)");
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 c->device, bar.offset);
	if (p == MAP_FAILED)
		return setup_error("mmap BAR0");
	c->bar = p;
	if (region_info(c, VFIO_PCI_CONFIG_REGION_INDEX, &cfg))
		return setup_error("config region info");
	c->cfg_offset = cfg.offset;
	/* Bus mastering: without it the endpoint's DMA is blocked */
	if (pread(c->device, &command, 2, cfg.offset + 4) != 2)
		return setup_error("read PCI_COMMAND");
	if (!(command & 0x4)) {
		command |= 0x6;
		if (pwrite(c->device, &command, 2, cfg.offset + 4) != 2)
			return setup_error("enable bus mastering");
	}
	if (rd32(c, REG_ID) != TESTDEV_ID_VALUE) {
		errno = 0;
		return setup_error("BAR0 ID register is not the test "
				   "endpoint's");
	}
	return 0;
}

int map_dma(struct ctx *c, void *vaddr, uint64_t iova, uint64_t size,
	    bool writable)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ |
			 (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map);
}

int unmap_dma(struct ctx *c, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	return ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

int map_buffers(struct ctx *c)
{
	c->rw = alloc_pages(RW_SIZE);
	c->ro = alloc_pages(PAGE);
	c->inv = alloc_pages(PAGE);
	if (!c->rw || !c->ro || !c->inv)
		return setup_error("mmap buffers");
	memset(c->ro, 0x5a, PAGE);
	if (map_dma(c, c->rw, IOVA_RW, RW_SIZE, true) ||
	    map_dma(c, c->ro, IOVA_RO, PAGE, false) ||
	    map_dma(c, c->inv, IOVA_INV, PAGE, true))
		return setup_error("VFIO_IOMMU_MAP_DMA");
	c->inv_mapped = true;
	return 0;
}
