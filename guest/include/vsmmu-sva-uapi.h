/* SPDX-License-Identifier: GPL-2.0-or-later WITH Linux-syscall-note */
/*
 * vsmmu-sva: user API of the guest's SVA test driver (docs/sva.md)
 *
 * The driver binds a test endpoint behind the vSMMU to the calling
 * process's address space (Linux SVA: iommu_sva_bind_device() on
 * current->mm) and makes the endpoint DMA between user virtual addresses
 * with that PASID, nothing pinned. On the platform stall test device a
 * page the process has not touched faults on the device side (a stall)
 * and Linux's I/O page fault handler brings it in; on the PCIe test
 * endpoint (no I/O page faults for PCI in Linux 6.12) such a DMA faults.
 * One character device per endpoint: /dev/vsmmu-sva<N> for stall devices,
 * /dev/vsmmu-sva-pci<N> for PCIe endpoints. One binding per open file,
 * released when the file is closed. mmap() of a PCIe endpoint's device
 * (offset 0, up to its BAR0 size) maps BAR0, for tests that make the
 * endpoint send ATS and PRI requests themselves.
 *
 * Copyright (c) 2026 The vSMMU authors
 */
#ifndef VSMMU_SVA_UAPI_H
#define VSMMU_SVA_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VSMMU_SVA_IOC_MAGIC	'V'

/* VSMMU_SVA_BIND: bind the calling process's mm; returns its PASID */
struct vsmmu_sva_bind {
	__u32 pasid;		/* out */
	__u32 reserved;		/* in: 0 */
};

/* VSMMU_SVA_DMA operations */
#define VSMMU_SVA_OP_COPY	1	/* src -> dst, len bytes */
#define VSMMU_SVA_OP_FILL	2	/* pattern -> dst, len bytes */

/*
 * VSMMU_SVA_DMA outcomes (status). TIMEOUT: no end within timeout_ms,
 * and the engine stays busy (a stall nobody answered).
 */
#define VSMMU_SVA_DMA_OK	0	/* every byte transferred */
#define VSMMU_SVA_DMA_FAULT	1	/* a transaction was aborted */
#define VSMMU_SVA_DMA_TIMEOUT	2

/* Largest len of one VSMMU_SVA_DMA */
#define VSMMU_SVA_DMA_MAX_LEN	0x10000

/*
 * VSMMU_SVA_DMA: one transfer by the endpoint with the binding's PASID,
 * between user virtual addresses of the bound process (whichever process
 * holding the file asks, and also after the bound process has exited).
 * Blocks until the endpoint reports its end (or timeout_ms, 0: 10 s, at
 * most 60 s). Errors: ENOTCONN not bound, EINVAL bad op, length, timeout
 * or a FILL with a src, EBUSY the engine is still held by an earlier
 * transfer that timed out, EINTR killed while waiting. Any holder of the
 * file may ask, on purpose (a test driver for root): the device DMAs into
 * the binder's memory, as SVA devices shared between processes do.
 */
struct vsmmu_sva_dma {
	__u64 src;		/* in: user address (COPY; 0 for FILL) */
	__u64 dst;		/* in: user address */
	__u32 len;		/* in: 1..VSMMU_SVA_DMA_MAX_LEN */
	__u32 op;		/* in: VSMMU_SVA_OP_* */
	__u32 pattern;		/* in: FILL byte, 7:0 */
	__u32 timeout_ms;	/* in: 0 for the default */
	__u32 status;		/* out: VSMMU_SVA_DMA_* */
	__u32 done_len;		/* out: bytes written before the end */
};

#define VSMMU_SVA_BIND	_IOWR(VSMMU_SVA_IOC_MAGIC, 1, struct vsmmu_sva_bind)
#define VSMMU_SVA_UNBIND _IO(VSMMU_SVA_IOC_MAGIC, 2)
#define VSMMU_SVA_DMA	_IOWR(VSMMU_SVA_IOC_MAGIC, 3, struct vsmmu_sva_dma)

/*
 * VSMMU_SVA_WRPROTECT_NOFLUSH: a driver bug on purpose, for the vSMMU's
 * driver checker (docs/checker.md), refused (EPERM) unless the module
 * parameter buggy is "skip-tlbi". The argument is a page-aligned address
 * of the bound process (the caller), in an anonymous mapping, whose page
 * is present (else EFAULT); EOPNOTSUPP on a kernel with transparent huge
 * pages. That page becomes read-only in the process's page table with no
 * TLB invalidation (no mmu notifier: the SMMU is not told). Returns the
 * endpoint's StreamID.
 */
#define VSMMU_SVA_WRPROTECT_NOFLUSH _IO(VSMMU_SVA_IOC_MAGIC, 4)

/*
 * VSMMU_SVA_CD_TOGGLE_NOCFGI: the same kind of test, refused (EPERM)
 * unless buggy is "skip-cfgi". The binding's live CD, found through the
 * SMMU's registers and tables, gets its R bit toggled with no
 * CMD_CFGI_CD. Returns the endpoint's StreamID.
 */
#define VSMMU_SVA_CD_TOGGLE_NOCFGI _IO(VSMMU_SVA_IOC_MAGIC, 5)

#endif /* VSMMU_SVA_UAPI_H */
