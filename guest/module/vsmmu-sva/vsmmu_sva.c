// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vsmmu-sva: SVA test driver for the vSMMU's platform stall test device
 *
 * Binds a process's address space to the vsmmu-stall-testdev through a
 * PASID (iommu_sva_bind_device() on current->mm) and makes the device DMA
 * between that process's virtual addresses. Nothing is pinned: a page the
 * device finds missing stalls its transaction, Linux's I/O page fault
 * handler faults the page in and resumes it with CMD_RESUME, or aborts it.
 * The user API is vsmmu-sva-uapi.h (docs/sva.md); the device's register
 * map is vsmmu-stall-testdev-regs.h.
 *
 * Copyright (c) 2026 The vSMMU authors
 */

#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mod_devicetable.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "vsmmu-sva-uapi.h"
#include "vsmmu-stall-testdev-regs.h"

#define VSMMU_SVA_DEFAULT_TIMEOUT_MS	10000
#define VSMMU_SVA_MAX_TIMEOUT_MS	60000
/* How long release waits for its binding's transfer before it unbinds */
#define VSMMU_SVA_RELEASE_WAIT_MS	60000

static_assert(VSMMU_SVA_DMA_MAX_LEN == STALLDEV_MAX_LEN);

static DEFINE_IDA(vsmmu_sva_ida);

struct vsmmu_sva_dev {
	struct device *dev;
	void __iomem *regs;
	struct miscdevice misc;
	char name[24];
	int id;
	/* one transfer at a time: the device has one engine */
	struct mutex engine;
	wait_queue_head_t wq;	/* woken when a transfer ends */
	/*
	 * The file whose transfer the engine runs (meaningful while STATUS
	 * is busy): it may outlive its ioctl's timeout, held by a stall
	 */
	struct vsmmu_sva_ctx *owner;
};

/*
 * One open file: at most one binding, of the process that made it. Any
 * holder of the file may make the device DMA with the binding's PASID:
 * the addresses are the bound process's, whoever asks, and stay so after
 * that process has exited (its mm released: the device then faults).
 */
struct vsmmu_sva_ctx {
	struct vsmmu_sva_dev *sd;
	struct mutex lock;	/* serialises the file's ioctls: handle, pasid */
	struct iommu_sva *handle;
	u32 pasid;
};

static irqreturn_t vsmmu_sva_irq(int irq, void *data)
{
	struct vsmmu_sva_dev *sd = data;
	u32 st = readl(sd->regs + STALLDEV_REG_IRQ_STATUS);

	if (!(st & STALLDEV_IRQ_DONE))
		return IRQ_NONE;
	writel(STALLDEV_IRQ_DONE, sd->regs + STALLDEV_REG_IRQ_STATUS);
	wake_up(&sd->wq);
	return IRQ_HANDLED;
}

static bool vsmmu_sva_idle(struct vsmmu_sva_dev *sd)
{
	return readl(sd->regs + STALLDEV_REG_STATUS) != STALLDEV_ST_BUSY;
}

static int vsmmu_sva_open(struct inode *inode, struct file *file)
{
	struct vsmmu_sva_dev *sd = container_of(file->private_data,
						struct vsmmu_sva_dev, misc);
	struct vsmmu_sva_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->sd = sd;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

/*
 * The device must issue no more transactions with the PASID before it is
 * unbound (iommu_sva_unbind_device()), and no fault of it may still be
 * on its way: wait for a transfer of this binding that outlived its
 * ioctl, then flush the I/O page fault queue. A transfer held for ever
 * (a stall nobody answers) leaks the binding rather than freeing what
 * the fault handler may still use.
 */
static void vsmmu_sva_unbind_locked(struct vsmmu_sva_ctx *ctx)
{
	struct vsmmu_sva_dev *sd = ctx->sd;
	bool idle;

	if (!ctx->handle)
		return;
	mutex_lock(&sd->engine);
	idle = sd->owner != ctx ||
	       wait_event_timeout(sd->wq, vsmmu_sva_idle(sd),
				  msecs_to_jiffies(VSMMU_SVA_RELEASE_WAIT_MS));
	if (idle && sd->owner == ctx)
		sd->owner = NULL;
	mutex_unlock(&sd->engine);
	if (!idle) {
		dev_warn(sd->dev, "PASID %u: a transfer is still held after %u ms; binding leaked\n",
			 ctx->pasid, VSMMU_SVA_RELEASE_WAIT_MS);
		ctx->handle = NULL;
		return;
	}
	iopf_queue_flush_dev(sd->dev);
	iommu_sva_unbind_device(ctx->handle);
	ctx->handle = NULL;
	ctx->pasid = 0;
}

static int vsmmu_sva_release(struct inode *inode, struct file *file)
{
	struct vsmmu_sva_ctx *ctx = file->private_data;

	mutex_lock(&ctx->lock);
	vsmmu_sva_unbind_locked(ctx);
	mutex_unlock(&ctx->lock);
	kfree(ctx);
	return 0;
}

static long vsmmu_sva_bind(struct vsmmu_sva_ctx *ctx, void __user *arg)
{
	struct vsmmu_sva_bind b;
	struct iommu_sva *handle;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.reserved)
		return -EINVAL;
	if (ctx->handle)
		return -EBUSY;
	handle = iommu_sva_bind_device(ctx->sd->dev, current->mm);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	ctx->handle = handle;
	ctx->pasid = iommu_sva_get_pasid(handle);
	b.pasid = ctx->pasid;
	if (copy_to_user(arg, &b, sizeof(b))) {
		vsmmu_sva_unbind_locked(ctx);
		return -EFAULT;
	}
	dev_dbg(ctx->sd->dev, "pid %d bound, PASID %u\n",
		task_pid_nr(current), ctx->pasid);
	return 0;
}

static long vsmmu_sva_dma(struct vsmmu_sva_ctx *ctx, void __user *arg)
{
	struct vsmmu_sva_dev *sd = ctx->sd;
	struct vsmmu_sva_dma d;
	long timeout, left;
	u32 cmd, st;
	int ret;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	if (!ctx->handle)
		return -ENOTCONN;
	switch (d.op) {
	case VSMMU_SVA_OP_COPY:
		cmd = STALLDEV_CMD_COPY;
		break;
	case VSMMU_SVA_OP_FILL:
		cmd = STALLDEV_CMD_FILL;
		break;
	default:
		return -EINVAL;
	}
	if (!d.len || d.len > VSMMU_SVA_DMA_MAX_LEN || d.pattern > 0xff ||
	    d.timeout_ms > VSMMU_SVA_MAX_TIMEOUT_MS ||
	    (d.op == VSMMU_SVA_OP_FILL && d.src))
		return -EINVAL;

	ret = mutex_lock_killable(&sd->engine);
	if (ret)
		return ret;
	if (!vsmmu_sva_idle(sd)) {
		mutex_unlock(&sd->engine);
		return -EBUSY;
	}
	sd->owner = ctx;
	writel(lower_32_bits(d.src), sd->regs + STALLDEV_REG_SRC_LO);
	writel(upper_32_bits(d.src), sd->regs + STALLDEV_REG_SRC_HI);
	writel(lower_32_bits(d.dst), sd->regs + STALLDEV_REG_DST_LO);
	writel(upper_32_bits(d.dst), sd->regs + STALLDEV_REG_DST_HI);
	writel(d.len, sd->regs + STALLDEV_REG_LEN);
	writel(d.pattern, sd->regs + STALLDEV_REG_PATTERN);
	writel(ctx->pasid, sd->regs + STALLDEV_REG_SSID);
	writel(STALLDEV_FLAG_SSV, sd->regs + STALLDEV_REG_FLAGS);
	writel(cmd, sd->regs + STALLDEV_REG_COMMAND);

	/* the status, not the interrupt, says it ended: no stale wake-up */
	timeout = msecs_to_jiffies(d.timeout_ms ? d.timeout_ms :
				   VSMMU_SVA_DEFAULT_TIMEOUT_MS);
	left = wait_event_killable_timeout(sd->wq, vsmmu_sva_idle(sd), timeout);
	st = readl(sd->regs + STALLDEV_REG_STATUS);
	d.done_len = readl(sd->regs + STALLDEV_REG_DONE_LEN);
	mutex_unlock(&sd->engine);

	if (left < 0)
		return left;	/* killed; the transfer is still ours */
	if (st == STALLDEV_ST_BUSY)
		d.status = VSMMU_SVA_DMA_TIMEOUT;
	else if (st == STALLDEV_ST_OK)
		d.status = VSMMU_SVA_DMA_OK;
	else if (st == STALLDEV_ST_FAULT)
		d.status = VSMMU_SVA_DMA_FAULT;
	else
		return -EIO;	/* refused by the device: a driver bug */
	if (copy_to_user(arg, &d, sizeof(d)))
		return -EFAULT;
	return 0;
}

static long vsmmu_sva_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct vsmmu_sva_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&ctx->lock);
	switch (cmd) {
	case VSMMU_SVA_BIND:
		ret = vsmmu_sva_bind(ctx, uarg);
		break;
	case VSMMU_SVA_UNBIND:
		ret = ctx->handle ? 0 : -ENOTCONN;
		vsmmu_sva_unbind_locked(ctx);
		break;
	case VSMMU_SVA_DMA:
		ret = vsmmu_sva_dma(ctx, uarg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static const struct file_operations vsmmu_sva_fops = {
	.owner = THIS_MODULE,
	.open = vsmmu_sva_open,
	.release = vsmmu_sva_release,
	.unlocked_ioctl = vsmmu_sva_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static int vsmmu_sva_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct vsmmu_sva_dev *sd;
	u32 id, version;
	int irq, ret;

	sd = devm_kzalloc(dev, sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	sd->dev = dev;
	mutex_init(&sd->engine);
	init_waitqueue_head(&sd->wq);
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
	if (!vsmmu_sva_idle(sd))
		return dev_err_probe(dev, -EBUSY, "the engine is busy\n");
	writel(STALLDEV_IRQ_DONE, sd->regs + STALLDEV_REG_IRQ_STATUS);
	irq = platform_get_irq(pdev, 0);
	if (irq < 0)
		return irq;
	ret = devm_request_irq(dev, irq, vsmmu_sva_irq, 0, dev_name(dev), sd);
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

	sd->id = ida_alloc(&vsmmu_sva_ida, GFP_KERNEL);
	if (sd->id < 0) {
		ret = sd->id;
		goto err_sva;
	}
	snprintf(sd->name, sizeof(sd->name), "vsmmu-sva%d", sd->id);
	sd->misc.minor = MISC_DYNAMIC_MINOR;
	sd->misc.name = sd->name;
	sd->misc.fops = &vsmmu_sva_fops;
	sd->misc.parent = dev;
	ret = misc_register(&sd->misc);
	if (ret)
		goto err_ida;
	platform_set_drvdata(pdev, sd);
	dev_info(dev, "/dev/%s: SVA with stall (IRQ %d)\n", sd->name, irq);
	return 0;

err_ida:
	ida_free(&vsmmu_sva_ida, sd->id);
err_sva:
	iommu_dev_disable_feature(dev, IOMMU_DEV_FEAT_SVA);
err_iopf:
	iommu_dev_disable_feature(dev, IOMMU_DEV_FEAT_IOPF);
	return ret;
}

static void vsmmu_sva_remove(struct platform_device *pdev)
{
	struct vsmmu_sva_dev *sd = platform_get_drvdata(pdev);

	misc_deregister(&sd->misc);
	ida_free(&vsmmu_sva_ida, sd->id);
	iommu_dev_disable_feature(&pdev->dev, IOMMU_DEV_FEAT_SVA);
	iommu_dev_disable_feature(&pdev->dev, IOMMU_DEV_FEAT_IOPF);
}

static const struct of_device_id vsmmu_sva_of_match[] = {
	{ .compatible = STALLDEV_COMPATIBLE },
	{ }
};
MODULE_DEVICE_TABLE(of, vsmmu_sva_of_match);

static struct platform_driver vsmmu_sva_driver = {
	.probe = vsmmu_sva_probe,
	.remove = vsmmu_sva_remove,
	.driver = {
		.name = "vsmmu-sva",
		.of_match_table = vsmmu_sva_of_match,
		/* open files hold the device: no unbinding under them */
		.suppress_bind_attrs = true,
	},
};
module_platform_driver(vsmmu_sva_driver);

MODULE_DESCRIPTION("SVA test driver for the vSMMU's stall test device");
MODULE_AUTHOR("The vSMMU authors");
MODULE_LICENSE("GPL");
