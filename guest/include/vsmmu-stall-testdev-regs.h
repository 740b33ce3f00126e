/*
 * vsmmu-stall-testdev: register map of the platform DMA master that stalls
 *
 * The one definition of the map, shared by the QEMU device (carried
 * verbatim as include/hw/misc/vsmmu-stall-testdev-regs.h), guest code and
 * docs/test-endpoint.md. Standalone C11: no includes.
 *
 * A platform device (not PCI) behind the vsmmu, with one StreamID (the
 * device tree's "iommus") and "dma-can-stall": its DMA engine runs in its
 * own thread, so a transaction the SMMU stalls waits there until the
 * guest's CMD_RESUME retries or aborts it. All registers are 32-bit; the
 * 64-bit addresses are two halves, low first.
 *
 * Copyright (c) 2025 The vSMMU authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSMMU_STALL_TESTDEV_REGS_H
#define VSMMU_STALL_TESTDEV_REGS_H

#define STALLDEV_COMPATIBLE     "vsmmu,stall-testdev"
#define STALLDEV_ID_VALUE       0x6c747376u /* "vstl" little-endian */
#define STALLDEV_VERSION        2
#define STALLDEV_MMIO_SIZE      0x1000
#define STALLDEV_MAX_LEN        0x10000     /* bytes per command */

#define STALLDEV_REG_ID         0x00    /* R: STALLDEV_ID_VALUE */
#define STALLDEV_REG_VERSION    0x04    /* R: STALLDEV_VERSION */
#define STALLDEV_REG_SRC_LO     0x08    /* RW: source input address */
#define STALLDEV_REG_SRC_HI     0x0c
#define STALLDEV_REG_DST_LO     0x10    /* RW: destination input address */
#define STALLDEV_REG_DST_HI     0x14
#define STALLDEV_REG_LEN        0x18    /* RW: bytes, 1..STALLDEV_MAX_LEN */
#define STALLDEV_REG_PATTERN    0x1c    /* RW: STALLDEV_CMD_FILL byte, 7:0 */
#define STALLDEV_REG_SSID       0x20    /* RW: SubstreamID, 19:0 */
#define STALLDEV_REG_FLAGS      0x24    /* RW: STALLDEV_FLAG_* */
#define STALLDEV_REG_COMMAND    0x28    /* W: start STALLDEV_CMD_* */
#define STALLDEV_REG_STATUS     0x2c    /* R: STALLDEV_ST_* */
#define STALLDEV_REG_DONE_LEN   0x30    /* R: bytes written by the last */
#define STALLDEV_REG_IRQ_STATUS 0x34    /* R, W1C: STALLDEV_IRQ_* */

/* STALLDEV_REG_SSID: 20 bits, the SMMU's largest SubstreamID */
#define STALLDEV_SSID_BITS      20
#define STALLDEV_SSID_MASK      ((1u << STALLDEV_SSID_BITS) - 1)

/* STALLDEV_REG_FLAGS (SSID 0 with SSV: no SubstreamID, as without) */
#define STALLDEV_FLAG_SSV       (1u << 0)   /* transactions carry SSID */

/* STALLDEV_REG_COMMAND */
#define STALLDEV_CMD_COPY       1   /* SRC -> DST, LEN bytes */
#define STALLDEV_CMD_FILL       2   /* PATTERN -> DST, LEN bytes */

/* STALLDEV_REG_IRQ_STATUS */
#define STALLDEV_IRQ_DONE       (1u << 0)   /* a command ended */

/* STALLDEV_REG_STATUS */
#define STALLDEV_ST_IDLE        0
#define STALLDEV_ST_BUSY        1   /* running, or held by a stall */
#define STALLDEV_ST_OK          2
#define STALLDEV_ST_FAULT       3   /* a transaction was aborted */
#define STALLDEV_ST_BAD_CMD     4   /* bad command, length, or busy */

#endif
