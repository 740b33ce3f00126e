/*
 * vsmmu.h - the C interface of the vSMMU SMMUv3 model.
 *
 * A program creates a model with a configuration and a set of callbacks
 * (its guest memory and its host signals), then feeds it MMIO accesses,
 * translation requests and page requests. The model calls back into the
 * program for every guest-memory access and every signal (interrupt, MSI,
 * cache invalidation, PRI response, stall resolution).
 *
 * Threads: vsmmu_mmio_read, vsmmu_mmio_write, vsmmu_translate and
 * vsmmu_page_request may be called from any thread at once.
 * vsmmu_process_commands consumes the command queue; call it (typically on a
 * worker thread) when vsmmu_mmio_write returns true. It may block in the
 * synchronize callback while the other calls keep being answered.
 *
 * The constants VSMMU_TR_*, VSMMU_XLATE_*, VSMMU_PERM_*, VSMMU_TAG_*,
 * VSMMU_INV_* and VSMMU_EP_* have the values of the wire protocol
 * (docs/protocol.md) of the same names.
 */
#ifndef VSMMU_H
#define VSMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One SMMUv3 instance. */
typedef struct vsmmu vsmmu_t;

/* Stall model (IDR0.STALL_MODEL). */
#define VSMMU_STALL_BOTH       0  /* stall and terminate supported */
#define VSMMU_STALL_TERMINATE  1  /* terminate only */
#define VSMMU_STALL_FORCED     2  /* stall forced */

/* Hardware translation table updates (IDR0.HTTU). */
#define VSMMU_HTTU_NONE        0
#define VSMMU_HTTU_AF          1
#define VSMMU_HTTU_AF_DIRTY    2

/* Features of one instance; the ID registers are derived from it.
 * Start from vsmmu_config_default() and change what you need. */
typedef struct vsmmu_config {
    bool     stage1;
    bool     stage2;
    bool     nested;             /* needs stage1 and stage2 */
    uint8_t  ssid_bits;          /* 0-20 */
    uint8_t  sid_bits;           /* 0-32 */
    bool     two_level_strtab;
    bool     two_level_cdtab;
    bool     ats;
    bool     pri;                /* needs ats */
    bool     msi;
    bool     sev;
    uint8_t  stall_model;        /* VSMMU_STALL_* */
    bool     hyp;
    bool     range_invalidation;
    uint8_t  httu;               /* VSMMU_HTTU_* */
    uint8_t  oas_bits;           /* 32, 36, 40, 42, 44, 48 or 52 */
    bool     granule_4k;
    bool     granule_16k;
    bool     granule_64k;
    bool     asid16;
    bool     vmid16;
    uint8_t  cmdq_log2;          /* 1-19 */
    uint8_t  evtq_log2;          /* 1-19 */
    uint8_t  priq_log2;          /* 1-19 */
    bool     coherent;
    bool     btm;
} vsmmu_config;

/* Fills *cfg with the defaults: every feature on. */
void vsmmu_config_default(vsmmu_config *cfg);

/* Interrupt lines (raise_irq). */
#define VSMMU_IRQ_EVTQ   0
#define VSMMU_IRQ_PRIQ   1
#define VSMMU_IRQ_SYNC   2
#define VSMMU_IRQ_GERROR 3

/* Host cache invalidation (mirrors the model's HostInvalidation). */
#define VSMMU_INV_ALL      0   /* every cached translation */
#define VSMMU_INV_STREAMS  1   /* translations of sid_first .. sid_first+sid_count-1 */
#define VSMMU_INV_ASID     2   /* translations tagged asid (and vmid if valid) */
#define VSMMU_INV_VMID     3   /* translations tagged vmid */
#define VSMMU_INV_ADDRESS  4   /* input range [addr, addr+size), for asid/vmid if valid */
#define VSMMU_INV_IPA      5   /* anything derived from IPA range under vmid */
#define VSMMU_INV_ATC      6   /* an endpoint's ATC: sid_first, ssid if valid, [addr, addr+size) */
#define VSMMU_INV_ASID_VALID (1u << 0)
#define VSMMU_INV_VMID_VALID (1u << 1)
#define VSMMU_INV_SSID_VALID (1u << 2)

typedef struct vsmmu_invalidation {
    uint32_t kind;        /* VSMMU_INV_* */
    uint32_t flags;       /* VSMMU_INV_*_VALID */
    uint32_t sid_first;   /* STREAMS, ATC */
    uint32_t sid_count;   /* STREAMS */
    uint32_t ssid;        /* ATC with VSMMU_INV_SSID_VALID */
    uint16_t asid;
    uint16_t vmid;
    uint64_t addr;        /* ADDRESS, IPA, ATC */
    uint64_t size;        /* bytes; 0 stands for 2^64 */
} vsmmu_invalidation;

/* A PRI page-group response to an endpoint. */
#define VSMMU_PRESP_SSV (1u << 0)
typedef struct vsmmu_page_response {
    uint32_t sid;
    uint32_t ssid;        /* valid with VSMMU_PRESP_SSV */
    uint32_t flags;
    uint16_t prg_index;
    uint8_t  code;        /* 0 success, 1 invalid request, 0xf failure */
} vsmmu_page_response;

/* What the model asks of its host. Every callback receives `opaque`.
 * mem_read is required; a NULL mem_write / mem_cmpxchg64 makes those
 * accesses abort; a NULL signal callback ignores the signal (a NULL
 * synchronize succeeds at once). */
typedef struct vsmmu_callbacks {
    void *opaque;
    /* Copy len bytes at guest physical addr. false: external abort. */
    bool (*mem_read)(void *opaque, uint64_t addr, void *buf, size_t len);
    bool (*mem_write)(void *opaque, uint64_t addr, const void *buf, size_t len);
    /* Atomic 64-bit CAS of an aligned little-endian word; *old receives the
     * previous value (the swap happened iff *old == expected). false: abort. */
    bool (*mem_cmpxchg64)(void *opaque, uint64_t addr, uint64_t expected,
                          uint64_t desired, uint64_t *old);
    void (*raise_irq)(void *opaque, uint32_t line);          /* VSMMU_IRQ_* */
    void (*msi_write)(void *opaque, uint64_t addr, uint32_t data);
    /* May return before the invalidation took effect ... */
    void (*invalidate)(void *opaque, const vsmmu_invalidation *inv);
    /* ... this returns only when every earlier one did. false: an ATC
     * invalidation failed (CERROR_ATC_INV_SYNC). */
    bool (*synchronize)(void *opaque);
    void (*page_response)(void *opaque, const vsmmu_page_response *resp);
    /* A stalled transaction is resumed (retry=true) or terminated. */
    void (*stall_resolve)(void *opaque, uint32_t sid, uint16_t stag, bool retry);
} vsmmu_callbacks;

/* Creates a model. NULL on error, with a message in err (if err != NULL).
 * The callbacks struct is copied; opaque must stay valid until destroy. */
vsmmu_t *vsmmu_create(const vsmmu_config *cfg, const vsmmu_callbacks *cb,
                      char *err, size_t errlen);
/* Destroys a model; no other call on it may be in progress. */
void vsmmu_destroy(vsmmu_t *smmu);

/* Size of the MMIO region (pages 0 and 1). */
#define VSMMU_MMIO_SIZE 0x20000u

/* MMIO access of size 4 or 8 at offset from the SMMU's base. Unimplemented
 * or misaligned: read as zero, write ignored. */
uint64_t vsmmu_mmio_read(vsmmu_t *smmu, uint64_t offset, unsigned size);
/* Returns true when commands are pending: call vsmmu_process_commands. */
bool vsmmu_mmio_write(vsmmu_t *smmu, uint64_t offset, unsigned size, uint64_t value);
/* Consumes the command queue up to CMDQ_PROD. */
void vsmmu_process_commands(vsmmu_t *smmu);

/* Translation. */
#define VSMMU_TR_SSV   (1u << 0)  /* carries a SubstreamID (PASID) */
#define VSMMU_TR_WRITE (1u << 1)
#define VSMMU_TR_EXEC  (1u << 2)
#define VSMMU_TR_PRIV  (1u << 3)
#define VSMMU_TR_ATS   (1u << 4)  /* a PCIe ATS Translation Request */

typedef struct vsmmu_translate_request {
    uint32_t sid;
    uint32_t ssid;        /* valid with VSMMU_TR_SSV */
    uint32_t flags;       /* VSMMU_TR_* */
    uint64_t iova;
} vsmmu_translate_request;

#define VSMMU_XLATE_OK      0
#define VSMMU_XLATE_FAULT   1
#define VSMMU_XLATE_STALLED 2   /* held until stall_resolve(sid, stag) */
#define VSMMU_PERM_READ   (1u << 0)
#define VSMMU_PERM_WRITE  (1u << 1)
#define VSMMU_PERM_EXEC   (1u << 2)
#define VSMMU_PERM_PREAD  (1u << 3)
#define VSMMU_PERM_PWRITE (1u << 4)
#define VSMMU_PERM_PEXEC  (1u << 5)
#define VSMMU_TAG_ASID    (1u << 0)
#define VSMMU_TAG_VMID    (1u << 1)
#define VSMMU_TAG_BYPASS  (1u << 2)

typedef struct vsmmu_translate_result {
    int32_t  status;      /* VSMMU_XLATE_* */
    uint32_t perm;        /* VSMMU_PERM_*: what the mapping allows */
    uint64_t iova_base;   /* first input address of the block */
    uint64_t pa_base;     /* first output address of the block */
    uint8_t  size_log2;   /* block size, 12 (4 KiB) ... 64 */
    uint8_t  event;       /* fault: event type (0x10 F_TRANSLATION, ...), 0 if none */
    uint16_t asid;        /* valid with VSMMU_TAG_ASID */
    uint16_t vmid;        /* valid with VSMMU_TAG_VMID */
    uint16_t tags;        /* VSMMU_TAG_* */
    uint16_t stag;        /* stalled: the stall tag */
} vsmmu_translate_result;

void vsmmu_translate(vsmmu_t *smmu, const vsmmu_translate_request *req,
                     vsmmu_translate_result *res);

/* PCIe page requests (PRI). A stop marker: SSV, LAST, neither READ nor WRITE. */
#define VSMMU_PR_SSV   (1u << 0)
#define VSMMU_PR_READ  (1u << 1)
#define VSMMU_PR_WRITE (1u << 2)
#define VSMMU_PR_EXEC  (1u << 3)
#define VSMMU_PR_PRIV  (1u << 4)
#define VSMMU_PR_LAST  (1u << 5)

typedef struct vsmmu_pri_request {
    uint32_t sid;
    uint32_t ssid;        /* valid with VSMMU_PR_SSV */
    uint32_t flags;       /* VSMMU_PR_* */
    uint16_t prg_index;   /* 9 bits used */
    uint64_t addr;
} vsmmu_pri_request;

#define VSMMU_PRI_QUEUED    0
#define VSMMU_PRI_ANSWERED  1  /* PRI queue overflow: answered at once (*resp) */
#define VSMMU_PRI_DROPPED   2

/* Returns VSMMU_PRI_*; with VSMMU_PRI_ANSWERED, *resp (if non-NULL) is the
 * response, which the page_response callback also receives. */
int vsmmu_page_request(vsmmu_t *smmu, const vsmmu_pri_request *req,
                       vsmmu_page_response *resp);

/* Tells the model what an endpoint supports. */
#define VSMMU_EP_ATS (1u << 0)
#define VSMMU_EP_PRI (1u << 1)
void vsmmu_register_endpoint(vsmmu_t *smmu, uint32_t sid, uint32_t flags, uint8_t pasid_bits);

/* Back to the reset state (registers, queues, caches; guest memory untouched). */
void vsmmu_reset(vsmmu_t *smmu);

#ifdef __cplusplus
}
#endif
#endif /* VSMMU_H */
