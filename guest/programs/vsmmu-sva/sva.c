/*
 * The SVA test driver's ioctls.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sva.h"

int sva_open(void)
{
	return open(SVA_DEVICE, O_RDWR | O_CLOEXEC);
}

int sva_bind(int fd, uint32_t *pasid)
{
	struct vsmmu_sva_bind b;

	memset(&b, 0, sizeof(b));
	if (ioctl(fd, VSMMU_SVA_BIND, &b) < 0)
		return -1;
	*pasid = b.pasid;
	return 0;
}

int sva_unbind(int fd)
{
	return ioctl(fd, VSMMU_SVA_UNBIND);
}

int sva_dma(int fd, uint32_t op, const void *src, void *dst, size_t len,
	    uint8_t pattern, uint32_t *status, uint32_t *done)
{
	struct vsmmu_sva_dma d;

	memset(&d, 0, sizeof(d));
	d.src = (uintptr_t)src;
	d.dst = (uintptr_t)dst;
	d.len = len;
	d.op = op;
	d.pattern = pattern;
	if (ioctl(fd, VSMMU_SVA_DMA, &d) < 0)
		return -1;
	*status = d.status;
	*done = d.done_len;
	return 0;
}

const char *sva_status_name(uint32_t status)
{
	switch (status) {
	case VSMMU_SVA_DMA_OK:
		return "ok";
	case VSMMU_SVA_DMA_FAULT:
		return "fault";
	case VSMMU_SVA_DMA_TIMEOUT:
		return "timeout";
	default:
		return "unknown";
	}
}
