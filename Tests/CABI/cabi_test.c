/*
 * cabi_test.c - drives the vSMMU model through vsmmu.h alone: its own guest
 * memory (a malloc'd buffer served by callbacks), registers programmed as a
 * driver would, a bypass STE, a translation, and CMD_SYNC completion by MSI.
 *
 * While the model's register file is a stub (IDR0 reads 0), only what the
 * API guarantees is checked; with the real model every step is strict.
 * Exit status 0: pass. Each failure prints one line.
 */
#include "vsmmu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE  0x40000000ull
#define RAM_SIZE  (4u << 20)
#define STRTAB    (RAM_BASE + 0x100000)
#define CMDQ      (RAM_BASE + 0x200000)
#define EVENTQ    (RAM_BASE + 0x210000)

/* Register offsets (IHI 0070, 6.2). */
#define IDR0            0x00
#define CR0             0x20
#define CR0ACK          0x24
#define STRTAB_BASE     0x80
#define STRTAB_BASE_CFG 0x88
#define CMDQ_BASE       0x90
#define CMDQ_PROD       0x98
#define CMDQ_CONS       0x9c
#define EVENTQ_BASE     0xa0
#define CR0_SMMUEN  (1u << 0)
#define CR0_EVTQEN  (1u << 2)
#define CR0_CMDQEN  (1u << 3)

struct host {
    uint8_t *ram;
    int msi_count;
    uint64_t last_msi_addr;
    int sync_calls;
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

static void msi_write(void *opaque, uint64_t addr, uint32_t data)
{
    struct host *h = opaque;
    h->msi_count++;
    h->last_msi_addr = addr;
    if (in_ram(addr, 4)) memcpy(h->ram + (addr - RAM_BASE), &data, 4);
}

static bool synchronize(void *opaque)
{
    ((struct host *)opaque)->sync_calls++;
    return true;
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

int main(void)
{
    struct host h = { .ram = calloc(1, RAM_SIZE) };
    char err[256] = "";

    /* An invalid configuration is refused with a message. */
    vsmmu_config bad;
    vsmmu_config_default(&bad);
    bad.stage1 = bad.stage2 = false;
    vsmmu_callbacks cb = {
        .opaque = &h, .mem_read = mem_read, .mem_write = mem_write, .mem_cmpxchg64 = mem_cmpxchg64,
        .msi_write = msi_write, .synchronize = synchronize,
    };
    CHECK(vsmmu_create(&bad, &cb, err, sizeof err) == NULL, "no-stage config accepted");
    CHECK(err[0] != 0, "no error message for a no-stage config");

    vsmmu_config cfg;
    vsmmu_config_default(&cfg);
    CHECK(cfg.stage1 && cfg.stage2 && cfg.ats && cfg.msi && cfg.oas_bits == 48 && cfg.ssid_bits == 20,
          "defaults are not all-on");
    vsmmu_t *s = vsmmu_create(&cfg, &cb, err, sizeof err);
    CHECK(s != NULL, "vsmmu_create: %s", err);
    if (!s) return 1;

    bool real_model = vsmmu_mmio_read(s, IDR0, 4) != 0;
    printf("model: %s\n", real_model ? "real" : "stub (lenient checks)");

    /* Linear stream table of 256 STEs, SID 5: bypass (V=1, Config=0b100). */
    put64(&h, STRTAB + 5 * 64, 1 | (4u << 1));
    vsmmu_mmio_write(s, STRTAB_BASE, 8, STRTAB | (1ull << 62));
    vsmmu_mmio_write(s, STRTAB_BASE_CFG, 4, 8);
    vsmmu_mmio_write(s, CMDQ_BASE, 8, CMDQ | 8 | (1ull << 62));
    vsmmu_mmio_write(s, CMDQ_PROD, 4, 0);
    vsmmu_mmio_write(s, CMDQ_CONS, 4, 0);
    vsmmu_mmio_write(s, EVENTQ_BASE, 8, EVENTQ | 7 | (1ull << 62));
    uint32_t cr0 = 0;
    bool acked = enable(s, &cr0, CR0_CMDQEN);
    acked = enable(s, &cr0, CR0_EVTQEN) && acked;
    acked = enable(s, &cr0, CR0_SMMUEN) && acked;
    if (real_model) CHECK(acked, "CR0 steps not acknowledged in CR0ACK");

    /* Translate through the bypass STE: the identity. */
    vsmmu_translate_request req = { .sid = 5, .iova = 0x12345678, .flags = VSMMU_TR_WRITE };
    vsmmu_translate_result res;
    memset(&res, 0xAA, sizeof res);
    vsmmu_translate(s, &req, &res);
    if (real_model) {
        CHECK(res.status == VSMMU_XLATE_OK, "bypass translate: status %d event 0x%x", res.status, res.event);
        uint64_t mask = res.size_log2 >= 64 ? ~0ull : (1ull << res.size_log2) - 1;
        CHECK(res.pa_base + (req.iova & mask) == req.iova, "bypass is not the identity");
        CHECK(res.iova_base <= req.iova && ((req.iova - res.iova_base) & ~mask) == 0, "iova not in the block");
        CHECK(res.tags & VSMMU_TAG_BYPASS, "bypass tag missing");
        CHECK(res.perm & VSMMU_PERM_WRITE, "bypass without write permission");
    } else {
        CHECK(res.status == VSMMU_XLATE_OK || res.status == VSMMU_XLATE_FAULT, "status %d out of range", res.status);
    }

    /* SID 6 has no valid STE: with SMMUEN=1 a fault (C_BAD_STE). The stub
     * register file never enables the SMMU, so there GBPA bypass applies. */
    req.sid = 6;
    vsmmu_translate(s, &req, &res);
    if (real_model) {
        CHECK(res.status == VSMMU_XLATE_FAULT, "invalid STE translated (status %d)", res.status);
        CHECK(res.event == 0x04, "invalid STE: event 0x%x, expected C_BAD_STE", res.event);
    } else {
        CHECK(res.status != VSMMU_XLATE_STALLED, "invalid STE stalled");
    }

    /* CMD_SYNC, CS=IRQ, MSI to its own slot with data 0: msi_write fires. */
    put64(&h, CMDQ, 0x46 | (1u << 12));           /* opcode CMD_SYNC, CS=SIG_IRQ, MSIData 0 */
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

    /* Page requests and endpoints are accepted in any state. */
    vsmmu_register_endpoint(s, 5, VSMMU_EP_ATS | VSMMU_EP_PRI, 0);
    vsmmu_pri_request pr = { .sid = 5, .flags = VSMMU_PR_READ | VSMMU_PR_LAST, .addr = 0x1000 };
    int outcome = vsmmu_page_request(s, &pr, NULL);
    CHECK(outcome >= VSMMU_PRI_QUEUED && outcome <= VSMMU_PRI_DROPPED, "page request outcome %d", outcome);

    /* Reset: SMMUEN off again. */
    vsmmu_reset(s);
    CHECK(vsmmu_mmio_read(s, CR0, 4) == 0, "CR0 not 0 after reset");

    vsmmu_destroy(s);
    free(h.ram);
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("cabi_test: pass\n");
    return 0;
}
