/*
 * cabi_test.c - drives the vSMMU model through vsmmu.h alone: its own guest
 * memory (a malloc'd buffer served by callbacks), registers programmed as a
 * driver would, bypass and stage-1 STEs, translations, CMD_SYNC completion
 * by MSI and by SEV, MSI aborts, page requests, and the versioned structs.
 *
 * While the model's register file is a stub (IDR0 reads 0), only what the
 * API guarantees is checked; with the real model every step is strict.
 * Exit status 0: pass. Each failure prints one line.
 */
#define _DEFAULT_SOURCE     /* mmap, sysconf */
#include "vsmmu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_BASE  0x40000000ull
#define RAM_SIZE  (4u << 20)
#define STRTAB    (RAM_BASE + 0x100000)
#define CMDQ      (RAM_BASE + 0x200000)
#define EVENTQ    (RAM_BASE + 0x210000)
#define CD7       (RAM_BASE + 0x300000)   /* CD.R = 1 */
#define CD8       (RAM_BASE + 0x300040)   /* CD.R = 0: faults not recorded */
#define PT1       (RAM_BASE + 0x301000)
#define PT2       (RAM_BASE + 0x302000)
#define PT3       (RAM_BASE + 0x303000)
#define ABORTING_MSI   0x0f000000ull      /* msi_deliver aborts writes here ... */
#define ABORTING_MSI2  0x0f000100ull      /* ... and here */

/* Register offsets (IHI 0070, 6.2). */
#define IDR0            0x00
#define CR0             0x20
#define CR0ACK          0x24
#define IRQ_CTRL        0x50
#define IRQ_CTRLACK     0x54
#define GERROR          0x60
#define GERRORN         0x64
#define GERROR_IRQ_CFG0 0x68
#define STRTAB_BASE     0x80
#define STRTAB_BASE_CFG 0x88
#define CMDQ_BASE       0x90
#define CMDQ_PROD       0x98
#define CMDQ_CONS       0x9c
#define EVENTQ_BASE     0xa0
#define EVENTQ_PROD     0x100a8
#define CR0_SMMUEN  (1u << 0)
#define CR0_EVTQEN  (1u << 2)
#define CR0_CMDQEN  (1u << 3)
#define GERROR_MSI_CMDQ_ABT_ERR   (1u << 4)
#define GERROR_MSI_GERROR_ABT_ERR (1u << 7)

struct host {
    uint8_t *ram;
    vsmmu_t *smmu;              /* for callbacks that read registers */
    int msi_count;              /* msi_write calls */
    uint64_t last_msi_addr;
    int deliver_count;          /* msi_deliver calls */
    int sync_calls;
    int irq_count[4];
    int responses;
    vsmmu_page_response last_response;
    int events;
    uint32_t cons_at_event;
    int atc_invalidations;
    uint32_t last_atc_sid;
    uint32_t last_atc_flags;
};

/* Check mode: the reports the model sent. */
struct check_log {
    int count;
    char rule[16];
    char section[32];
    uint32_t valid;
    uint64_t address;
    int json_ok;
};

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static bool in_ram(uint64_t addr, size_t len)
{
    return addr >= RAM_BASE && len <= RAM_SIZE && addr - RAM_BASE <= RAM_SIZE - len;
}

static bool mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
    struct host *h = opaque;
    if (!in_ram(addr, len)) return false;
    memcpy(buf, h->ram + (addr - RAM_BASE), len);
    return true;
}

static bool mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
    struct host *h = opaque;
    if (!in_ram(addr, len)) return false;
    memcpy(h->ram + (addr - RAM_BASE), buf, len);
    return true;
}

static bool mem_cmpxchg64(void *opaque, uint64_t addr, uint64_t expected, uint64_t desired, uint64_t *old)
{
    struct host *h = opaque;
    if (!in_ram(addr, 8) || (addr & 7)) return false;
    uint64_t *p = (uint64_t *)(h->ram + (addr - RAM_BASE));
    uint64_t e = expected;
    __atomic_compare_exchange_n(p, &e, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    *old = e;
    return true;
}

/* An MSI into RAM: the host stores it (vsmmu.h), a release store. */
static void store_msi(struct host *h, uint64_t addr, uint32_t data)
{
    if (in_ram(addr, 4) && !(addr & 3))
        __atomic_store_n((uint32_t *)(h->ram + (addr - RAM_BASE)), data, __ATOMIC_RELEASE);
}

static void msi_write(void *opaque, uint64_t addr, uint32_t data)
{
    struct host *h = opaque;
    h->msi_count++;
    h->last_msi_addr = addr;
    store_msi(h, addr, data);
}

static bool msi_deliver(void *opaque, uint64_t addr, uint32_t data)
{
    struct host *h = opaque;
    h->deliver_count++;
    h->last_msi_addr = addr;
    if (addr == ABORTING_MSI || addr == ABORTING_MSI2) return false;
    store_msi(h, addr, data);
    return true;
}

static void raise_irq(void *opaque, uint32_t line)
{
    struct host *h = opaque;
    if (line < 4) h->irq_count[line]++;
}

static void invalidate(void *opaque, const vsmmu_invalidation *inv)
{
    struct host *h = opaque;
    if (inv->kind == VSMMU_INV_ATC) {
        h->atc_invalidations++;
        h->last_atc_sid = inv->sid_first;
        h->last_atc_flags = inv->flags;
    }
}

static bool synchronize(void *opaque)
{
    ((struct host *)opaque)->sync_calls++;
    return true;
}

static void page_response(void *opaque, const vsmmu_page_response *r)
{
    struct host *h = opaque;
    h->responses++;
    h->last_response = *r;
}

/* Re-enters the model from a callback (allowed for signal callbacks). */
static void send_event(void *opaque)
{
    struct host *h = opaque;
    h->events++;
    h->cons_at_event = (uint32_t)vsmmu_mmio_read(h->smmu, CMDQ_CONS, 4);
}

static void put64(struct host *h, uint64_t addr, uint64_t v)
{
    memcpy(h->ram + (addr - RAM_BASE), &v, 8);
}

static uint32_t get32(struct host *h, uint64_t addr)
{
    uint32_t v;
    memcpy(&v, h->ram + (addr - RAM_BASE), 4);
    return v;
}

/* CR0 bits one at a time, each acknowledged in CR0ACK (as Linux does). */
static bool enable(vsmmu_t *s, uint32_t *cr0, uint32_t bit)
{
    *cr0 |= bit;
    vsmmu_mmio_write(s, CR0, 4, *cr0);
    return (uint32_t)vsmmu_mmio_read(s, CR0ACK, 4) == *cr0;
}

/* Queues and tables as a driver programs them; SMMUEN last. */
static bool program(vsmmu_t *s)
{
    vsmmu_mmio_write(s, STRTAB_BASE, 8, STRTAB | (1ull << 62));
    vsmmu_mmio_write(s, STRTAB_BASE_CFG, 4, 8);                 /* linear, 256 STEs */
    vsmmu_mmio_write(s, CMDQ_BASE, 8, CMDQ | 8 | (1ull << 62));
    vsmmu_mmio_write(s, CMDQ_PROD, 4, 0);
    vsmmu_mmio_write(s, CMDQ_CONS, 4, 0);
    vsmmu_mmio_write(s, EVENTQ_BASE, 8, EVENTQ | 7 | (1ull << 62));
    uint32_t cr0 = 0;
    bool acked = enable(s, &cr0, CR0_CMDQEN);
    acked = enable(s, &cr0, CR0_EVTQEN) && acked;
    return enable(s, &cr0, CR0_SMMUEN) && acked;
}

/* One command at CMDQ_PROD, then PROD + 1 and the queue run. */
static void submit(struct host *h, vsmmu_t *s, uint64_t w0, uint64_t w1)
{
    uint32_t prod = (uint32_t)vsmmu_mmio_read(s, CMDQ_PROD, 4);
    uint64_t slot = CMDQ + (uint64_t)(prod & 0xff) * 16;
    put64(h, slot, w0);
    put64(h, slot + 8, w1);
    if (vsmmu_mmio_write(s, CMDQ_PROD, 4, (prod + 1) & 0x1ff)) vsmmu_process_commands(s);
}

#define CMD_SYNC(cs)  (0x46u | ((uint64_t)(cs) << 12))   /* MSIData 0 */

static uint32_t active_gerror(vsmmu_t *s)
{
    return (uint32_t)(vsmmu_mmio_read(s, GERROR, 4) ^ vsmmu_mmio_read(s, GERRORN, 4));
}

/* Stream table and stage-1 tables (IHI 0070 5.2, 5.4; VMSAv8-64 4KB). */
static void write_tables(struct host *h)
{
    /* SID 5: bypass (V=1, Config=0b100). SID 9: abort (Config=0b000). */
    put64(h, STRTAB + 5 * 64, 1 | (4u << 1));
    put64(h, STRTAB + 9 * 64, 1);
    /* SID 7, 8: stage 1 only (Config=0b101), one CD at S1ContextPtr. */
    put64(h, STRTAB + 7 * 64, 1 | (5u << 1) | CD7);
    put64(h, STRTAB + 8 * 64, 1 | (5u << 1) | CD8);
    /* CD: T0SZ=25 (39-bit, walk from level 1), TG0=4KB, EPD1, V, IPS=48 bits,
     * AA64, A, ASID 7 / 8; R (bit 45) only for CD7. MAIR0 attr 0 = 0xff. */
    uint64_t cd0 = 25 | (1ull << 30) | (1ull << 31) | (5ull << 32) | (1ull << 41) | (1ull << 46);
    put64(h, CD7, cd0 | (1ull << 45) | (7ull << 48));
    put64(h, CD7 + 8, PT1);
    put64(h, CD7 + 24, 0xff);
    put64(h, CD8, cd0 | (8ull << 48));
    put64(h, CD8 + 8, PT1);
    put64(h, CD8 + 24, 0xff);
    /* L1[0] -> L2, L2[0] -> L3 (table descriptors). */
    put64(h, PT1, PT2 | 3);
    put64(h, PT2, PT3 | 3);
    /* L3 pages, AF=1, SH=inner: IOVA 0x1000 -> 0x5000 with AP=0b00
     * (privileged read/write only) and nG=1 (ASID-tagged), IOVA 0x2000 ->
     * 0x6000 with AP=0b01 (read/write at any privilege) and nG=0 (global).
     * IOVA 0x3000: invalid. */
    uint64_t page = 3 | (1ull << 10) | (3ull << 8);
    put64(h, PT3 + 1 * 8, 0x5000 | page | (0ull << 6) | (1ull << 11));
    put64(h, PT3 + 2 * 8, 0x6000 | page | (1ull << 6));
}

static vsmmu_translate_result xlate(vsmmu_t *s, uint32_t sid, uint64_t iova, uint32_t flags)
{
    vsmmu_translate_request req = { .sid = sid, .iova = iova, .flags = flags };
    vsmmu_translate_result res;
    memset(&res, 0xAA, sizeof res);
    vsmmu_translate(s, &req, &res);
    return res;
}

static void check_report(void *opaque, const vsmmu_check_report *r)
{
    struct check_log *log = *(struct check_log **)opaque;
    log->count++;
    snprintf(log->rule, sizeof log->rule, "%s", r->rule);
    snprintf(log->section, sizeof log->section, "%s", r->section);
    log->valid = r->valid;
    log->address = r->address;
    log->json_ok = strncmp(r->json, "{\"rule\":\"", 9) == 0 && strstr(r->observed, "GERRORN") != NULL;
}

/* Check mode (docs/checker.md) through check_report: GERRORN toggling an
 * error that is not active (6.3.20) is reported at the register. */
static void check_mode(struct host *h, const vsmmu_callbacks *full)
{
    struct check_log log = { 0 };
    struct check_log *logp = &log;
    vsmmu_callbacks cb = *full;
    char err[256] = "";
    cb.opaque = &logp;    /* memory callbacks are not reached below */
    cb.mem_read = mem_read;
    cb.check_report = check_report;
    (void)h;
    vsmmu_t *s = vsmmu_create(NULL, &cb, err, sizeof err);
    CHECK(s != NULL, "vsmmu_create with check_report: %s", err);
    if (!s) return;
    vsmmu_mmio_write(s, GERRORN, 4, 1u << 2);
    CHECK(log.count == 1, "check_report called %d times", log.count);
    CHECK(strcmp(log.rule, "queue") == 0, "rule '%s'", log.rule);
    CHECK(strstr(log.section, "3.21.2") != NULL, "section '%s'", log.section);
    CHECK(log.valid == VSMMU_CHECK_ADDRESS && log.address == GERRORN, "valid 0x%x address 0x%llx",
          log.valid, (unsigned long long)log.address);
    CHECK(log.json_ok, "json or observed text not as documented");
    vsmmu_destroy(s);
}

/* Versioning: sizes, the version query, what vsmmu_create refuses. */
static void check_versioning(struct host *h, const vsmmu_callbacks *full)
{
    char err[256];
    CHECK(vsmmu_abi_version() == VSMMU_ABI_VERSION, "ABI version %u, header %u",
          (unsigned)vsmmu_abi_version(), (unsigned)VSMMU_ABI_VERSION);

    vsmmu_config cfg;
    memset(&cfg, 0x55, sizeof cfg);
    CHECK(vsmmu_config_default(&cfg) && cfg.size == sizeof cfg, "config_default: size %u", (unsigned)cfg.size);
    unsigned char big[sizeof(vsmmu_config) + 16];
    memset(big, 0x55, sizeof big);
    CHECK(!vsmmu_config_init((vsmmu_config *)(void *)big, sizeof big), "config_init accepted a larger size");
    CHECK(big[0] == 0x55, "config_init wrote into a struct it refused");
    CHECK(!vsmmu_config_init(&cfg, VSMMU_CONFIG_SIZE_MIN - 1), "config_init accepted a size below the minimum");

    /* ABI 1's struct is 32 bytes, and stays the minimum whatever is appended. */
    CHECK(VSMMU_CONFIG_SIZE_MIN == 32, "VSMMU_CONFIG_SIZE_MIN %u", (unsigned)VSMMU_CONFIG_SIZE_MIN);

    /* Invalid contents are refused with a message, not converted: a flag
     * byte that is neither 0 nor 1, and a stall model with no meaning. */
    vsmmu_config bad = cfg;
    memset(&bad.ats, 2, 1);
    err[0] = 0;
    CHECK(vsmmu_create(&bad, full, err, sizeof err) == NULL, "flag byte 2 accepted");
    CHECK(strstr(err, "ats") != NULL, "no field in the message: '%s'", err);
    bad = cfg;
    bad.stall_model = 3;
    CHECK(vsmmu_create(&bad, full, err, sizeof err) == NULL, "stall_model 3 accepted");
    CHECK(strstr(err, "stall") != NULL, "no field in the message: '%s'", err);

    /* A config from a newer header (larger) or none at all (size 0) is refused. */
    vsmmu_config newer = cfg;
    newer.size = sizeof newer + 8;
    err[0] = 0;
    CHECK(vsmmu_create(&newer, full, err, sizeof err) == NULL, "larger vsmmu_config accepted");
    CHECK(strstr(err, "vsmmu_config.size") != NULL, "no size in the message: '%s'", err);
    vsmmu_config zero;
    memset(&zero, 0, sizeof zero);
    CHECK(vsmmu_create(&zero, full, err, sizeof err) == NULL, "vsmmu_config with size 0 accepted");

    vsmmu_callbacks cb = *full;
    cb.size = sizeof cb + 8;
    err[0] = 0;
    CHECK(vsmmu_create(&cfg, &cb, err, sizeof err) == NULL, "larger vsmmu_callbacks accepted");
    CHECK(strstr(err, "vsmmu_callbacks.size") != NULL, "no size in the message: '%s'", err);
    cb.size = VSMMU_CALLBACKS_SIZE_MIN - sizeof(void *);
    CHECK(vsmmu_create(&cfg, &cb, err, sizeof err) == NULL, "vsmmu_callbacks below the minimum accepted");
    (void)h;
}

int main(void)
{
    struct host h = { .ram = calloc(1, RAM_SIZE) };
    char err[256] = "";
    write_tables(&h);

    vsmmu_callbacks full = {
        .size = sizeof(vsmmu_callbacks),
        .opaque = &h, .mem_read = mem_read, .mem_write = mem_write, .mem_cmpxchg64 = mem_cmpxchg64,
        .raise_irq = raise_irq, .msi_write = msi_write, .invalidate = invalidate, .synchronize = synchronize,
        .page_response = page_response, .send_event = send_event, .msi_deliver = msi_deliver,
    };

    /* An invalid configuration is refused with a message. */
    vsmmu_config bad;
    vsmmu_config_default(&bad);
    bad.stage1 = bad.stage2 = false;
    CHECK(vsmmu_create(&bad, &full, err, sizeof err) == NULL, "no-stage config accepted");
    CHECK(err[0] != 0, "no error message for a no-stage config");

    check_versioning(&h, &full);
    check_mode(&h, &full);

    vsmmu_config cfg;
    vsmmu_config_default(&cfg);
    CHECK(cfg.stage1 && cfg.stage2 && cfg.ats && cfg.msi && cfg.sev && cfg.oas_bits == 48 && cfg.ssid_bits == 20,
          "defaults are not all-on");

    /* An old-size callbacks struct: only the callbacks up to stall_resolve,
     * ending where an inaccessible page begins, so a read past its size
     * would crash. */
    long pagesize = sysconf(_SC_PAGESIZE);
    uint8_t *pages = mmap(NULL, 2 * (size_t)pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + pagesize, (size_t)pagesize, PROT_NONE) != 0) {
        printf("FAIL: cannot map the guard page\n");
        return 1;
    }
    vsmmu_callbacks *old = (vsmmu_callbacks *)(void *)(pages + pagesize - VSMMU_CALLBACKS_SIZE_MIN);
    vsmmu_callbacks prefix = full;
    prefix.size = VSMMU_CALLBACKS_SIZE_MIN;
    memcpy(old, &prefix, VSMMU_CALLBACKS_SIZE_MIN);
    vsmmu_t *s = vsmmu_create(&cfg, old, err, sizeof err);
    CHECK(s != NULL, "vsmmu_create with an old-size vsmmu_callbacks: %s", err);
    if (!s) return 1;
    h.smmu = s;

    bool real_model = vsmmu_mmio_read(s, IDR0, 4) != 0;
    printf("model: %s\n", real_model ? "real" : "stub (lenient checks)");
    bool acked = program(s);
    if (real_model) CHECK(acked, "CR0 steps not acknowledged in CR0ACK");

    /* Translate through the bypass STE: the identity. */
    vsmmu_translate_result res = xlate(s, 5, 0x12345678, VSMMU_TR_WRITE);
    if (real_model) {
        CHECK(res.status == VSMMU_XLATE_OK, "bypass translate: status %d event 0x%x", res.status, res.event);
        uint64_t mask = res.size_log2 >= 64 ? ~0ull : (1ull << res.size_log2) - 1;
        CHECK(res.pa_base + (0x12345678 & mask) == 0x12345678, "bypass is not the identity");
        CHECK(res.iova_base <= 0x12345678 && ((0x12345678 - res.iova_base) & ~mask) == 0, "iova not in the block");
        CHECK(res.tags & VSMMU_TAG_BYPASS, "bypass tag missing");
        CHECK(res.perm & VSMMU_PERM_WRITE, "bypass without write permission");
        CHECK(res.event == 0, "OK translation with event 0x%x", res.event);
    } else {
        CHECK(res.status == VSMMU_XLATE_OK || res.status == VSMMU_XLATE_FAULT, "status %d out of range", res.status);
    }

    /* SID 6 has no valid STE: with SMMUEN=1 a fault (C_BAD_STE). The stub
     * register file never enables the SMMU, so there GBPA bypass applies. */
    res = xlate(s, 6, 0x12345678, VSMMU_TR_WRITE);
    if (real_model) {
        CHECK(res.status == VSMMU_XLATE_FAULT, "invalid STE translated (status %d)", res.status);
        CHECK(res.event == 0x04, "invalid STE: event 0x%x, expected C_BAD_STE", res.event);
    } else {
        CHECK(res.status != VSMMU_XLATE_STALLED, "invalid STE stalled");
    }

    /* CMD_SYNC, CS=IRQ, MSI to its own slot with data 0: msi_write fires
     * (the old-size struct has no msi_deliver). */
    put64(&h, CMDQ, CMD_SYNC(1));
    put64(&h, CMDQ + 8, CMDQ);                    /* MSIAddress: the slot itself */
    if (vsmmu_mmio_write(s, CMDQ_PROD, 4, 1)) vsmmu_process_commands(s);
    if (real_model) {
        CHECK(h.msi_count == 1, "msi_write called %d times, expected 1", h.msi_count);
        CHECK(h.last_msi_addr == CMDQ, "MSI to 0x%llx", (unsigned long long)h.last_msi_addr);
        CHECK(get32(&h, CMDQ) == 0, "sync slot not overwritten by the MSI");
        CHECK((vsmmu_mmio_read(s, CMDQ_CONS, 4) & 0xfffff) == 1, "CMDQ_CONS did not advance");
    } else {
        CHECK(h.msi_count == 0 || h.msi_count == 1, "msi_write called %d times", h.msi_count);
    }

    if (real_model) {
        /* Without send_event (old size) a SIG_SEV CMD_SYNC just completes. */
        submit(&h, s, CMD_SYNC(2), 0);
        CHECK((vsmmu_mmio_read(s, CMDQ_CONS, 4) & 0xfffff) == 2, "SIG_SEV CMD_SYNC not consumed");

        /* Permissions: READ/WRITE unprivileged, PREAD/PWRITE privileged. */
        res = xlate(s, 7, 0x1000, VSMMU_TR_PRIV);
        CHECK(res.status == VSMMU_XLATE_OK, "privileged read of an AP=00 page: status %d event 0x%x",
              res.status, res.event);
        CHECK(res.pa_base == 0x5000 && res.size_log2 == 12, "AP=00 page at 0x%llx/%u",
              (unsigned long long)res.pa_base, res.size_log2);
        CHECK((res.perm & (VSMMU_PERM_PREAD | VSMMU_PERM_PWRITE)) == (VSMMU_PERM_PREAD | VSMMU_PERM_PWRITE),
              "AP=00: perm 0x%x lacks PREAD|PWRITE", res.perm);
        CHECK((res.perm & (VSMMU_PERM_READ | VSMMU_PERM_WRITE)) == 0, "AP=00: perm 0x%x allows unprivileged", res.perm);
        CHECK((res.tags & VSMMU_TAG_ASID) && res.asid == 7, "stage-1 tags 0x%x asid %u", res.tags, res.asid);
        res = xlate(s, 7, 0x2000, 0);
        CHECK(res.status == VSMMU_XLATE_OK, "unprivileged read of an AP=01 page: status %d", res.status);
        uint32_t rw = VSMMU_PERM_READ | VSMMU_PERM_WRITE | VSMMU_PERM_PREAD | VSMMU_PERM_PWRITE;
        CHECK((res.perm & rw) == rw, "AP=01: perm 0x%x lacks READ|WRITE|PREAD|PWRITE", res.perm);
        /* A global leaf (nG=0) belongs to every ASID: GLOBAL, no ASID tag. */
        CHECK((res.tags & (VSMMU_TAG_GLOBAL | VSMMU_TAG_ASID)) == VSMMU_TAG_GLOBAL, "global page tags 0x%x",
              res.tags);

        /* An unprivileged access to the privileged page: F_PERMISSION, recorded (CD.R=1). */
        uint32_t prod = (uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4);
        res = xlate(s, 7, 0x1000, 0);
        CHECK(res.status == VSMMU_XLATE_FAULT && res.event == 0x13, "unprivileged on AP=00: status %d event 0x%x",
              res.status, res.event);
        CHECK((uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4) == prod + 1, "F_PERMISSION not recorded");

        /* Suppressed fault (CD.R=0): event is still the fault's type, no record. */
        prod = (uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4);
        res = xlate(s, 8, 0x3000, 0);
        CHECK(res.status == VSMMU_XLATE_FAULT && res.event == 0x10, "CD.R=0 fault: status %d event 0x%x",
              res.status, res.event);
        CHECK((uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4) == prod, "CD.R=0 fault was recorded");
        res = xlate(s, 7, 0x3000, 0);
        CHECK(res.status == VSMMU_XLATE_FAULT && res.event == 0x10, "CD.R=1 fault: status %d event 0x%x",
              res.status, res.event);
        CHECK((uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4) == prod + 1, "CD.R=1 fault not recorded");
        /* Translations ahead: after 0x1000, the global page at 0x2000 (a
         * privileged access may use it); the unmapped 0x3000 ends the run
         * and, being speculative, records nothing. */
        {
            vsmmu_translate_request req = { .sid = 7, .iova = 0x1000, .flags = VSMMU_TR_PRIV };
            vsmmu_translate_result ahead[4];
            prod = (uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4);
            size_t n = vsmmu_translate_ahead(s, &req, &res, ahead, 4);
            CHECK(res.status == VSMMU_XLATE_OK && res.pa_base == 0x5000, "ahead: first status %d pa 0x%llx",
                  res.status, (unsigned long long)res.pa_base);
            CHECK(n == 1, "ahead: %zu blocks, expected 1", n);
            CHECK(n < 1 || (ahead[0].status == VSMMU_XLATE_OK && ahead[0].iova_base == 0x2000 &&
                            ahead[0].pa_base == 0x6000 && ahead[0].size_log2 == 12 &&
                            (ahead[0].tags & VSMMU_TAG_GLOBAL)),
                  "ahead[0]: status %d iova 0x%llx pa 0x%llx tags 0x%x", ahead[0].status,
                  (unsigned long long)ahead[0].iova_base, (unsigned long long)ahead[0].pa_base, ahead[0].tags);
            CHECK((uint32_t)vsmmu_mmio_read(s, EVENTQ_PROD, 4) == prod, "a look-ahead recorded an event");
            CHECK(vsmmu_translate_ahead(s, &req, &res, ahead, 0) == 0, "ahead with max 0");
        }
        /* A terminate without a fault (STE Config abort): event 0. */
        res = xlate(s, 9, 0x1000, 0);
        CHECK(res.status == VSMMU_XLATE_FAULT && res.event == 0, "abort STE: status %d event 0x%x",
              res.status, res.event);

        /* PRI: with PRIQEN=0 every request is answered at once (Response
         * Failure), delivered once: in *resp if given, else page_response;
         * page_response only for registered endpoints. */
        vsmmu_pri_request pr = { .sid = 5, .flags = VSMMU_PR_READ | VSMMU_PR_LAST, .prg_index = 0x23, .addr = 0x1000 };
        vsmmu_page_response resp;
        memset(&resp, 0, sizeof resp);
        CHECK(vsmmu_page_request(s, &pr, &resp) == VSMMU_PRI_ANSWERED, "PRIQEN=0: not answered");
        CHECK(h.responses == 0, "unregistered endpoint got page_response");
        vsmmu_register_endpoint(s, 5, VSMMU_EP_ATS | VSMMU_EP_PRI, 0);
        memset(&resp, 0, sizeof resp);
        CHECK(vsmmu_page_request(s, &pr, &resp) == VSMMU_PRI_ANSWERED, "PRIQEN=0: not answered");
        CHECK(resp.sid == 5 && resp.prg_index == 0x23 && resp.code == 0xf, "*resp sid %u prg %u code 0x%x",
              resp.sid, resp.prg_index, resp.code);
        CHECK(h.responses == 0, "response delivered twice (*resp and page_response)");
        CHECK(vsmmu_page_request(s, &pr, NULL) == VSMMU_PRI_ANSWERED, "PRIQEN=0: not answered");
        CHECK(h.responses == 1 && h.last_response.sid == 5 && h.last_response.code == 0xf,
              "page_response calls %d", h.responses);
    } else {
        vsmmu_register_endpoint(s, 5, VSMMU_EP_ATS | VSMMU_EP_PRI, 0);
        vsmmu_pri_request pr = { .sid = 5, .flags = VSMMU_PR_READ | VSMMU_PR_LAST, .addr = 0x1000 };
        int outcome = vsmmu_page_request(s, &pr, NULL);
        CHECK(outcome >= VSMMU_PRI_QUEUED && outcome <= VSMMU_PRI_DROPPED, "page request outcome %d", outcome);
    }

    /* Reset: SMMUEN off again. */
    vsmmu_reset(s);
    CHECK(vsmmu_mmio_read(s, CR0, 4) == 0, "CR0 not 0 after reset");
    vsmmu_destroy(s);
    munmap(pages, 2 * (size_t)pagesize);

    /* The whole struct: send_event and msi_deliver. */
    s = vsmmu_create(&cfg, &full, err, sizeof err);
    CHECK(s != NULL, "vsmmu_create: %s", err);
    if (!s) return 1;
    h.smmu = s;
    if (real_model) {
        program(s);
        memset(h.irq_count, 0, sizeof h.irq_count);
        h.msi_count = 0;

        /* CMD_SYNC CS=SIG_SEV: one event, after CONS moved past it (IDR0.SEV). */
        submit(&h, s, CMD_SYNC(2), 0);
        CHECK(h.events == 1, "send_event called %d times", h.events);
        CHECK((h.cons_at_event & 0xfffff) == 1, "event before the CMD_SYNC was consumed (CONS %u)", h.cons_at_event);

        /* A CMD_SYNC MSI that aborts: GERROR.MSI_CMDQ_ABT_ERR and the GERROR
         * interrupt (wired: GERROR_IRQ_CFG0.ADDR = 0). */
        vsmmu_mmio_write(s, IRQ_CTRL, 4, 1);
        submit(&h, s, CMD_SYNC(1), ABORTING_MSI);
        CHECK(h.deliver_count == 1 && h.msi_count == 0, "msi_deliver %d, msi_write %d", h.deliver_count, h.msi_count);
        CHECK(active_gerror(s) == GERROR_MSI_CMDQ_ABT_ERR, "active GERROR 0x%x", active_gerror(s));
        CHECK(h.irq_count[VSMMU_IRQ_GERROR] == 1, "GERROR interrupts %d", h.irq_count[VSMMU_IRQ_GERROR]);
        CHECK((vsmmu_mmio_read(s, CMDQ_CONS, 4) & 0xfffff) == 2, "CMD_SYNC with an aborted MSI not consumed");

        /* The same with a GERROR MSI that aborts too: MSI_GERROR_ABT_ERR,
         * and no GERROR interrupt for it. */
        vsmmu_mmio_write(s, GERRORN, 4, (uint32_t)vsmmu_mmio_read(s, GERROR, 4));
        vsmmu_mmio_write(s, IRQ_CTRL, 4, 0);
        vsmmu_mmio_write(s, GERROR_IRQ_CFG0, 8, ABORTING_MSI2);
        vsmmu_mmio_write(s, IRQ_CTRL, 4, 1);
        CHECK(vsmmu_mmio_read(s, IRQ_CTRLACK, 4) == 1, "IRQ_CTRLACK");
        h.deliver_count = 0;
        h.irq_count[VSMMU_IRQ_GERROR] = 0;
        submit(&h, s, CMD_SYNC(1), ABORTING_MSI);
        CHECK(active_gerror(s) == (GERROR_MSI_CMDQ_ABT_ERR | GERROR_MSI_GERROR_ABT_ERR), "active GERROR 0x%x",
              active_gerror(s));
        CHECK(h.deliver_count == 2 && h.last_msi_addr == ABORTING_MSI2, "msi_deliver calls %d", h.deliver_count);
        CHECK(h.irq_count[VSMMU_IRQ_GERROR] == 0, "wired GERROR interrupt with a GERROR MSI configured");

        /* CMD_ATC_INV (SID 5, all addresses: Size 52) reaches invalidate
         * only once the endpoint is registered. */
        uint64_t atc_inv = 0x40 | (5ull << 32);
        submit(&h, s, atc_inv, 52);
        CHECK(h.atc_invalidations == 0, "ATC invalidation for an unregistered endpoint");
        vsmmu_register_endpoint(s, 5, VSMMU_EP_ATS, 0);
        submit(&h, s, atc_inv, 52);
        CHECK(h.atc_invalidations == 1 && h.last_atc_sid == 5, "ATC invalidations %d (sid %u)",
              h.atc_invalidations, h.last_atc_sid);
        /* 4.5.1: Global (bit 9) with SSV (bit 11) and SubstreamID 3 reaches
         * the host as SSID_VALID | GLOBAL. */
        submit(&h, s, atc_inv | 1u << 9 | 1u << 11 | 3u << 12, 52);
        CHECK(h.atc_invalidations == 2 &&
              h.last_atc_flags == (VSMMU_INV_SSID_VALID | VSMMU_INV_GLOBAL),
              "ATC_INV.Global flags 0x%x", h.last_atc_flags);
    }
    vsmmu_destroy(s);

    free(h.ram);
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("cabi_test: pass\n");
    return 0;
}
