/*
 * vsmmu wire protocol, version 1
 *
 * Messages exchanged between a vsmmu front end (QEMU's vsmmu device) and
 * an out-of-process SMMUv3 backend. Every message is a VSMMUMsgHeader and
 * its payload. All fields are little-endian and laid out without padding;
 * the sizes are checked at build time below.
 *
 * The one definition of the format: the backend (CShims/include/ of the
 * vSMMU project, imported by its Swift server and C interface) and the QEMU
 * series (as include/hw/arm/vsmmu-protocol.h) carry this file verbatim;
 * the project's docs/protocol.md describes the semantics without restating
 * it. Standalone C11: <stdint.h> only.
 *
 * Copyright (c) 2025 The vSMMU authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSMMU_PROTOCOL_H
#define VSMMU_PROTOCOL_H

#include <stdint.h>

#define VSMMU_VERSION           0x1         /* flags bits 1:0 */
#define VSMMU_VERSION_MASK      0x3
#define VSMMU_FLAG_REPLY        (1u << 2)   /* this message is a reply */
/* the sender wants a reply to a request that has none by default */
#define VSMMU_FLAG_NEED_REPLY   (1u << 3)
#define VSMMU_MAX_PAYLOAD       1024

/*
 * Protocol features (GET_FEATURES / SET_FEATURES). MMIO_WRITE_SYNC: an
 * MMIO_WRITE with NEED_REPLY is answered after the commands it made
 * pending were processed; the front end services the backend channel
 * while it waits for that reply.
 */
#define VSMMU_F_MMIO_WRITE_SYNC (1ull << 0)
/*
 * STATE_REGION: the backend keeps the SMMU state that is not in guest
 * memory in a region the front end owns (SET_STATE_REGION), so a new
 * backend given the same region carries on where a killed one stopped.
 */
#define VSMMU_F_STATE_REGION    (1ull << 1)
/*
 * IN_ORDER_SYNC: the front end applies backend-channel messages in order,
 * each in full before the next, and before it acts on an MMIO_READ or
 * MMIO_WRITE reply it applies every backend-channel message that arrived
 * before that reply. The backend then completes a CMD_SYNC without a SYNC
 * round trip when no ATC_INV is outstanding, and sends every MSI as a
 * message, so that a completion reaches the guest after the invalidations
 * before it.
 */
#define VSMMU_F_IN_ORDER_SYNC   (1ull << 2)
/*
 * TRANSLATE_AHEAD: the backend answers TRANSLATE_AHEAD, a TRANSLATE whose
 * reply also carries translations of the blocks that follow the one asked
 * for, which the front end may cache like the first.
 */
#define VSMMU_F_TRANSLATE_AHEAD (1ull << 3)
/*
 * SHARED_TLB (only with TRANSLATE_AHEAD): the front end's translation
 * cache is a VSMMUTlbRegion that the front end creates and reads without
 * locks, and that the backend alone fills (as it answers TRANSLATE and
 * TRANSLATE_AHEAD) and invalidates. The backend completes a CMD_SYNC
 * after the entries it invalidates are gone and every front-end reader
 * that may have seen them has left (VSMMUTlbReader); it sends INVALIDATE
 * only while the front end sets VSMMUTlbRegion.notify.
 */
#define VSMMU_F_SHARED_TLB      (1ull << 4)
/*
 * POSTED_WRITES (only with IN_ORDER_SYNC): GET_POSTED_WRITES names the
 * registers whose MMIO_WRITE the front end may send without NEED_REPLY
 * and not wait for (CMDQ_PROD: the doorbell). The backend handles such a
 * write, and the commands it makes pending, before the next request on
 * the front-end channel; that a completion reaches the guest after the
 * invalidations before it still follows from IN_ORDER_SYNC. A posted
 * write can be lost with the backend: the front end keeps the last value
 * it posted to each register and writes it again, with NEED_REPLY, to a
 * backend that takes over the SMMU state.
 */
#define VSMMU_F_POSTED_WRITES   (1ull << 5)

/*
 * The state region: a sealed memfd of at least this many bytes, zero-filled
 * when created, kept by the front end for the device's lifetime and handed
 * to every backend it connects. Its contents are the backend's: the front
 * end never reads or writes them.
 */
#define VSMMU_STATE_REGION_SIZE 0x20000u

/* Requests on the front-end channel (front end -> backend) */
enum {
    VSMMU_REQ_GET_FEATURES = 1,         /* reply: uint64_t features */
    VSMMU_REQ_SET_FEATURES = 2,         /* uint64_t; reply: VSMMUStatus */
    VSMMU_REQ_GET_CONFIG = 3,           /* reply: VSMMUConfig */
    VSMMU_REQ_SET_BACKEND_CHANNEL = 4,  /* one fd; reply: VSMMUStatus */
    VSMMU_REQ_ADD_MEM_REGION = 5,       /* VSMMUMemRegion, one fd */
    VSMMU_REQ_REM_MEM_REGION = 6,       /* VSMMUMemRegion */
    VSMMU_REQ_MMIO_READ = 7,            /* VSMMUMmio; reply: uint64_t */
    VSMMU_REQ_MMIO_WRITE = 8,           /* VSMMUMmio; none, or VSMMUStatus */
    VSMMU_REQ_REGISTER_ENDPOINT = 9,    /* VSMMUEndpointMsg */
    VSMMU_REQ_TRANSLATE = 10,           /* VSMMUTranslateReq; ...Rep */
    VSMMU_REQ_PAGE_REQUEST = 11,        /* VSMMUPageReq; reply: VSMMUPageRep */
    VSMMU_REQ_RESET = 12,               /* reply: VSMMUStatus */
    /*
     * One fd, a connected stream socket: every later request travels on
     * it, and so does this one's VSMMUStatus reply (its first message)
     */
    VSMMU_REQ_SET_FRONTEND_CHANNEL = 13,
    /*
     * One fd, the state region (VSMMU_F_STATE_REGION), after the RAM
     * regions, the backend channel and the endpoints and before any MMIO,
     * TRANSLATE, PAGE_REQUEST or RESET; reply: VSMMUStatus, 0 when the
     * region was new (the SMMU starts from reset), 1 when the backend took
     * over the state in it, or a negative errno
     */
    VSMMU_REQ_SET_STATE_REGION = 14,
    /* VSMMUTranslateReq (VSMMU_F_TRANSLATE_AHEAD); VSMMUTranslateAheadRep */
    VSMMU_REQ_TRANSLATE_AHEAD = 15,
    /*
     * One fd, a memfd of sizeof(VSMMUTlbRegion) bytes, zero-filled and
     * sealed against resizing (VSMMU_F_SHARED_TLB), before any TRANSLATE;
     * a new one for each connection. Reply: VSMMUStatus
     */
    VSMMU_REQ_SET_TLB_REGION = 16,
    /* (VSMMU_F_POSTED_WRITES) reply: VSMMUPostedWrites */
    VSMMU_REQ_GET_POSTED_WRITES = 17,
};

/* Requests on the backend channel (backend -> front end) */
enum {
    VSMMU_BREQ_IRQ = 1,                 /* uint32_t line (VSMMU_IRQ_*) */
    VSMMU_BREQ_MSI = 2,                 /* VSMMUMsi */
    VSMMU_BREQ_INVALIDATE = 3,          /* VSMMUInval */
    VSMMU_BREQ_ATC_INV = 4,             /* VSMMUAtcInv */
    VSMMU_BREQ_PAGE_RESPONSE = 5,       /* VSMMUPageResp */
    VSMMU_BREQ_SYNC = 6,                /* empty; reply: VSMMUStatus */
    VSMMU_BREQ_STALL_RESOLVE = 7,       /* VSMMUStall */
};

/* Wired interrupt lines (IRQ: an edge each), in the device tree's order */
#define VSMMU_IRQ_EVTQ      0
#define VSMMU_IRQ_PRIQ      1
#define VSMMU_IRQ_CMD_SYNC  2           /* CMD_SYNC completion */
#define VSMMU_IRQ_GERROR    3
#define VSMMU_NUM_IRQS      4

/* Size of the register file (MMIO_READ, MMIO_WRITE): pages 0 and 1 */
#define VSMMU_MMIO_SIZE     0x20000u

typedef struct VSMMUMsgHeader {
    uint32_t request;       /* request code of the channel it travels on */
    uint32_t flags;         /* VSMMU_VERSION | VSMMU_FLAG_* */
    uint32_t size;          /* payload bytes that follow, <= MAX_PAYLOAD */
} VSMMUMsgHeader;

typedef struct VSMMUStatus {
    int64_t status;         /* 0, or a negative errno */
} VSMMUStatus;

#define VSMMU_CAP_STAGE1    (1u << 0)
#define VSMMU_CAP_STAGE2    (1u << 1)
#define VSMMU_CAP_ATS       (1u << 2)
#define VSMMU_CAP_PRI       (1u << 3)
#define VSMMU_CAP_MSI       (1u << 4)
#define VSMMU_CAP_SEV       (1u << 5)
#define VSMMU_CAP_STALL     (1u << 6)
#define VSMMU_CAP_HYP       (1u << 7)
#define VSMMU_CAP_NESTED    (1u << 8)

typedef struct VSMMUConfig {
    uint32_t idr[6];        /* SMMU_IDR0..IDR5 as the guest will read them */
    uint32_t iidr;
    uint32_t aidr;
    uint32_t caps;          /* VSMMU_CAP_*, decoded from the IDRs */
    uint8_t ssid_bits;      /* IDR1.SSIDSIZE */
    uint8_t sid_bits;       /* IDR1.SIDSIZE */
    uint8_t oas_bits;       /* IDR5.OAS, in bits */
    uint8_t reserved;
} VSMMUConfig;

typedef struct VSMMUMemRegion {
    uint64_t guest_addr;    /* guest physical address of the first byte */
    uint64_t size;          /* bytes */
    uint64_t mmap_offset;   /* offset of the first byte in the fd */
} VSMMUMemRegion;

typedef struct VSMMUMmio {
    uint64_t offset;        /* from the SMMU's base, < VSMMU_MMIO_SIZE */
    uint32_t size;          /* 4 or 8 */
    uint32_t reserved;
    uint64_t value;         /* write: the value; read: ignored */
} VSMMUMmio;

/*
 * GET_POSTED_WRITES reply: the register offsets (each 4-byte aligned,
 * < VSMMU_MMIO_SIZE) whose writes, of either size, may be posted
 */
#define VSMMU_POSTED_MAX    7

typedef struct VSMMUPostedWrites {
    uint32_t count;         /* offsets used, <= VSMMU_POSTED_MAX */
    uint32_t offset[VSMMU_POSTED_MAX];
} VSMMUPostedWrites;

#define VSMMU_EP_ATS    (1u << 0)
#define VSMMU_EP_PRI    (1u << 1)

typedef struct VSMMUEndpointMsg {
    uint32_t sid;           /* StreamID (the PCI requester ID on virt) */
    uint32_t flags;         /* VSMMU_EP_* */
    uint8_t pasid_bits;     /* 0: no PASID */
    uint8_t reserved[7];
} VSMMUEndpointMsg;

#define VSMMU_TR_SSV    (1u << 0)   /* carries a SubstreamID (PASID) */
#define VSMMU_TR_WRITE  (1u << 1)
#define VSMMU_TR_EXEC   (1u << 2)
#define VSMMU_TR_PRIV   (1u << 3)
#define VSMMU_TR_ATS    (1u << 4)   /* a PCIe ATS Translation Request */

typedef struct VSMMUTranslateReq {
    uint32_t sid;
    uint32_t ssid;          /* valid with VSMMU_TR_SSV */
    uint32_t flags;         /* VSMMU_TR_* */
    uint32_t reserved;
    uint64_t iova;
} VSMMUTranslateReq;

#define VSMMU_XLATE_OK          0
#define VSMMU_XLATE_FAULT       1   /* abort the transaction */
#define VSMMU_XLATE_STALLED     2   /* held until STALL_RESOLVE names it */

#define VSMMU_PERM_READ     (1u << 0)
#define VSMMU_PERM_WRITE    (1u << 1)
#define VSMMU_PERM_EXEC     (1u << 2)
#define VSMMU_PERM_PREAD    (1u << 3)
#define VSMMU_PERM_PWRITE   (1u << 4)
#define VSMMU_PERM_PEXEC    (1u << 5)

#define VSMMU_TAG_ASID      (1u << 0)
#define VSMMU_TAG_VMID      (1u << 1)
#define VSMMU_TAG_BYPASS    (1u << 2)
#define VSMMU_TAG_GLOBAL    (1u << 3)   /* nG == 0: no ASID tag */

typedef struct VSMMUTranslateRep {
    int32_t status;         /* VSMMU_XLATE_* */
    uint32_t perm;          /* OK: VSMMU_PERM_*; STALLED: the STAG */
    uint64_t iova_base;     /* first input address of the block */
    uint64_t pa_base;       /* first output address of the block */
    uint8_t size_log2;      /* block size: 12 for 4 KiB ... 64 for bypass */
    uint8_t event;          /* fault: event type (F_TRANSLATION 0x10...) */
    uint16_t asid;          /* valid with VSMMU_TAG_ASID */
    uint16_t vmid;          /* valid with VSMMU_TAG_VMID */
    uint16_t tags;          /* VSMMU_TAG_* */
} VSMMUTranslateRep;

#define VSMMU_AHEAD_MAX     15

/*
 * TRANSLATE_AHEAD's reply: the translation asked for, then up to
 * VSMMU_AHEAD_MAX more, each VSMMU_XLATE_OK with its own block, tags and
 * permissions for the same StreamID, SubstreamID and access. ahead[0]
 * starts where rep's block ends and each next one where the one before
 * ends; count is 0 unless rep is VSMMU_XLATE_OK.
 */
typedef struct VSMMUTranslateAheadRep {
    VSMMUTranslateRep rep;
    uint32_t count;         /* valid entries in ahead[] */
    /*
     * VSMMU_F_SHARED_TLB: bits 31:0 of VSMMUTlbRegion.generation read
     * before the translation was made; else 0
     */
    uint32_t tlb_generation;
    VSMMUTranslateRep ahead[VSMMU_AHEAD_MAX];
} VSMMUTranslateAheadRep;

/* A stop marker: SSV and LAST, neither READ nor WRITE */
#define VSMMU_PR_SSV    (1u << 0)
#define VSMMU_PR_READ   (1u << 1)
#define VSMMU_PR_WRITE  (1u << 2)
#define VSMMU_PR_EXEC   (1u << 3)
#define VSMMU_PR_PRIV   (1u << 4)
#define VSMMU_PR_LAST   (1u << 5)

typedef struct VSMMUPageReq {
    uint32_t sid;
    uint32_t ssid;          /* valid with VSMMU_PR_SSV */
    uint32_t flags;         /* VSMMU_PR_* */
    uint16_t prg_index;     /* 9 bits used */
    uint16_t reserved;
    uint64_t addr;          /* page address */
} VSMMUPageReq;

#define VSMMU_PR_QUEUED     0   /* written to the PRI queue */
#define VSMMU_PR_ANSWERED   1   /* answered at once (overflow, disabled) */
#define VSMMU_PR_DROPPED    2

typedef struct VSMMUPageRep {
    int32_t outcome;        /* VSMMU_PR_QUEUED, _ANSWERED or _DROPPED */
    uint32_t reserved;
} VSMMUPageRep;

typedef struct VSMMUMsi {
    uint64_t addr;
    uint32_t data;
    uint32_t reserved;
} VSMMUMsi;

#define VSMMU_INV_ALL       0   /* every cached translation */
#define VSMMU_INV_STREAMS   1   /* of sid_first .. sid_first + sid_count - 1 */
#define VSMMU_INV_ASID      2   /* tagged asid (and vmid if valid) */
#define VSMMU_INV_VMID      3   /* tagged vmid */
#define VSMMU_INV_ADDRESS   4   /* [addr, addr + size), asid/vmid if valid */
#define VSMMU_INV_IPA       5   /* anything derived from the IPA range */
#define VSMMU_INV_ASID_VALID    (1u << 0)
#define VSMMU_INV_VMID_VALID    (1u << 1)

typedef struct VSMMUInval {
    uint32_t kind;          /* VSMMU_INV_* */
    uint32_t flags;         /* VSMMU_INV_*_VALID */
    uint32_t sid_first;     /* STREAMS */
    uint32_t sid_count;     /* STREAMS */
    uint16_t asid;
    uint16_t vmid;
    uint32_t reserved;
    uint64_t addr;          /* ADDRESS, IPA */
    uint64_t size;          /* ADDRESS, IPA: bytes */
} VSMMUInval;

/* flags bit 0 of ATC_INV and PAGE_RESPONSE: ssid is valid */
#define VSMMU_SSID_VALID    (1u << 0)
/* flags bit 1 of ATC_INV (with bit 0): CMD_ATC_INV.Global */
#define VSMMU_ATC_INV_GLOBAL    (1u << 1)

typedef struct VSMMUAtcInv {
    uint32_t sid;
    uint32_t ssid;          /* valid with VSMMU_SSID_VALID */
    uint32_t flags;         /* VSMMU_SSID_VALID | VSMMU_ATC_INV_GLOBAL */
    uint32_t reserved;
    uint64_t addr;
    uint64_t size;          /* bytes; 2^64 is sent as 0 */
} VSMMUAtcInv;

typedef struct VSMMUPageResp {
    uint32_t sid;
    uint32_t ssid;          /* valid with VSMMU_SSID_VALID */
    uint32_t flags;
    uint16_t prg_index;
    uint8_t code;           /* 0 success, 1 invalid request, 0xf failure */
    uint8_t reserved;
} VSMMUPageResp;

typedef struct VSMMUStall {
    uint32_t sid;
    uint16_t stag;
    uint8_t retry;          /* 1 resume (retry), 0 terminate (abort) */
    uint8_t reserved;
} VSMMUStall;

/*
 * The shared translation cache (VSMMU_F_SHARED_TLB). Both processes run on
 * one host: its fields are in host byte order, accessed atomically where
 * the comments say so. The backend writes the header's backend fields,
 * the log and the entries; the front end writes notify and its readers'
 * slots, and nothing else. Neither side trusts what the other wrote.
 *
 * Entry: a seqlock. The backend makes seq odd, changes the entry, makes
 * seq even (release stores); a reader reads seq (acquire), the fields,
 * and seq again, and uses the entry only if both reads are the same even
 * value. An entry is keyed by StreamID, ssid_key and its block, and lives
 * in the slot vsmmu_tlb_slot() names; a lookup probes each size in sizes.
 */
#define VSMMU_TLB_ENTRIES   4096    /* a power of two */
#define VSMMU_TLB_READERS   64
#define VSMMU_TLB_LOG       64
#define VSMMU_TLB_SSV       (1u << 31)  /* ssid_key: SubstreamID valid */
#define VSMMU_TLB_MAX_LOG2  63          /* largest block an entry holds */

typedef struct VSMMUTlbEntry {
    uint32_t seq;
    uint32_t sid;
    uint32_t ssid_key;      /* VSMMU_TLB_SSV | SubstreamID, or 0 */
    uint8_t size_log2;      /* 0: empty; else 12..VSMMU_TLB_MAX_LOG2 */
    uint8_t perm;           /* VSMMU_PERM_* */
    uint16_t reserved;
    uint64_t iova_base;     /* aligned to the block size */
    uint64_t pa_base;       /* aligned to the block size */
} VSMMUTlbEntry;

/*
 * A front-end thread's slot: while it looks a translation up (or checks a
 * TRANSLATE reply against the log) it holds 1 + the epoch it read before,
 * else 0. After invalidating, the backend advances epoch and waits until
 * no slot holds a value <= the new epoch.
 */
typedef struct VSMMUTlbReader {
    uint64_t active;
    uint8_t pad[56];
} VSMMUTlbReader;

/*
 * The invalidation with generation g is in log[g % VSMMU_TLB_LOG] once
 * generation reaches g (release store); its own generation field is 0
 * while the backend rewrites it. A front end tells with it whether a
 * TRANSLATE reply made at tlb_generation was hit by an invalidation
 * since, as with INVALIDATE messages. inv is as an INVALIDATE message
 * carries it: little-endian, unlike the rest of the region.
 */
typedef struct VSMMUTlbLogRecord {
    uint64_t generation;
    VSMMUInval inv;
} VSMMUTlbLogRecord;

typedef struct VSMMUTlbRegion {
    uint64_t generation;    /* backend: invalidations logged */
    uint64_t epoch;         /* backend */
    uint64_t sizes;         /* backend: bit n, an entry may span 2^n */
    uint32_t notify;        /* front end: 1, send INVALIDATE too */
    uint8_t reserved[36];
    VSMMUTlbReader reader[VSMMU_TLB_READERS];
    VSMMUTlbLogRecord log[VSMMU_TLB_LOG];
    VSMMUTlbEntry entry[VSMMU_TLB_ENTRIES];
} VSMMUTlbRegion;

/* The slot of the entry for the block of 2^size_log2 bytes at iova */
static inline uint32_t vsmmu_tlb_slot(uint32_t sid, uint32_t ssid_key,
                                      uint64_t iova, unsigned size_log2)
{
    uint64_t h = (iova >> size_log2) * 0x9e3779b97f4a7c15ull;

    h ^= ((uint64_t)sid << 32 | ssid_key) * 0xc2b2ae3d27d4eb4full;
    h ^= size_log2;
    h ^= h >> 32;
    h ^= h >> 13;
    return (uint32_t)h & (VSMMU_TLB_ENTRIES - 1);
}

_Static_assert(sizeof(VSMMUMsgHeader) == 12, "VSMMUMsgHeader size");
_Static_assert(sizeof(VSMMUStatus) == 8, "VSMMUStatus size");
_Static_assert(sizeof(VSMMUConfig) == 40, "VSMMUConfig size");
_Static_assert(sizeof(VSMMUMemRegion) == 24, "VSMMUMemRegion size");
_Static_assert(sizeof(VSMMUMmio) == 24, "VSMMUMmio size");
_Static_assert(sizeof(VSMMUPostedWrites) == 32, "VSMMUPostedWrites size");
_Static_assert(sizeof(VSMMUEndpointMsg) == 16, "VSMMUEndpointMsg size");
_Static_assert(sizeof(VSMMUTranslateReq) == 24, "VSMMUTranslateReq size");
_Static_assert(sizeof(VSMMUTranslateRep) == 32, "VSMMUTranslateRep size");
_Static_assert(sizeof(VSMMUTranslateAheadRep) == 520,
               "VSMMUTranslateAheadRep size");
_Static_assert(sizeof(VSMMUTranslateAheadRep) <= VSMMU_MAX_PAYLOAD,
               "VSMMUTranslateAheadRep fits a message");
_Static_assert(sizeof(VSMMUPageReq) == 24, "VSMMUPageReq size");
_Static_assert(sizeof(VSMMUPageRep) == 8, "VSMMUPageRep size");
_Static_assert(sizeof(VSMMUMsi) == 16, "VSMMUMsi size");
_Static_assert(sizeof(VSMMUInval) == 40, "VSMMUInval size");
_Static_assert(sizeof(VSMMUAtcInv) == 32, "VSMMUAtcInv size");
_Static_assert(sizeof(VSMMUPageResp) == 16, "VSMMUPageResp size");
_Static_assert(sizeof(VSMMUStall) == 8, "VSMMUStall size");
_Static_assert(sizeof(VSMMUTlbEntry) == 32, "VSMMUTlbEntry size");
_Static_assert(sizeof(VSMMUTlbReader) == 64, "VSMMUTlbReader size");
_Static_assert(sizeof(VSMMUTlbLogRecord) == 48, "VSMMUTlbLogRecord size");
_Static_assert(sizeof(VSMMUTlbRegion) == 138304, "VSMMUTlbRegion size");

#endif /* VSMMU_PROTOCOL_H */
