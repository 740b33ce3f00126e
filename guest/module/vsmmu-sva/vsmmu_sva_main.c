// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vsmmu-sva: SVA test driver for the vSMMU's test endpoints
 *
 * Binds a process's address space to an endpoint through a PASID
 * (iommu_sva_bind_device() on current->mm) and makes the endpoint DMA
 * between that process's virtual addresses. Nothing is pinned. On the
 * platform stall test device a page the device finds missing stalls its
 * transaction, and Linux's I/O page fault handler faults the page in and
 * resumes it with CMD_RESUME, or aborts it; on the PCIe test endpoint
 * (Linux 6.12 has no PRI-based I/O page faults for SMMUv3) such a DMA
 * faults. The user API is vsmmu-sva-uapi.h (docs/sva.md). This file is
 * the character device; the endpoints are in vsmmu_sva_stall.c and
 * vsmmu_sva_pci.c.
 *
 * Copyright (c) 2026 The vSMMU authors
 */

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "vsmmu-sva-uapi.h"
#include "vsmmu_sva.h"

#define VSMMU_SVA_DEFAULT_TIMEOUT_MS	10000
#define VSMMU_SVA_MAX_TIMEOUT_MS	60000
/* How long release waits for its binding's transfer before it unbinds */
#define VSMMU_SVA_RELEASE_WAIT_MS	60000

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
	/* the bound address space, compared only (no reference held) */
	const struct mm_struct *mm;
};

/*
 * buggy (writable in sysfs): a driver bug on purpose, for the vSMMU's
 * driver checker (docs/checker.md). "skip-tlbi" enables
 * VSMMU_SVA_WRPROTECT_NOFLUSH, which write-protects one page of the bound
 * address space and then, as a driver that forgets its invalidation
 * would, tells no TLB: neither the CPU's nor, through the mmu notifier,
 * the SMMU's (rule tlbi). "skip-cfgi" enables VSMMU_SVA_CD_TOGGLE_NOCFGI,
 * which changes the binding's live CD and sends no CMD_CFGI_CD (rule
 * cfgi). Empty (the default): both are refused.
 */
static char buggy[16];
module_param_string(buggy, buggy, sizeof(buggy), 0644);
MODULE_PARM_DESC(buggy, "skip-tlbi or skip-cfgi: allow the ioctl that makes that mistake, for the vSMMU checker");

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
	       wait_event_timeout(sd->wq, sd->ops->idle(sd),
				  msecs_to_jiffies(VSMMU_SVA_RELEASE_WAIT_MS));
	/* idle, or held for ever: then the file goes, leaking the binding */
	if (sd->owner == ctx)
		sd->owner = NULL;
	mutex_unlock(&sd->engine);
	if (!idle) {
		dev_warn(sd->dev, "PASID %u: a transfer is still held after %u ms; binding leaked\n",
			 ctx->pasid, VSMMU_SVA_RELEASE_WAIT_MS);
		ctx->handle = NULL;
		return;
	}
	if (sd->ops->iopf)
		iopf_queue_flush_dev(sd->dev);
	iommu_sva_unbind_device(ctx->handle);
	ctx->handle = NULL;
	ctx->pasid = 0;
	ctx->mm = NULL;
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
	ctx->mm = current->mm;
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
	int ret;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	if (!ctx->handle)
		return -ENOTCONN;
	if ((d.op != VSMMU_SVA_OP_COPY && d.op != VSMMU_SVA_OP_FILL) ||
	    !d.len || d.len > VSMMU_SVA_DMA_MAX_LEN || d.pattern > 0xff ||
	    d.timeout_ms > VSMMU_SVA_MAX_TIMEOUT_MS ||
	    (d.op == VSMMU_SVA_OP_FILL && d.src))
		return -EINVAL;

	ret = mutex_lock_killable(&sd->engine);
	if (ret)
		return ret;
	if (!sd->ops->idle(sd)) {
		mutex_unlock(&sd->engine);
		return -EBUSY;
	}
	sd->owner = ctx;
	ret = sd->ops->start(sd, &d, ctx->pasid);
	if (ret) {
		mutex_unlock(&sd->engine);
		return ret;
	}
	/* the engine's state, not the interrupt, says it ended */
	timeout = msecs_to_jiffies(d.timeout_ms ? d.timeout_ms :
				   VSMMU_SVA_DEFAULT_TIMEOUT_MS);
	left = wait_event_killable_timeout(sd->wq, sd->ops->idle(sd), timeout);
	if (left < 0) {
		mutex_unlock(&sd->engine);
		return left;	/* killed; the transfer is still ours */
	}
	if (!sd->ops->idle(sd)) {
		d.status = VSMMU_SVA_DMA_TIMEOUT;
		d.done_len = 0;
		ret = 0;
	} else {
		ret = sd->ops->result(sd, &d.status, &d.done_len);
	}
	mutex_unlock(&sd->engine);
	if (ret)
		return ret;
	if (copy_to_user(arg, &d, sizeof(d)))
		return -EFAULT;
	return 0;
}

static int vsmmu_sva_wrprotect_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct mm_struct *mm = data;

	if (!pte_present(ptep_get(ptep)))
		return -EFAULT;
	/* callers of this flush next; here nothing does: the bug to show */
	ptep_set_wrprotect(mm, addr, ptep);
	return 0;
}

/*
 * VSMMU_SVA_WRPROTECT_NOFLUSH (buggy=skip-tlbi only): the page at @addr
 * of the caller, which must be the bound process, becomes read-only in
 * its page table with no TLB invalidation. Returns the endpoint's
 * StreamID, which the checker's report names.
 */
static long vsmmu_sva_wrprotect_noflush(struct vsmmu_sva_ctx *ctx,
					unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct iommu_fwspec *fwspec;
	struct vm_area_struct *vma;
	long ret;

	if (!sysfs_streq(buggy, "skip-tlbi"))
		return -EPERM;
	/* a huge page would need splitting first: 4 KiB pages only */
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		return -EOPNOTSUPP;
	if (!ctx->handle)
		return -ENOTCONN;
	if (!mm || mm != ctx->mm || !PAGE_ALIGNED(addr))
		return -EINVAL;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	/* inside an anonymous mapping; its PTE must be present (EFAULT) */
	if (!vma || !vma_is_anonymous(vma))
		ret = -EINVAL;
	else
		ret = apply_to_page_range(mm, addr, PAGE_SIZE,
					  vsmmu_sva_wrprotect_pte, mm);
	mmap_read_unlock(mm);
	if (ret)
		return ret;
	fwspec = dev_iommu_fwspec_get(ctx->sd->dev);
	return fwspec && fwspec->num_ids ? fwspec->ids[0] : 0;
}

/*
 * The SMMU's layout, as the SMMU reads it (IHI 0070 6.3.24, 6.3.25:
 * STRTAB_BASE, STRTAB_BASE_CFG; 5.1 L1STD; 5.2 STE; 5.3 L1CD; 5.4 CD).
 */
#define VSMMU_SMMU_STRTAB_BASE		0x80
#define VSMMU_SMMU_STRTAB_BASE_CFG	0x88
#define VSMMU_STRTAB_FMT_2LVL		1
#define VSMMU_ADDR_MASK			GENMASK_ULL(51, 6)
#define VSMMU_STE_V			BIT_ULL(0)
#define VSMMU_STE_CFG_S1		(5ULL << 1)	/* Config 0b101 */
#define VSMMU_L1CD_L2PTR		GENMASK_ULL(51, 12)
#define VSMMU_CD_V			BIT_ULL(31)
#define VSMMU_CD_R			BIT_ULL(45)

/* One 64-bit word of a table in RAM, by physical address */
static int vsmmu_sva_table_word(phys_addr_t pa, u64 *word)
{
	u64 *p = memremap(pa, sizeof(*p), MEMREMAP_WB);

	if (!p)
		return -ENOMEM;
	*word = READ_ONCE(*p);
	memunmap(p);
	return 0;
}

/*
 * The physical address of the CD of @ssid for the endpoint's StreamID,
 * found through the SMMU's registers and tables as the SMMU finds it.
 */
static int vsmmu_sva_find_cd(struct vsmmu_sva_dev *sd, u32 ssid, u32 *sid,
			     phys_addr_t *cd)
{
	struct iommu_fwspec *fwspec = dev_iommu_fwspec_get(sd->dev);
	u64 base, ste, l1, ptr;
	struct device *smmu;
	struct resource *res;
	void __iomem *regs;
	u32 cfg, split, fmt;
	phys_addr_t pa;
	int ret;

	if (!fwspec || !fwspec->num_ids)
		return -ENODEV;
	*sid = fwspec->ids[0];
	smmu = bus_find_device_by_fwnode(&platform_bus_type,
					 fwspec->iommu_fwnode);
	if (!smmu)
		return -ENODEV;
	res = platform_get_resource(to_platform_device(smmu), IORESOURCE_MEM, 0);
	regs = res ? ioremap(res->start, SZ_4K) : NULL;
	put_device(smmu);
	if (!regs)
		return -ENODEV;
	base = readq(regs + VSMMU_SMMU_STRTAB_BASE) & VSMMU_ADDR_MASK;
	cfg = readl(regs + VSMMU_SMMU_STRTAB_BASE_CFG);
	iounmap(regs);
	fmt = (cfg >> 16) & 3;
	split = (cfg >> 6) & 0x1f;
	pa = base + (phys_addr_t)*sid * 64;
	if (fmt == VSMMU_STRTAB_FMT_2LVL) {
		ret = vsmmu_sva_table_word(base + (*sid >> split) * 8, &l1);
		if (ret)
			return ret;
		pa = (l1 & VSMMU_ADDR_MASK) +
		     (phys_addr_t)(*sid & (BIT(split) - 1)) * 64;
	}
	ret = vsmmu_sva_table_word(pa, &ste);
	if (ret)
		return ret;
	if (!(ste & VSMMU_STE_V) || (ste & GENMASK_ULL(3, 1)) != VSMMU_STE_CFG_S1)
		return -ENODEV;
	ptr = ste & VSMMU_ADDR_MASK;
	switch ((ste >> 4) & 3) {	/* S1Fmt */
	case 0:
		*cd = ptr + (phys_addr_t)ssid * 64;
		return 0;
	case 1:
		split = 6;	/* 4 KiB leaves: 64 CDs */
		break;
	default:
		split = 10;	/* 64 KiB leaves: 1024 CDs */
		break;
	}
	ret = vsmmu_sva_table_word(ptr + (ssid >> split) * 8, &l1);
	if (ret)
		return ret;
	if (!(l1 & 1))
		return -ENODEV;
	*cd = (l1 & VSMMU_L1CD_L2PTR) + (phys_addr_t)(ssid & (BIT(split) - 1)) * 64;
	return 0;
}

/*
 * VSMMU_SVA_CD_TOGGLE_NOCFGI (buggy=skip-cfgi only): toggles CD.R of the
 * binding's live CD, one 64-bit store, and sends no CMD_CFGI_CD. Returns
 * the endpoint's StreamID.
 */
static long vsmmu_sva_cd_toggle_nocfgi(struct vsmmu_sva_ctx *ctx)
{
	phys_addr_t pa;
	u64 *word;
	u32 sid;
	int ret;

	if (!sysfs_streq(buggy, "skip-cfgi"))
		return -EPERM;
	if (!ctx->handle)
		return -ENOTCONN;
	ret = vsmmu_sva_find_cd(ctx->sd, ctx->pasid, &sid, &pa);
	if (ret)
		return ret;
	word = memremap(pa, sizeof(*word), MEMREMAP_WB);
	if (!word)
		return -ENOMEM;
	if (READ_ONCE(*word) & VSMMU_CD_V)
		WRITE_ONCE(*word, READ_ONCE(*word) ^ VSMMU_CD_R);
	else
		ret = -ENODEV;
	memunmap(word);
	return ret ? ret : sid;
}

/*
 * mmap: the endpoint's registers, for tests that drive what the driver
 * does not (the PCIe endpoint's ATS and PRI requests, docs/sva.md). Raw
 * register access can make the endpoint DMA with any PASID and races the
 * driver's own transfers: CAP_SYS_RAWIO only, shared mappings only.
 */
static int vsmmu_sva_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vsmmu_sva_ctx *ctx = file->private_data;
	struct vsmmu_sva_dev *sd = ctx->sd;

	if (!sd->mmio_size)
		return -ENODEV;
	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vma->vm_page_prot = pgprot_device(vma->vm_page_prot);
	/* checks offset and size against the BAR, whatever the page size */
	return vm_iomap_memory(vma, sd->mmio_phys, sd->mmio_size);
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
	case VSMMU_SVA_WRPROTECT_NOFLUSH:
		ret = vsmmu_sva_wrprotect_noflush(ctx, arg);
		break;
	case VSMMU_SVA_CD_TOGGLE_NOCFGI:
		ret = vsmmu_sva_cd_toggle_nocfgi(ctx);
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
	.mmap = vsmmu_sva_mmap,
};

/* First of all, before the endpoint's interrupt can fire */
void vsmmu_sva_dev_init(struct vsmmu_sva_dev *sd, struct device *dev,
			const struct vsmmu_sva_engine *ops)
{
	sd->dev = dev;
	sd->ops = ops;
	mutex_init(&sd->engine);
	init_waitqueue_head(&sd->wq);
}

/* A character device for an endpoint whose SVA is enabled */
int vsmmu_sva_register(struct vsmmu_sva_dev *sd)
{
	int ret;

	sd->id = ida_alloc(sd->ops->ida, GFP_KERNEL);
	if (sd->id < 0)
		return sd->id;
	snprintf(sd->name, sizeof(sd->name), "%s%d", sd->ops->name, sd->id);
	sd->misc.minor = MISC_DYNAMIC_MINOR;
	sd->misc.name = sd->name;
	sd->misc.fops = &vsmmu_sva_fops;
	sd->misc.parent = sd->dev;
	ret = misc_register(&sd->misc);
	if (ret) {
		ida_free(sd->ops->ida, sd->id);
		return ret;
	}
	return 0;
}

void vsmmu_sva_unregister(struct vsmmu_sva_dev *sd)
{
	misc_deregister(&sd->misc);
	ida_free(sd->ops->ida, sd->id);
}

static int __init vsmmu_sva_init(void)
{
	int ret;

	ret = platform_driver_register(&vsmmu_sva_stall_driver);
	if (ret)
		return ret;
	ret = pci_register_driver(&vsmmu_sva_pci_driver);
	if (ret)
		platform_driver_unregister(&vsmmu_sva_stall_driver);
	return ret;
}
module_init(vsmmu_sva_init);

static void __exit vsmmu_sva_exit(void)
{
	pci_unregister_driver(&vsmmu_sva_pci_driver);
	platform_driver_unregister(&vsmmu_sva_stall_driver);
}
module_exit(vsmmu_sva_exit);

MODULE_DESCRIPTION("SVA test driver for the vSMMU's test endpoints");
MODULE_AUTHOR("The vSMMU authors");
MODULE_LICENSE("GPL");
