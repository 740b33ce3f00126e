/*
 * vsmmu.h - the C interface of the vSMMU SMMUv3 model (IHI 0070). This
 * header, with vsmmu-protocol.h that it includes for the constants it
 * shares with the wire protocol, is the whole contract.
 *
 * A program creates a model with a configuration and a set of callbacks
 * (its guest memory and its host signals), then feeds it MMIO accesses,
 * translation requests and page requests. The model calls back into the
 * program for every guest-memory access and every signal (interrupt, MSI,
 * cache invalidation, PRI response, stall resolution, WFE wake-up event).
 *
 * Versioning. vsmmu_config and vsmmu_callbacks begin with `size`: the
 * struct's sizeof in the caller's header (vsmmu_config_default sets it; set
 * it yourself in vsmmu_callbacks). Later versions only append fields, each
 * at or after the previous version's sizeof, and raise VSMMU_ABI_VERSION.
 * The library reads only the first `size` bytes; fields beyond them take
 * their defaults (vsmmu_config: vsmmu_config_default's values; callbacks:
 * NULL). vsmmu_create rejects, with a message, a size below the
 * VSMMU_*_SIZE_MIN of the struct or above the library's own sizeof (a
 * caller built against a newer header: check vsmmu_abi_version()).
 *
 * Threads. vsmmu_abi_version, vsmmu_config_init and vsmmu_create: any
 * thread, any time. On one model, vsmmu_mmio_read, vsmmu_mmio_write,
 * vsmmu_translate, vsmmu_translate_ahead, vsmmu_page_request,
 * vsmmu_register_endpoint and vsmmu_reset may be called from any thread at
 * once, also while
 * vsmmu_process_commands runs.
 * vsmmu_process_commands consumes the command queue; call it (typically on
 * a worker thread) when vsmmu_mmio_write returns true. One call at a time
 * consumes: a call made while another is consuming returns at once and the
 * running one takes the new commands too. It may block in synchronize while
 * the other calls keep being answered. vsmmu_destroy: when no other call
 * on the model is in progress, never from a callback.
 *
 * Callbacks run synchronously on the thread of the call that caused them:
 *   vsmmu_mmio_read      none
 *   vsmmu_mmio_write     raise_irq/msi_* (EVENTQ_CONS, PRIQ_CONS), invalidate
 *                        (SMMUEN or GBPA.ABORT changed)
 *   vsmmu_translate      mem_*, and for a recorded fault raise_irq/msi_*
 *                        (the event queue's interrupt, GERROR)
 *   vsmmu_translate_ahead  as vsmmu_translate; the blocks after it: mem_read
 *   vsmmu_page_request   mem_write, raise_irq/msi_* (PRI queue, GERROR),
 *                        page_response (see vsmmu_page_request)
 *   vsmmu_process_commands  any of them
 *   vsmmu_reset          stall_resolve (stalls terminated), invalidate (ALL)
 * Several threads may be in callbacks at once. Memory callbacks may run with
 * a model lock held and must not call into the model. The other callbacks
 * run with no model lock held and may call any function but vsmmu_destroy.
 *
 * Constants. VSMMU_TR_*, VSMMU_XLATE_*, VSMMU_PERM_*, VSMMU_TAG_*,
 * VSMMU_INV_* (but VSMMU_INV_ATC, VSMMU_INV_SSID_VALID and VSMMU_INV_GLOBAL),
 * VSMMU_EP_*, VSMMU_IRQ_* (but the alias VSMMU_IRQ_SYNC), VSMMU_PR_* and
 * VSMMU_MMIO_SIZE are the wire protocol's, defined once in
 * vsmmu-protocol.h (included here). VSMMU_PRI_* and VSMMU_IRQ_SYNC are
 * aliases of its VSMMU_PR_QUEUED, _ANSWERED, _DROPPED and
 * VSMMU_IRQ_CMD_SYNC. Constants not listed exist only in this ABI.
 */
#ifndef VSMMU_H
#define VSMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The constants this ABI shares with the wire protocol: one definition */
#include "vsmmu-protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One SMMUv3 instance. */
typedef struct vsmmu vsmmu_t;

/* The ABI this header describes; vsmmu_abi_version() is the library's. A
 * library accepts callers built against its own or any lower version. */
#define VSMMU_ABI_VERSION 3u         /* 3: vsmmu_translate_ahead */
uint32_t vsmmu_abi_version(void);

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
    uint32_t size;               /* sizeof(vsmmu_config); see Versioning */
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
    bool     ats_record_errors;  /* IDR0.ATSRECERR, CR2.REC_CFG_ATS; default off */
} vsmmu_config;

/* Smallest vsmmu_config.size accepted: ABI 1's struct (through
 * ats_record_errors), a number frozen so that appended fields never change it. */
#define VSMMU_CONFIG_SIZE_MIN 32u
_Static_assert(sizeof(vsmmu_config) >= VSMMU_CONFIG_SIZE_MIN, "vsmmu_config shrank below ABI 1");

/* Fills the first `size` bytes of *cfg with the defaults (every feature on)
 * and sets cfg->size = size. false, and nothing written, if size is below
 * VSMMU_CONFIG_SIZE_MIN or above the library's sizeof(vsmmu_config). */
bool vsmmu_config_init(vsmmu_config *cfg, size_t size);
#define vsmmu_config_default(cfg) vsmmu_config_init((cfg), sizeof *(cfg))

/* Wired interrupt lines (raise_irq): an edge each time. VSMMU_IRQ_EVTQ,
 * VSMMU_IRQ_PRIQ, VSMMU_IRQ_CMD_SYNC and VSMMU_IRQ_GERROR (vsmmu-protocol.h). */
#define VSMMU_IRQ_SYNC   VSMMU_IRQ_CMD_SYNC

/* Host cache invalidation (mirrors the model's HostInvalidation). Kinds
 * from vsmmu-protocol.h:
 *   VSMMU_INV_ALL      every cached translation
 *   VSMMU_INV_STREAMS  translations of sid_first .. sid_first+sid_count-1
 *   VSMMU_INV_ASID     translations tagged asid (and vmid if valid)
 *   VSMMU_INV_VMID     translations tagged vmid
 *   VSMMU_INV_ADDRESS  input range [addr, addr+size), for asid/vmid if valid
 *   VSMMU_INV_IPA      anything derived from IPA range under vmid
 * with flags VSMMU_INV_ASID_VALID and VSMMU_INV_VMID_VALID; and, in this
 * ABI only: */
#define VSMMU_INV_ATC      6   /* an endpoint's ATC: sid_first, ssid if valid, [addr, addr+size) */
#define VSMMU_INV_SSID_VALID (1u << 2)
/* ATC with VSMMU_INV_SSID_VALID: CMD_ATC_INV.Global, the endpoint's global
 * entries go too (IHI 0070 4.5.1). */
#define VSMMU_INV_GLOBAL     (1u << 3)

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
 * synchronize succeeds at once).
 *
 * Guest memory: addr is a guest physical address, a multiple of 8; len is
 * 8 (table and translation descriptors), 16 (commands, PRI records), 32
 * (event records) or 64 (STEs, CDs). Each aligned 8-byte word of an access
 * must be single-copy atomic (the guest may rewrite a descriptor at any
 * time; the model copies it out once), the whole access need not be.
 * Memory is little-endian. A write must be complete, visible to the guest,
 * when mem_write returns: the model then publishes it (PROD, an interrupt)
 * without asking the host for more ordering. */
struct vsmmu_check_report;   /* below */

typedef struct vsmmu_callbacks {
    uint32_t size;        /* sizeof(vsmmu_callbacks); see Versioning */
    void *opaque;
    /* Copy len bytes at guest physical addr. false: external abort. */
    bool (*mem_read)(void *opaque, uint64_t addr, void *buf, size_t len);
    bool (*mem_write)(void *opaque, uint64_t addr, const void *buf, size_t len);
    /* Atomic 64-bit CAS of an aligned little-endian word (HTTU); *old
     * receives the previous value (the swap happened iff *old == expected).
     * false: abort. */
    bool (*mem_cmpxchg64)(void *opaque, uint64_t addr, uint64_t expected,
                          uint64_t desired, uint64_t *old);
    void (*raise_irq)(void *opaque, uint32_t line);          /* VSMMU_IRQ_* */
    /* An MSI: a 32-bit write of data to the 4-byte aligned physical addr
     * (event, PRI and GERROR MSIs; CMD_SYNC completion, which Linux points
     * at the CMD_SYNC's slot in the command queue in RAM). The model never
     * stores an MSI through mem_write: when addr is guest RAM, the host
     * stores data there, little-endian, as one single-copy atomic release
     * store (everything the MSI signals, written or published before the
     * call, is visible first). Not called when msi_deliver is set. */
    void (*msi_write)(void *opaque, uint64_t addr, uint32_t data);
    /* May return before the invalidation took effect ... */
    void (*invalidate)(void *opaque, const vsmmu_invalidation *inv);
    /* ... this returns only when every earlier one did. false: an ATC
     * invalidation failed (CERROR_ATC_INV_SYNC). */
    bool (*synchronize)(void *opaque);
    /* A PRI response (CMD_PRI_RESP or automatic) to a registered endpoint. */
    void (*page_response)(void *opaque, const vsmmu_page_response *resp);
    /* A stalled transaction is resumed (retry=true) or terminated. */
    void (*stall_resolve)(void *opaque, uint32_t sid, uint16_t stag, bool retry);

    /* Optional (VSMMU_CALLBACKS_SIZE_MIN ends here). */

    /* A WFE wake-up event to the PEs, only with IDR0.SEV (cfg.sev): a
     * CMD_SYNC with CS=SIG_SEV completed, or the command queue stopped being
     * full. Called after CMDQ_CONS moved past the command. */
    void (*send_event)(void *opaque);
    /* msi_write that reports how the write completed: false if it was
     * terminated with abort. The model then activates the source's
     * GERROR.MSI_CMDQ/EVENTQ/PRIQ/GERROR_ABT_ERR (with a GERROR interrupt,
     * except for MSI_GERROR_ABT_ERR). When set, msi_write is not called. */
    bool (*msi_deliver)(void *opaque, uint64_t addr, uint32_t data);

    /* ABI 2. */

    /* Check mode (docs/checker.md): when set, the model checks every rule
     * and calls this once per violation of the guest's driver, on the
     * thread that found it (a translation, an MMIO write or
     * vsmmu_process_commands) with no model lock held; at most 1000 calls
     * per rule. In check mode each CMD_SYNC also invalidates everything
     * (VSMMU_INV_ALL), so that every later use of a stale entry reaches
     * the model. */
    void (*check_report)(void *opaque, const struct vsmmu_check_report *report);
} vsmmu_callbacks;

/* One check-mode report. The strings are valid during the call only. */
#define VSMMU_CHECK_SID         (1u << 0)
#define VSMMU_CHECK_SSID        (1u << 1)
#define VSMMU_CHECK_ASID        (1u << 2)
#define VSMMU_CHECK_VMID        (1u << 3)
#define VSMMU_CHECK_ADDRESS     (1u << 4)
#define VSMMU_CHECK_CMDQ_INDEX  (1u << 5)
typedef struct vsmmu_check_report {
    const char *rule;       /* its name: "tlbi", "cfgi", ... (docs/checker.md) */
    const char *section;    /* where IHI 0070 states the rule */
    const char *observed;   /* what was seen, in words */
    const char *json;       /* the whole report, one JSON object */
    uint32_t valid;         /* VSMMU_CHECK_*: the fields below that apply */
    uint32_t sid;
    uint32_t ssid;
    uint16_t asid;
    uint16_t vmid;
    uint32_t cmdq_index;
    uint64_t address;       /* input address, or a register offset */
} vsmmu_check_report;

/* Smallest vsmmu_callbacks.size accepted: the callbacks up to stall_resolve. */
#define VSMMU_CALLBACKS_SIZE_MIN offsetof(vsmmu_callbacks, send_event)

/* Creates a model. cfg NULL: the defaults. NULL on error (an invalid
 * configuration, a bad size, no mem_read), with a message in err (if err !=
 * NULL, NUL-terminated, at most errlen bytes). The first cb->size bytes of
 * the callbacks are copied; opaque must stay valid until destroy. */
vsmmu_t *vsmmu_create(const vsmmu_config *cfg, const vsmmu_callbacks *cb,
                      char *err, size_t errlen);
/* Destroys a model; no other call on it may be in progress, and it may not
 * be called from a callback. No callback runs after it returns. */
void vsmmu_destroy(vsmmu_t *smmu);

/* Size of the MMIO region (pages 0 and 1): VSMMU_MMIO_SIZE (vsmmu-protocol.h). */

/* MMIO access of size 4 or 8 at offset from the SMMU's base. Unimplemented
 * or misaligned: read as zero, write ignored. */
uint64_t vsmmu_mmio_read(vsmmu_t *smmu, uint64_t offset, unsigned size);
/* Returns true when commands are pending: call vsmmu_process_commands. */
bool vsmmu_mmio_write(vsmmu_t *smmu, uint64_t offset, unsigned size, uint64_t value);
/* Consumes the command queue up to CMDQ_PROD (see Threads). */
void vsmmu_process_commands(vsmmu_t *smmu);

/* Translation. Flags VSMMU_TR_SSV (carries a SubstreamID, i.e. PASID),
 * VSMMU_TR_WRITE, VSMMU_TR_EXEC, VSMMU_TR_PRIV and VSMMU_TR_ATS (a PCIe ATS
 * Translation Request) from vsmmu-protocol.h. */

typedef struct vsmmu_translate_request {
    uint32_t sid;
    uint32_t ssid;        /* valid with VSMMU_TR_SSV */
    uint32_t flags;       /* VSMMU_TR_* */
    uint64_t iova;
} vsmmu_translate_request;

/* From vsmmu-protocol.h: status VSMMU_XLATE_OK, VSMMU_XLATE_FAULT (abort
 * the transaction), VSMMU_XLATE_STALLED (held until stall_resolve(sid,
 * stag)). Permissions VSMMU_PERM_*, what the mapping allows: READ/WRITE/EXEC
 * for unprivileged accesses, PREAD/PWRITE/PEXEC for privileged ones
 * (VSMMU_TR_PRIV); a request is checked against the set for its privilege;
 * bypass allows all six. Tags VSMMU_TAG_ASID, VSMMU_TAG_VMID,
 * VSMMU_TAG_BYPASS and VSMMU_TAG_GLOBAL: a global stage-1 translation
 * (nG == 0) has no VSMMU_TAG_ASID, since it belongs to every ASID; a VA
 * invalidation of any ASID (of its VMID) covers it, an ASID invalidation
 * does not. */

typedef struct vsmmu_translate_result {
    int32_t  status;      /* VSMMU_XLATE_* */
    uint32_t perm;        /* VSMMU_PERM_*: what the mapping allows */
    uint64_t iova_base;   /* first input address of the block */
    uint64_t pa_base;     /* first output address of the block */
    uint8_t  size_log2;   /* block size, 12 (4 KiB) ... 64 */
    uint8_t  event;       /* FAULT/STALLED: the fault's event type (0x10
                           * F_TRANSLATION, ...), also when no record was written
                           * (CD.R=0, STE.S2R=0, an ATS request, queue off or
                           * full); 0 for a terminate without a fault (STE
                           * Config abort, GBPA.ABORT). OK: 0. */
    uint16_t asid;        /* valid with VSMMU_TAG_ASID */
    uint16_t vmid;        /* valid with VSMMU_TAG_VMID */
    uint16_t tags;        /* VSMMU_TAG_* */
    uint16_t stag;        /* stalled: the stall tag */
} vsmmu_translate_result;

void vsmmu_translate(vsmmu_t *smmu, const vsmmu_translate_request *req,
                     vsmmu_translate_result *res);

/* vsmmu_translate, then the translations of up to @max blocks after the
 * one *res got, for a cache that will hold them before its device gets
 * there (ABI 3): each VSMMU_XLATE_OK, for the same StreamID, SubstreamID
 * and access, starting where the one before ends. Speculative: nothing is
 * recorded, nothing stalls, no descriptor is written, and the run ends at
 * the first block that would fault or need an HTTU update. None for an
 * ATS request, a bypass block, or in check mode. Returns how many were
 * written to @ahead (docs/protocol.md, "Translation": TRANSLATE_AHEAD). */
size_t vsmmu_translate_ahead(vsmmu_t *smmu, const vsmmu_translate_request *req,
                             vsmmu_translate_result *res,
                             vsmmu_translate_result *ahead, size_t max);

/* PCIe page requests (PRI), flags VSMMU_PR_SSV, _READ, _WRITE, _EXEC, _PRIV
 * and _LAST (vsmmu-protocol.h). A stop marker: SSV, LAST, neither READ nor
 * WRITE. */

typedef struct vsmmu_pri_request {
    uint32_t sid;
    uint32_t ssid;        /* valid with VSMMU_PR_SSV */
    uint32_t flags;       /* VSMMU_PR_* */
    uint16_t prg_index;   /* 9 bits used */
    uint64_t addr;
} vsmmu_pri_request;

/* The wire's page-request outcomes (vsmmu-protocol.h), by their ABI names */
#define VSMMU_PRI_QUEUED    VSMMU_PR_QUEUED    /* written to the PRI queue */
#define VSMMU_PRI_ANSWERED  VSMMU_PR_ANSWERED  /* answered at once: Success for
                                * L=1 while the queue overflows, Response
                                * Failure while it is disabled or
                                * PRIQ_ABT_ERR is active */
#define VSMMU_PRI_DROPPED   VSMMU_PR_DROPPED   /* discarded (overflow, stop
                                * marker, no PRI) */

/* Returns VSMMU_PRI_*. A VSMMU_PRI_ANSWERED response is delivered once:
 * in *resp when resp != NULL (page_response is not called for it), else
 * through page_response (registered endpoints only). */
int vsmmu_page_request(vsmmu_t *smmu, const vsmmu_pri_request *req,
                       vsmmu_page_response *resp);

/* Tells the model what an endpoint supports (again for a sid: replaces).
 * Only registered StreamIDs receive ATC invalidations (invalidate with
 * VSMMU_INV_ATC) and page_response calls; others are dropped, so register
 * an endpoint before it can have an ATC or send page requests. A
 * registration lasts until vsmmu_destroy. */
/* flags: VSMMU_EP_ATS, VSMMU_EP_PRI (vsmmu-protocol.h) */
void vsmmu_register_endpoint(vsmmu_t *smmu, uint32_t sid, uint32_t flags, uint8_t pasid_bits);

/* Back to the reset state: registers, queues, caches; stalled transactions
 * are terminated. Kept: the configuration, the callbacks, guest memory and
 * endpoint registrations. */
void vsmmu_reset(vsmmu_t *smmu);

#ifdef __cplusplus
}
#endif
#endif /* VSMMU_H */
