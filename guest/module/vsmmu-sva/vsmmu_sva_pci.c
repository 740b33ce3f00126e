// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vsmmu-sva: the PCIe test endpoint (vsmmu-testdev-regs.h) with PASID
 *
 * Each DMA command runs to its end inside the BAR0 write that starts it,
 * through the endpoint's 2 KiB buffer: a transfer is a series of chunks,
 * all done when start() returns. Linux 6.12 enables PASID (and ATS) on the
 * endpoint for SVA but has no PRI-based I/O page faults for SMMUv3, so a
 * page the process has not made resident faults. Transfers never time
 * out here (timeout_ms is not used). The character device also maps BAR0
 * for tests of ATS and PRI (docs/sva.md).
 *
 * Not handled: removal of the PCI function (sysfs remove, hot-unplug)
 * while files are open; a test driver, it expects its endpoint to stay.
 *
 * Copyright (c) 2026 The vSMMU authors
 */

#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/minmax.h>
#include <linux/pci.h>

#include "vsmmu-sva-uapi.h"
#include "vsmmu-testdev-regs.h"
#include "vsmmu_sva.h"

static DEFINE_IDA(vsmmu_sva_pci_ida);

/* One DMA command on IOVA with the PASID; the endpoint's REG_STATUS */
static u32 vsmmu_sva_pci_cmd(struct vsmmu_sva_dev *sd, u32 code, u64 iova,
			     u32 len, u32 pasid)
{
	writel(lower_32_bits(iova), sd->regs + REG_IOVA);
	writel(upper_32_bits(iova), sd->regs + REG_IOVA + 4);
	writel(len, sd->regs + REG_LEN);
	writel(pasid, sd->regs + REG_PASID);
	writel(FLAG_PASID, sd->regs + REG_FLAGS);
	writel(code, sd->regs + REG_COMMAND);
	return readl(sd->regs + REG_STATUS);
}

static int vsmmu_sva_pci_start(struct vsmmu_sva_dev *sd,
			       const struct vsmmu_sva_dma *d, u32 pasid)
{
	u32 off, chunk, st = ST_OK;

	sd->last_done = 0;
	if (d->op == VSMMU_SVA_OP_FILL)
		memset_io(sd->regs + REG_BUFFER, d->pattern, BUFFER_SIZE);
	for (off = 0; off < d->len && st == ST_OK; off += chunk) {
		chunk = min_t(u32, d->len - off, BUFFER_SIZE);
		if (d->op == VSMMU_SVA_OP_COPY)
			st = vsmmu_sva_pci_cmd(sd, CMD_DMA_READ, d->src + off,
					       chunk, pasid);
		if (st == ST_OK)
			st = vsmmu_sva_pci_cmd(sd, CMD_DMA_WRITE, d->dst + off,
					       chunk, pasid);
		if (st == ST_OK)
			sd->last_done = off + chunk;
	}
	sd->last_status = st;
	return 0;
}

static bool vsmmu_sva_pci_idle(struct vsmmu_sva_dev *sd)
{
	return true;
}

static int vsmmu_sva_pci_result(struct vsmmu_sva_dev *sd, u32 *status,
				u32 *done_len)
{
	*done_len = sd->last_done;
	switch (sd->last_status) {
	case ST_OK:
		*status = VSMMU_SVA_DMA_OK;
		return 0;
	case ST_FAULT:
		*status = VSMMU_SVA_DMA_FAULT;
		return 0;
	default:
		dev_warn_ratelimited(sd->dev, "DMA refused: status %u\n",
				     sd->last_status);
		return -EIO;
	}
}

static const struct vsmmu_sva_engine vsmmu_sva_pci_engine = {
	.name = "vsmmu-sva-pci",
	.ida = &vsmmu_sva_pci_ida,
	.iopf = false,
	.start = vsmmu_sva_pci_start,
	.idle = vsmmu_sva_pci_idle,
	.result = vsmmu_sva_pci_result,
};

static int vsmmu_sva_pci_probe(struct pci_dev *pdev,
			       const struct pci_device_id *ent)
{
	struct device *dev = &pdev->dev;
	struct vsmmu_sva_dev *sd;
	u32 id, version;
	int ret;

	sd = devm_kzalloc(dev, sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	vsmmu_sva_dev_init(sd, dev, &vsmmu_sva_pci_engine);
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	sd->regs = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(sd->regs))
		return PTR_ERR(sd->regs);
	id = readl(sd->regs + REG_ID);
	version = readl(sd->regs + REG_VERSION);
	if (id != TESTDEV_ID_VALUE || version != TESTDEV_VERSION)
		return dev_err_probe(dev, -ENODEV,
				     "ID 0x%x version %u, want 0x%x version %u\n",
				     id, version, TESTDEV_ID_VALUE,
				     TESTDEV_VERSION);
	pci_set_master(pdev);
	/* PASID: the SMMU driver enabled it; no IOPF for PCI in Linux 6.12 */
	ret = iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_SVA);
	if (ret)
		return dev_err_probe(dev, ret, "no SVA\n");
	sd->mmio_phys = pci_resource_start(pdev, 0);
	sd->mmio_size = pci_resource_len(pdev, 0);
	ret = vsmmu_sva_register(sd);
	if (ret) {
		iommu_dev_disable_feature(dev, IOMMU_DEV_FEAT_SVA);
		return ret;
	}
	pci_set_drvdata(pdev, sd);
	dev_info(dev, "/dev/%s: SVA with PASID\n", sd->name);
	return 0;
}

static void vsmmu_sva_pci_remove(struct pci_dev *pdev)
{
	struct vsmmu_sva_dev *sd = pci_get_drvdata(pdev);

	vsmmu_sva_unregister(sd);
	iommu_dev_disable_feature(&pdev->dev, IOMMU_DEV_FEAT_SVA);
}

static const struct pci_device_id vsmmu_sva_pci_ids[] = {
	{ PCI_DEVICE(TESTDEV_VENDOR_ID, TESTDEV_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vsmmu_sva_pci_ids);

struct pci_driver vsmmu_sva_pci_driver = {
	.name = "vsmmu-sva-pci",
	.id_table = vsmmu_sva_pci_ids,
	.probe = vsmmu_sva_pci_probe,
	.remove = vsmmu_sva_pci_remove,
	.driver = {
		/* no driver unbind through sysfs under open files */
		.suppress_bind_attrs = true,
	},
};
