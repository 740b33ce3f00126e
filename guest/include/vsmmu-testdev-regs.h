/*
 * vsmmu-testdev: identity and BAR0 register map of the PCIe test endpoint
 *
 * The one definition of the map, shared by the QEMU device (carried
 * verbatim as include/hw/misc/vsmmu-testdev-regs.h), the guest programs
 * and docs/test-endpoint.md. Standalone C11: no includes.
 * All registers are 32-bit unless noted; 64-bit ones can also be accessed
 * as two 32-bit halves, low half first.
 *
 * Copyright (c) 2025 The vSMMU authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSMMU_TESTDEV_REGS_H
#define VSMMU_TESTDEV_REGS_H

#define TESTDEV_VENDOR_ID       0x1234      /* PCI_VENDOR_ID_QEMU */
#define TESTDEV_DEVICE_ID       0x11ec
#define TESTDEV_ID_VALUE        0x534d5576u /* "vUMS" little-endian */
#define TESTDEV_VERSION         2
#define TESTDEV_BAR_SIZE        0x1000

#define REG_ID                  0x000   /* R: TESTDEV_ID_VALUE */
#define REG_VERSION             0x004   /* R: TESTDEV_VERSION */
#define REG_COMMAND             0x008   /* W: run a command (CMD_*) */
#define REG_STATUS              0x00c   /* R: status of the last command */
#define REG_IOVA                0x010   /* RW, 64-bit: address to use */
#define REG_LEN                 0x018   /* RW: bytes, or burst requests */
#define REG_FLAGS               0x01c   /* RW: FLAG_* */
#define REG_PASID               0x020   /* RW: bits 19:0 */
#define REG_PRI                 0x024   /* RW: PRG index and PRI_* */
#define REG_CTRL                0x028   /* RW: CTRL_* */
#define REG_PR_OUTCOME          0x02c   /* R: PR_* of the last request */
#define REG_TR_ADDR             0x030   /* R, 64-bit: translated address */
#define REG_TR_INFO             0x038   /* R: TR_INFO_* */
#define REG_ATC_ENTRIES         0x03c   /* R: valid ATC entries */
#define REG_RESP_COUNT          0x040   /* R: PRG responses received */
#define REG_INV_COUNT           0x044   /* R: ATC invalidations received */
#define REG_INV_ADDR            0x048   /* R, 64-bit: last one's address */
#define REG_INV_SIZE            0x050   /* R, 64-bit: its size (0: 2^64) */
#define REG_INV_PASID           0x058   /* R: bit 31 PASID valid, 19:0 */
#define REG_CAPS                0x05c   /* R: CAPS_* */
#define REG_BURST_ACCEPTED      0x060   /* R: last burst, PR_ACCEPTED */
#define REG_BURST_REFUSED       0x064   /* R: ... PR_REFUSED */
#define REG_BURST_LOST          0x068   /* R: ... PR_LOST */
#define REG_RESP_RING           0x080   /* R: RESP_RING_SIZE x 64-bit */
#define REG_RESP_TABLE          0x400   /* R: one byte per PRG index */
#define REG_BUFFER              0x800   /* RW: DMA data */

#define RESP_RING_SIZE          8
#define PRG_INDEXES             512
#define BUFFER_SIZE             (TESTDEV_BAR_SIZE - REG_BUFFER)

/* REG_COMMAND */
#define CMD_DMA_READ            1   /* IOVA -> buffer */
#define CMD_DMA_WRITE           2   /* buffer -> IOVA */
#define CMD_ATS_TRANSLATE       3   /* translate IOVA into the ATC */
#define CMD_PAGE_REQUEST        4   /* page request for IOVA (REG_PRI) */
#define CMD_STOP_MARKER         5   /* stop marker for PASID */
#define CMD_ATC_CLEAR           6   /* drop the whole ATC */
#define CMD_CLEAR_RESULTS       7   /* zero counters, ring and results */
#define CMD_PAGE_REQUEST_BURST  8   /* LEN page requests in one go */

/* REG_STATUS */
#define ST_OK                   0
#define ST_FAULT                1   /* the DMA or translation was aborted */
#define ST_UNSUPPORTED          2   /* no ATS/PRI or PASID DMA here */
#define ST_INVALID              3   /* bad command or argument */
#define ST_BACKEND              4   /* the IOMMU's backend is gone */
#define ST_ATC_MISS             5   /* translated DMA without ATC entry */
#define ST_DISABLED             6   /* ATS/PRI not enabled in config */
#define ST_STALLED              7   /* the SMMU stalled the translation */

/* REG_FLAGS */
#define FLAG_PASID              (1u << 0)   /* request carries REG_PASID */
#define FLAG_WRITE              (1u << 1)   /* ATS: ask for write */
#define FLAG_TRANSLATED         (1u << 2)   /* DMA with the ATC's address */
#define FLAG_PRIV               (1u << 3)   /* privileged request */
#define FLAG_EXEC               (1u << 4)   /* execute request */

/* REG_PRI */
#define PRI_INDEX_MASK          0x1ffu
#define PRI_LAST                (1u << 9)
#define PRI_READ                (1u << 10)
#define PRI_WRITE               (1u << 11)
#define PRI_BURST_STOP          (1u << 12)  /* burst: end with stop marker */
#define PRI_BURST_GROUPS        (1u << 13)  /* burst: L=0 then L=1 each */

/* REG_CTRL: test-only, set the capability's Enable bit as a driver would */
#define CTRL_FORCE_PRI          (1u << 0)
#define CTRL_FORCE_ATS          (1u << 1)

/* REG_CAPS */
#define CAPS_IOMMU_ATS          (1u << 0)   /* the IOMMU serves ATS/PRI */

/* REG_PR_OUTCOME and the burst counters */
#define PR_ACCEPTED             0   /* the IOMMU took the request */
#define PR_REFUSED              1   /* the IOMMU refused it */
#define PR_LOST                 2   /* dropped: PRI queue overflow */

/* REG_TR_INFO */
#define TR_INFO_PERM_READ       (1u << 0)
#define TR_INFO_PERM_WRITE      (1u << 1)
#define TR_INFO_PERM_MASK       0x3fu
#define TR_INFO_SIZE_SHIFT      8           /* log2 of the translation */
#define TR_INFO_SIZE_MASK       0x7fu
#define TR_INFO_VALID           (1u << 31)

/*
 * REG_RESP_RING entry: bits 8:0 PRG index, 23:16 PCIe PRG Response Code,
 * 31 PASID valid, 51:32 PASID. REG_RESP_TABLE byte: bits 3:0 the latest
 * code, 7:4 a count saturating at 15.
 */
#define RESP_RING_CODE_SHIFT    16
#define RESP_RING_PASID_VALID   (1ull << 31)
#define RESP_RING_PASID_SHIFT   32
#define RESP_TABLE_CODE_MASK    0xfu
#define RESP_TABLE_COUNT_SHIFT  4
#define RESP_TABLE_COUNT_MAX    15

/* PCIe PRG Response Codes as the endpoint records them */
#define RESP_SUCCESS            0x0
#define RESP_INVALID_REQUEST    0x1
#define RESP_FAILURE            0xf

#endif /* VSMMU_TESTDEV_REGS_H */
