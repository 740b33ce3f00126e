// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vsmmu-sva: the platform stall test device (vsmmu-stall-testdev-regs.h)
 *
 * Its engine runs in its own thread: a transaction the SMMU stalls waits
 * there until Linux's I/O page fault handler resumes or aborts it, and
 * the end of each transfer raises STALLDEV_IRQ_DONE.
 *
 * Copyright (c) 2026 The vSMMU authors
 */

#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/mod_devicetable.h>
#include <linux/platform_device.h>

#include "vsmmu-sva-uapi.h"
#include "vsmmu-stall-testdev-regs.h"
#include "vsmmu_sva.h"

static_assert(VSMMU_SVA_DMA_MAX_LEN == STALLDEV_MAX_LEN);

static DEFINE_IDA(vsmmu_sva_stall_ida);

static irqreturn_t vsmmu_sva_stall_irq(int irq, void *data)
{
	struct vsmmu_sva_dev *sd = data;
	u32 st = readl(sd->regs + STALLDEV_REG_IRQ_STATUS);

	if (!(st & STALLDEV_IRQ_DONE))
		return IRQ_NONE;
	writel(STALLDEV_IRQ_DONE, sd->regs + STALLDEV_REG_IRQ_STATUS);
	wake_up(&sd->wq);
	return IRQ_HANDLED;
}

static bool vsmmu_sva_stall_idle(struct vsmmu_sva_dev *sd)
{
	return readl(sd->regs + STALLDEV_REG_STATUS) != STALLDEV_ST_BUSY;
}

static int vsmmu_sva_stall_start(struct vsmmu_sva_dev *sd,
				 const struct vsmmu_sva_dma *d, u32 pasid)
{
	u32 cmd = d->op == VSMMU_SVA_OP_COPY ? STALLDEV_CMD_COPY :
					       STALLDEV_CMD_FILL;

	writel(lower_32_bits(d->src), sd->regs + STALLDEV_REG_SRC_LO);
	writel(upper_32_bits(d->src), sd->regs + STALLDEV_REG_SRC_HI);
	writel(lower_32_bits(d->dst), sd->regs + STALLDEV_REG_DST_LO);
	writel(upper_32_bits(d->dst), sd->regs + STALLDEV_REG_DST_HI);
	writel(d->len, sd->regs + STALLDEV_REG_LEN);
	writel(d->pattern, sd->regs + STALLDEV_REG_PATTERN);
	writel(pasid, sd->regs + STALLDEV_REG_SSID);
	writel(STALLDEV_FLAG_SSV, sd->regs + STALLDEV_REG_FLAGS);
	writel(cmd, sd->regs + STALLDEV_REG_COMMAND);
	return 0;
}

static int vsmmu_sva_stall_result(struct vsmmu_sva_dev *sd, u32 *status,
				  u32 *done_len)
{
	u32 st = readl(sd->regs + STALLDEV_REG_STATUS);

	*done_len = readl(sd->regs + STALLDEV_REG_DONE_LEN);
	if (st == STALLDEV_ST_OK)
		*status = VSMMU_SVA_DMA_OK;
	else if (st == STALLDEV_ST_FAULT)
		*status = VSMMU_SVA_DMA_FAULT;
	else
		return -EIO;	/* refused by the device: a driver bug */
	return 0;
}

static const struct vsmmu_sva_engine vsmmu_sva_stall_engine = {
	.name = "vsmmu-sva",
	.ida = &vsmmu_sva_stall_ida,
	.iopf = true,
	.start = vsmmu_sva_stall_start,
	.idle = vsmmu_sva_stall_idle,
	.result = vsmmu_sva_stall_result,
};

static int vsmmu_sva_stall_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct vsmmu_sva_dev *sd;
	u32 id, version;
	int irq, ret;

	sd = devm_kzalloc(dev, sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	vsmmu_sva_dev_init(sd, dev, &vsmmu_sva_stall_engine);
	sd->regs = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(sd->regs))
		return PTR_ERR(sd->regs);
	id = readl(sd->regs + STALLDEV_REG_ID);
	version = readl(sd->regs + STALLDEV_REG_VERSION);
	if (id != STALLDEV_ID_VALUE || version != STALLDEV_VERSION)
		return dev_err_probe(dev, -ENODEV,
				     "ID 0x%x version %u, want 0x%x version %u\n",
				     id, version, STALLDEV_ID_VALUE,
				     STALLDEV_VERSION);
	if (!vsmmu_sva_stall_idle(sd))
		return dev_err_probe(dev, -EBUSY, "the engine is busy\n");
	writel(STALLDEV_IRQ_DONE, sd->regs + STALLDEV_REG_IRQ_STATUS);
	irq = platform_get_irq(pdev, 0);
	if (irq < 0)
		return irq;
	ret = devm_request_irq(dev, irq, vsmmu_sva_stall_irq, 0, dev_name(dev),
			       sd);
	if (ret)
		return ret;

	/* stall-based I/O page faults first, then SVA (IOMMU_DEV_FEAT_*) */
	ret = iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_IOPF);
	if (ret)
		return dev_err_probe(dev, ret, "no I/O page faults\n");
	ret = iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_SVA);
	if (ret) {
		ret = dev_err_probe(dev, ret, "no SVA\n");
		goto err_iopf;
	}
	ret = vsmmu_sva_register(sd);
	if (ret)
		goto err_sva;
	platform_set_drvdata(pdev, sd);
	dev_info(dev, "/dev/%s: SVA with stall (IRQ %d)\n", sd->name, irq);
	return 0;

err_sva:
	iommu_dev_disable_feature(dev, IOMMU_DEV_FEAT_SVA);
err_iopf:
	iommu_dev_disable_feature(dev, IOMMU_DEV_FEAT_IOPF);
	return ret;
}

static void vsmmu_sva_stall_remove(struct platform_device *pdev)
{
	struct vsmmu_sva_dev *sd = platform_get_drvdata(pdev);

	vsmmu_sva_unregister(sd);
	iommu_dev_disable_feature(&pdev->dev, IOMMU_DEV_FEAT_SVA);
	iommu_dev_disable_feature(&pdev->dev, IOMMU_DEV_FEAT_IOPF);
}

static const struct of_device_id vsmmu_sva_stall_of_match[] = {
	{ .compatible = STALLDEV_COMPATIBLE },
	{ }
};
MODULE_DEVICE_TABLE(of, vsmmu_sva_stall_of_match);

struct platform_driver vsmmu_sva_stall_driver = {
	.probe = vsmmu_sva_stall_probe,
	.remove = vsmmu_sva_stall_remove,
	.driver = {
		.name = "vsmmu-sva",
		.of_match_table = vsmmu_sva_stall_of_match,
		/* open files hold the device: no unbinding under them */
		.suppress_bind_attrs = true,
	},
};
