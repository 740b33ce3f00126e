/*
 * The SVA test driver's character device (vsmmu-sva-uapi.h) as calls.
 */
#ifndef VSMMU_SVA_SVA_H
#define VSMMU_SVA_SVA_H

#include <stddef.h>
#include <stdint.h>

#include "vsmmu-sva-uapi.h"

/* The first endpoint's device node */
#define SVA_DEVICE "/dev/vsmmu-sva0"

/* Opens SVA_DEVICE; -1 with errno set */
int sva_open(void);

/* Binds the calling process through @fd; its PASID in *@pasid */
int sva_bind(int fd, uint32_t *pasid);

int sva_unbind(int fd);

/*
 * One transfer (VSMMU_SVA_OP_*); the outcome (VSMMU_SVA_DMA_*) in
 * *@status and the bytes written in *@done. -1 with errno if the driver
 * refused it.
 */
int sva_dma(int fd, uint32_t op, const void *src, void *dst, size_t len,
	    uint8_t pattern, uint32_t *status, uint32_t *done);

/* "ok", "fault", "timeout" */
const char *sva_status_name(uint32_t status);

#endif /* VSMMU_SVA_SVA_H */
