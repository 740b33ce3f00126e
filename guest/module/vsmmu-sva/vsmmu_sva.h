/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vsmmu-sva: what the character device (vsmmu_sva_main.c) needs from the
 * endpoints it drives: the platform stall test device
 * (vsmmu_sva_stall.c) and the PCIe test endpoint (vsmmu_sva_pci.c).
 *
 * Copyright (c) 2026 The vSMMU authors
 */
#ifndef VSMMU_SVA_H
#define VSMMU_SVA_H

#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>

struct vsmmu_sva_ctx;
struct vsmmu_sva_dev;
struct vsmmu_sva_dma;

/* How one kind of endpoint runs a transfer with a PASID */
struct vsmmu_sva_engine {
	const char *name;	/* its character devices: /dev/<name><N> */
	struct ida *ida;	/* their numbers */
	/* Linux resolves its faults (IOMMU_DEV_FEAT_IOPF is enabled) */
	bool iopf;
	/* program the transfer and start it; 0 or -errno */
	int (*start)(struct vsmmu_sva_dev *sd, const struct vsmmu_sva_dma *d,
		     u32 pasid);
	/* no transfer runs */
	bool (*idle)(struct vsmmu_sva_dev *sd);
	/* after the end: VSMMU_SVA_DMA_OK or _FAULT and bytes written */
	int (*result)(struct vsmmu_sva_dev *sd, u32 *status, u32 *done_len);
};

struct vsmmu_sva_dev {
	struct device *dev;
	const struct vsmmu_sva_engine *ops;
	void __iomem *regs;
	/* registers user space may map (the PCIe endpoint's BAR0), or 0 */
	phys_addr_t mmio_phys;
	resource_size_t mmio_size;
	struct miscdevice misc;
	char name[24];
	int id;
	/* one transfer at a time: each endpoint has one engine */
	struct mutex engine;
	wait_queue_head_t wq;	/* woken when a transfer ends */
	/*
	 * The file whose transfer the engine runs (meaningful while it is
	 * not idle): it may outlive its ioctl's timeout, held by a stall
	 */
	struct vsmmu_sva_ctx *owner;
	/* the outcome of an endpoint whose transfers end in start() */
	u32 last_status;
	u32 last_done;
};

void vsmmu_sva_dev_init(struct vsmmu_sva_dev *sd, struct device *dev,
			const struct vsmmu_sva_engine *ops);
int vsmmu_sva_register(struct vsmmu_sva_dev *sd);
void vsmmu_sva_unregister(struct vsmmu_sva_dev *sd);

extern struct platform_driver vsmmu_sva_stall_driver;
extern struct pci_driver vsmmu_sva_pci_driver;

#endif /* VSMMU_SVA_H */
