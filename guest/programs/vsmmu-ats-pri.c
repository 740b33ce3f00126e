/*
 * vsmmu-ats-pri: ATS and PRI end to end from a Linux guest.
 *
 * Takes the vsmmu-testdev endpoint (docs/test-endpoint.md) through VFIO
 * (type1), maps buffers, drives the endpoint through BAR0 and checks what
 * reaches memory, the endpoint and the guest driver's log. Every check
 * prints one line:
 *
 *     CHECK <name>: PASS|FAIL|UNSUPPORTED <detail>
 *
 * Exit status 0 when every selected check passed, or when the endpoint
 * reports no vsmmu (REG_CAPS) and exactly the ATS/PRI checks are
 * UNSUPPORTED while the others pass; 1 otherwise; 2 for setup errors.
 * What each check proves: docs/guest-ats-pri.md.
 *
 * Usage: vsmmu-ats-pri [--checks LIST] [--priq-entries N] [--groups N]
 *   LIST: comma-separated of dma,fault,ats,atc-inv,pri,pri-overflow
 *         (default dma,fault,ats,atc-inv,pri)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

/* ---------------------------------------------------------------- endpoint */

#define TESTDEV_VENDOR      0x1234
#define TESTDEV_DEVICE      0x11ec
#define TESTDEV_ID_VALUE    0x534d5576u

#define REG_ID              0x000
#define REG_COMMAND         0x008
#define REG_STATUS          0x00c
#define REG_IOVA            0x010
#define REG_LEN             0x018
#define REG_FLAGS           0x01c
#define REG_PASID           0x020
#define REG_PRI             0x024
#define REG_CTRL            0x028
#define REG_PR_OUTCOME      0x02c
#define REG_TR_ADDR         0x030
#define REG_TR_INFO         0x038
#define REG_ATC_ENTRIES     0x03c
#define REG_RESP_COUNT      0x040
#define REG_INV_COUNT       0x044
#define REG_INV_ADDR        0x048
#define REG_INV_SIZE        0x050
#define REG_CAPS            0x05c
#define REG_BURST_QUEUED    0x060
#define REG_BURST_ANSWERED  0x064
#define REG_BURST_DROPPED   0x068
#define REG_RESP_RING       0x080
#define REG_RESP_TABLE      0x400
#define REG_BUFFER          0x800
#define BUFFER_SIZE         2048
#define RESP_RING_SIZE      8

enum {
    CMD_DMA_READ = 1, CMD_DMA_WRITE = 2, CMD_ATS_TRANSLATE = 3,
    CMD_PAGE_REQUEST = 4, CMD_STOP_MARKER = 5, CMD_ATC_CLEAR = 6,
    CMD_CLEAR_RESULTS = 7, CMD_PAGE_REQUEST_BURST = 8,
};
enum {
    ST_OK = 0, ST_FAULT = 1, ST_UNSUPPORTED = 2, ST_INVALID = 3,
    ST_BACKEND = 4, ST_ATC_MISS = 5, ST_DISABLED = 6, ST_STALLED = 7,
};
#define FLAG_PASID          (1u << 0)
#define FLAG_WRITE          (1u << 1)
#define FLAG_TRANSLATED     (1u << 2)
#define PRI_LAST            (1u << 9)
#define PRI_READ            (1u << 10)
#define PRI_BURST_STOP      (1u << 12)
#define PRI_BURST_GROUPS    (1u << 13)
#define CTRL_FORCE_PRI      (1u << 0)
#define CAPS_VSMMU          (1u << 0)
#define TR_INFO_VALID       (1u << 31)
#define PERM_READ           (1u << 0)
#define PERM_WRITE          (1u << 1)
#define OUTCOME_QUEUED      0
#define OUTCOME_ANSWERED    1
/* PCIe PRG Response Codes as the endpoint records them */
#define RESP_SUCCESS        0
/*
 * Linux's PRI_RESP_DENY is CMD_PRI_RESP Resp=0b00, which IHI 0070 4.5.2
 * names ResponseFailure: the endpoint sees PCIe Response Failure (0xf).
 */
#define RESP_LINUX_DENY     0xf

/* PCIe extended capability IDs */
#define PCI_EXT_ATS         0x0f
#define PCI_EXT_PRI         0x13

/* Guest physical layout of the test's IOVAs (VFIO type1, any free IOVA) */
#define IOVA_RW             0x100000ull   /* 64 KiB read-write */
#define IOVA_RO             0x200000ull   /* 4 KiB read-only */
#define IOVA_INV            0x300000ull   /* 4 KiB, unmapped by atc-inv */
#define IOVA_UNMAPPED       0x7654000ull  /* never mapped */
#define IOVA_REMAP          0x400000ull   /* remap: one page, two backings */
#define IOVA_STORM          0x800000ull   /* remap: mapped/unmapped by a thread */
#define REMAP_ROUNDS        500
#define RW_SIZE             0x10000
#define PAGE                4096

#define EVT_ID_TRANSLATION  0x10

/* ---------------------------------------------------------------- state */

struct ctx {
    char bdf[32];
    char sysdev[128];
    unsigned rid;               /* requester ID = StreamID on virt */
    int container, group, device;
    volatile uint8_t *bar;
    uint64_t cfg_offset;        /* config space region in the device fd */
    bool vsmmu;                 /* REG_CAPS: ATS/PRI available */
    uint8_t *rw, *ro, *inv;     /* host buffers behind IOVA_RW/RO/INV */
    bool inv_mapped;
    unsigned priq_entries;      /* pri-overflow: entries of the PRI queue */
    unsigned groups;            /* pri-overflow: page request groups */
};

struct tally {
    int pass, fail, unsupported, ats_pri_unsupported;
};
static struct tally tally;

static void result(const char *name, bool ats_pri, const char *verdict,
                   const char *fmt, ...)
{
    va_list ap;

    printf("CHECK %s: %s ", name, verdict);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!strcmp(verdict, "PASS")) {
        tally.pass++;
    } else if (!strcmp(verdict, "FAIL")) {
        tally.fail++;
    } else {
        tally.unsupported++;
        tally.ats_pri_unsupported += ats_pri;
    }
}

static void note(const char *fmt, ...)
{
    va_list ap;

    printf("  ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static int setup_error(const char *what)
{
    printf("SETUP FAIL: %s: %s\n", what, errno ? strerror(errno) : "");
    return -1;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- BAR0 */

static uint32_t rd32(struct ctx *c, unsigned off)
{
    return *(volatile uint32_t *)(c->bar + off);
}

static uint64_t rd64(struct ctx *c, unsigned off)
{
    return rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr32(struct ctx *c, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(c->bar + off) = v;
}

static void wr64(struct ctx *c, unsigned off, uint64_t v)
{
    wr32(c, off, (uint32_t)v);
    wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* Runs one endpoint command and returns its STATUS */
static uint32_t cmd(struct ctx *c, uint32_t code)
{
    wr32(c, REG_COMMAND, code);
    return rd32(c, REG_STATUS);
}

static uint32_t dma(struct ctx *c, uint32_t code, uint64_t iova, uint32_t len,
                    uint32_t flags)
{
    wr64(c, REG_IOVA, iova);
    wr32(c, REG_LEN, len);
    wr32(c, REG_FLAGS, flags);
    return cmd(c, code);
}

static void buffer_fill(struct ctx *c, uint32_t seed, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4) {
        wr32(c, REG_BUFFER + i, seed * 2654435761u + i);
    }
}

/* Index of the first word of BAR0's buffer that differs from mem, or -1 */
static long buffer_compare(struct ctx *c, const uint8_t *mem, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4) {
        uint32_t v;

        memcpy(&v, mem + i, 4);
        if (rd32(c, REG_BUFFER + i) != v) {
            return i;
        }
    }
    return -1;
}

static void mem_fill(uint8_t *mem, uint32_t seed, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4) {
        uint32_t v = seed * 2246822519u + i;

        memcpy(mem + i, &v, 4);
    }
}

/* Waits up to ms for RESP_COUNT to reach want; returns the count */
static uint32_t wait_responses(struct ctx *c, uint32_t want, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    uint32_t n;

    while ((n = rd32(c, REG_RESP_COUNT)) < want && now_ms() < end) {
        sleep_ms(5);
    }
    return n;
}

/* The response table entry of a PRG index: count << 4 | code, 0 if none */
static unsigned resp_entry(struct ctx *c, unsigned index)
{
    unsigned off = REG_RESP_TABLE + (index & 0x1ff);

    return (rd32(c, off & ~3u) >> (8 * (off & 3))) & 0xff;
}

/* ---------------------------------------------------------------- sysfs */

static int read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) {
        return -1;
    }
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    ssize_t n;

    if (fd < 0) {
        return -1;
    }
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static unsigned long read_hex(const char *dir, const char *file)
{
    char path[400], buf[64];

    snprintf(path, sizeof(path), "%.300s/%.64s", dir, file);
    return read_text(path, buf, sizeof(buf)) ? 0 : strtoul(buf, NULL, 16);
}

static int find_endpoint(struct ctx *c)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    unsigned dom, bus, dev, fn;

    if (!d) {
        return setup_error("opendir /sys/bus/pci/devices");
    }
    while ((e = readdir(d))) {
        char dir[300];

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", e->d_name);
        if (read_hex(dir, "vendor") == TESTDEV_VENDOR &&
            read_hex(dir, "device") == TESTDEV_DEVICE &&
            sscanf(e->d_name, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4) {
            snprintf(c->bdf, sizeof(c->bdf), "%.31s", e->d_name);
            snprintf(c->sysdev, sizeof(c->sysdev), "/sys/bus/pci/devices/"
                     "%.31s", e->d_name);
            c->rid = bus << 8 | dev << 3 | fn;
            closedir(d);
            return 0;
        }
    }
    closedir(d);
    errno = ENODEV;
    return setup_error("no vsmmu-testdev (1234:11ec) in /sys/bus/pci/devices "
                       "(boot with --testdev)");
}

/* The IOMMU group number, or -1 when the device is not behind an IOMMU */
static int iommu_group(struct ctx *c)
{
    char path[300], target[256];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/iommu_group", c->sysdev);
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        return -1;
    }
    target[n] = 0;
    return atoi(strrchr(target, '/') + 1);
}

static int bind_vfio(struct ctx *c)
{
    char path[300], drv[256];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/driver", c->sysdev);
    n = readlink(path, drv, sizeof(drv) - 1);
    if (n >= 0) {
        drv[n] = 0;
        if (strstr(drv, "/vfio-pci")) {
            return 0;
        }
        snprintf(path, sizeof(path), "%s/driver/unbind", c->sysdev);
        if (write_text(path, c->bdf)) {
            return setup_error("unbind the current driver");
        }
    }
    snprintf(path, sizeof(path), "%s/driver_override", c->sysdev);
    if (write_text(path, "vfio-pci")) {
        return setup_error("write driver_override");
    }
    if (write_text("/sys/bus/pci/drivers_probe", c->bdf)) {
        return setup_error("bind vfio-pci (drivers_probe)");
    }
    return 0;
}

/* ---------------------------------------------------------------- VFIO */

static int vfio_open(struct ctx *c, int group)
{
    struct vfio_group_status status = { .argsz = sizeof(status) };
    char path[64];

    /* The virt GIC here has no ITS: MSIs are not isolated */
    write_text("/sys/module/vfio_iommu_type1/parameters/"
               "allow_unsafe_interrupts", "Y");
    c->container = open("/dev/vfio/vfio", O_RDWR);
    if (c->container < 0) {
        return setup_error("open /dev/vfio/vfio");
    }
    if (ioctl(c->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
        ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1) {
        return setup_error("VFIO API version or type1 IOMMU missing");
    }
    snprintf(path, sizeof(path), "/dev/vfio/%d", group);
    c->group = open(path, O_RDWR);
    if (c->group < 0) {
        return setup_error(path);
    }
    if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status) ||
        !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        return setup_error("group not viable (another device in it?)");
    }
    if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container)) {
        return setup_error("VFIO_GROUP_SET_CONTAINER");
    }
    if (ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)) {
        return setup_error("VFIO_SET_IOMMU type1 (allow_unsafe_interrupts?)");
    }
    c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, c->bdf);
    if (c->device < 0) {
        return setup_error("VFIO_GROUP_GET_DEVICE_FD");
    }
    return 0;
}

static int region_info(struct ctx *c, unsigned index,
                       struct vfio_region_info *info)
{
    memset(info, 0, sizeof(*info));
    info->argsz = sizeof(*info);
    info->index = index;
    return ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, info);
}

static int map_bar0(struct ctx *c)
{
    struct vfio_region_info bar, cfg;
    uint16_t command;
    void *p;

    if (region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &bar) ||
        !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar.size < 4096) {
        return setup_error("BAR0 region info (not mmap-able?)");
    }
    p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, c->device,
             bar.offset);
    if (p == MAP_FAILED) {
        return setup_error("mmap BAR0");
    }
    c->bar = p;
    if (region_info(c, VFIO_PCI_CONFIG_REGION_INDEX, &cfg)) {
        return setup_error("config region info");
    }
    c->cfg_offset = cfg.offset;
    /* Bus mastering: without it the endpoint's DMA is blocked */
    if (pread(c->device, &command, 2, cfg.offset + 4) != 2) {
        return setup_error("read PCI_COMMAND");
    }
    if (!(command & 0x4)) {
        command |= 0x6;
        if (pwrite(c->device, &command, 2, cfg.offset + 4) != 2) {
            return setup_error("enable bus mastering");
        }
    }
    if (rd32(c, REG_ID) != TESTDEV_ID_VALUE) {
        errno = 0;
        return setup_error("BAR0 ID register is not the test endpoint's");
    }
    return 0;
}

static int map_dma(struct ctx *c, void *vaddr, uint64_t iova, uint64_t size,
                   bool writable)
{
    struct vfio_iommu_type1_dma_map map = {
        .argsz = sizeof(map),
        .flags = VFIO_DMA_MAP_FLAG_READ |
                 (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
        .vaddr = (uintptr_t)vaddr,
        .iova = iova,
        .size = size,
    };

    return ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map);
}

static int unmap_dma(struct ctx *c, uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_unmap unmap = {
        .argsz = sizeof(unmap),
        .iova = iova,
        .size = size,
    };

    return ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

static uint8_t *alloc_pages(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static int map_buffers(struct ctx *c)
{
    c->rw = alloc_pages(RW_SIZE);
    c->ro = alloc_pages(PAGE);
    c->inv = alloc_pages(PAGE);
    if (!c->rw || !c->ro || !c->inv) {
        return setup_error("mmap buffers");
    }
    memset(c->ro, 0x5a, PAGE);
    if (map_dma(c, c->rw, IOVA_RW, RW_SIZE, true) ||
        map_dma(c, c->ro, IOVA_RO, PAGE, false) ||
        map_dma(c, c->inv, IOVA_INV, PAGE, true)) {
        return setup_error("VFIO_IOMMU_MAP_DMA");
    }
    c->inv_mapped = true;
    return 0;
}

/* Guest physical address of a virtual address (root: pagemap has PFNs) */
static uint64_t phys_addr(const void *va)
{
    uint64_t entry = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    off_t off = (off_t)((uintptr_t)va / PAGE) * 8;

    if (fd < 0) {
        return 0;
    }
    if (pread(fd, &entry, 8, off) != 8) {
        entry = 0;
    }
    close(fd);
    if (!(entry >> 63) || !(entry & ((1ull << 55) - 1))) {
        return 0;
    }
    return (entry & ((1ull << 55) - 1)) * PAGE + (uintptr_t)va % PAGE;
}

/* ---------------------------------------------------------------- config */

/* Offset of a PCIe extended capability in config space, or 0 */
static unsigned ext_cap(struct ctx *c, unsigned id)
{
    char path[300];
    unsigned off = 0x100;
    uint32_t hdr;
    int fd;

    snprintf(path, sizeof(path), "%s/config", c->sysdev);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    for (int i = 0; i < 64 && off >= 0x100; i++) {
        if (pread(fd, &hdr, 4, off) != 4 || hdr == 0 || hdr == ~0u) {
            break;
        }
        if ((hdr & 0xffff) == id) {
            close(fd);
            return off;
        }
        off = hdr >> 20;
    }
    close(fd);
    return 0;
}

static uint16_t cfg_word(struct ctx *c, unsigned off)
{
    char path[300];
    uint16_t v = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/config", c->sysdev);
    fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (pread(fd, &v, 2, off) != 2) {
            v = 0;
        }
        close(fd);
    }
    return v;
}

/* Whether a PCIe host bridge node in the device tree has ats-supported */
static bool dt_ats_supported(void)
{
    DIR *d = opendir("/proc/device-tree");
    struct dirent *e;
    bool found = false;

    while (d && (e = readdir(d)) && !found) {
        char path[300];

        if (strncmp(e->d_name, "pcie@", 5)) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/device-tree/%s/ats-supported",
                 e->d_name);
        found = access(path, F_OK) == 0;
    }
    if (d) {
        closedir(d);
    }
    return found;
}

/*
 * Whether Linux enabled ATS on the endpoint (ATS Control.Enable); if not,
 * why not, from what the guest can see.
 */
static bool linux_ats_enabled(struct ctx *c, char *why, size_t len)
{
    unsigned ats = ext_cap(c, PCI_EXT_ATS);
    char type[64] = "?", path[300];

    snprintf(path, sizeof(path), "%s/iommu_group/type", c->sysdev);
    read_text(path, type, sizeof(type));
    if (!ats) {
        snprintf(why, len, "the endpoint has no ATS capability");
        return false;
    }
    if (cfg_word(c, ats + 6) & 0x8000) {
        snprintf(why, len, "ATS Control.Enable=1 (STU %u), domain %s",
                 12 + (cfg_word(c, ats + 6) & 0x1f), type);
        return true;
    }
    if (!dt_ats_supported()) {
        snprintf(why, len, "Linux did not enable ATS: the PCIe host bridge "
                 "has no ats-supported property in the device tree");
    } else if (!strcmp(type, "identity")) {
        snprintf(why, len, "Linux did not enable ATS: identity domain");
    } else {
        snprintf(why, len, "Linux did not enable ATS although the host "
                 "bridge has ats-supported and the endpoint ATS: the SMMU "
                 "does not report IDR0.ATS (domain %s)", type);
    }
    return false;
}

/* ---------------------------------------------------------------- kmsg */

/* /dev/kmsg opened at its end: what the kernel logs from now on */
static int kmsg_open(void)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

    if (fd >= 0) {
        lseek(fd, 0, SEEK_END);
    }
    return fd;
}

/* The next record's message text, or -1 when there is none yet */
static int kmsg_next(int fd, char *msg, size_t len)
{
    char rec[1024];
    ssize_t n;

    for (;;) {
        n = read(fd, rec, sizeof(rec) - 1);
        if (n < 0 && errno == EPIPE) {
            continue;   /* overwritten records: skip on */
        }
        if (n <= 0) {
            return -1;
        }
        rec[n] = 0;
        rec[strcspn(rec, "\n")] = 0;
        snprintf(msg, len, "%s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
        return 0;
    }
}

/* The value of the last "0x..." in a log line (the event dwords) */
static uint64_t last_hex(const char *msg)
{
    const char *p = NULL, *q = msg;

    while ((q = strstr(q, "0x"))) {
        p = q;
        q += 2;
    }
    return p ? strtoull(p, NULL, 16) : 0;
}

struct evt {
    uint64_t dw[4];
};

/*
 * Waits up to ms for an "event 0xID received" record of arm-smmu-v3 and its
 * four raw dwords (Linux 6.12 prints them one per line). Returns 0 if found.
 */
static int kmsg_wait_event(int fd, unsigned id, struct evt *ev, unsigned ms)
{
    char msg[1024], want[32];
    uint64_t end = now_ms() + ms;
    int got = -1;

    snprintf(want, sizeof(want), "event 0x%02x received", id);
    while (now_ms() < end) {
        if (kmsg_next(fd, msg, sizeof(msg))) {
            sleep_ms(10);
            continue;
        }
        if (got >= 0 && strstr(msg, "arm-smmu-v3") && strstr(msg, "0x")) {
            ev->dw[got++] = last_hex(msg);
            if (got == 4) {
                return 0;
            }
        } else if (strstr(msg, "arm-smmu-v3") && strstr(msg, want)) {
            got = 0;
        }
    }
    return -1;
}

/* Waits up to ms for a log line containing all of a and b; copies it */
static int kmsg_wait_line(int fd, const char *a, const char *b, char *out,
                          size_t len, unsigned ms)
{
    char msg[1024];
    uint64_t end = now_ms() + ms;

    while (now_ms() < end) {
        if (kmsg_next(fd, msg, sizeof(msg))) {
            sleep_ms(10);
            continue;
        }
        if (strstr(msg, a) && (!b || strstr(msg, b))) {
            snprintf(out, len, "%s", msg);
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- checks */

/* 1. DMA through mapped IOVAs, verified both ways */
static void check_dma(struct ctx *c)
{
    const uint32_t len = BUFFER_SIZE;
    uint32_t st;
    long bad;

    mem_fill(c->rw, 0x1111, len);
    st = dma(c, CMD_DMA_READ, IOVA_RW, len, 0);
    if (st != ST_OK) {
        result("dma", false, "FAIL", "DMA read of IOVA 0x%llx: status %u",
               IOVA_RW, st);
        return;
    }
    bad = buffer_compare(c, c->rw, len);
    if (bad >= 0) {
        result("dma", false, "FAIL", "memory -> device: byte %ld differs",
               bad);
        return;
    }
    buffer_fill(c, 0x2222, len);
    memset(c->rw + PAGE, 0, len);
    st = dma(c, CMD_DMA_WRITE, IOVA_RW + PAGE + 0x100, len, 0);
    bad = st == ST_OK ? buffer_compare(c, c->rw + PAGE + 0x100, len) : 0;
    if (st != ST_OK || bad >= 0) {
        result("dma", false, "FAIL", "device -> memory at IOVA 0x%llx: "
               "status %u, first bad byte %ld", IOVA_RW + PAGE + 0x100, st,
               bad);
        return;
    }
    st = dma(c, CMD_DMA_READ, IOVA_RO, 64, 0);
    if (st != ST_OK || (rd32(c, REG_BUFFER) & 0xff) != 0x5a) {
        result("dma", false, "FAIL", "DMA read of read-only IOVA: status %u",
               st);
        return;
    }
    result("dma", false, "PASS", "%u bytes memory->device at IOVA 0x%llx and "
           "device->memory at 0x%llx verified; read-only IOVA readable",
           len, IOVA_RW, IOVA_RW + PAGE + 0x100);
}

/* 2. DMA to an unmapped IOVA aborts and the event reaches the driver's log */
static void check_fault(struct ctx *c)
{
    const uint64_t iova = IOVA_UNMAPPED + 0x80;
    int kfd = kmsg_open();
    struct evt ev;
    unsigned type, sid;
    uint32_t st;

    if (kfd < 0) {
        result("fault", false, "FAIL", "cannot open /dev/kmsg");
        return;
    }
    st = dma(c, CMD_DMA_READ, iova, 64, 0);
    if (st != ST_FAULT) {
        result("fault", false, "FAIL", "DMA read of unmapped IOVA 0x%llx: "
               "status %u, expected %u (aborted)", (unsigned long long)iova,
               st, ST_FAULT);
        close(kfd);
        return;
    }
    if (kmsg_wait_event(kfd, EVT_ID_TRANSLATION, &ev, 5000)) {
        result("fault", false, "FAIL", "DMA aborted but no 'event 0x10 "
               "received' from arm-smmu-v3 within 5 s");
        close(kfd);
        return;
    }
    close(kfd);
    type = ev.dw[0] & 0xff;
    sid = ev.dw[0] >> 32;
    if (type != EVT_ID_TRANSLATION || sid != c->rid || ev.dw[2] != iova) {
        result("fault", false, "FAIL", "event dwords 0x%016llx 0x%016llx "
               "0x%016llx: type 0x%x sid 0x%x addr 0x%llx, expected 0x10 "
               "0x%x 0x%llx", (unsigned long long)ev.dw[0],
               (unsigned long long)ev.dw[1], (unsigned long long)ev.dw[2],
               type, sid, (unsigned long long)ev.dw[2], c->rid,
               (unsigned long long)iova);
        return;
    }
    result("fault", false, "PASS", "DMA to unmapped IOVA 0x%llx aborted; "
           "driver logged F_TRANSLATION (0x10) StreamID 0x%x InputAddr "
           "0x%llx (dw0=0x%016llx)", (unsigned long long)iova, sid,
           (unsigned long long)ev.dw[2], (unsigned long long)ev.dw[0]);
}

/* ATS translation of iova; returns STATUS, fills address and info */
static uint32_t ats_translate(struct ctx *c, uint64_t iova, bool write,
                              uint64_t *addr, uint32_t *info)
{
    uint32_t st = dma(c, CMD_ATS_TRANSLATE, iova, 0, write ? FLAG_WRITE : 0);

    *addr = rd64(c, REG_TR_ADDR);
    *info = rd32(c, REG_TR_INFO);
    return st;
}

static bool ats_unsupported(struct ctx *c, const char *name)
{
    char why[256];

    if (!c->vsmmu) {
        linux_ats_enabled(c, why, sizeof(why));
        result(name, true, "UNSUPPORTED", "the endpoint reports no vsmmu "
               "(REG_CAPS=0): ATS/PRI are unavailable with this IOMMU (%s)",
               why);
        return true;
    }
    return false;
}

/* 3a. translation of the read-write buffer: PA and R+W */
static bool ats_check_rw(struct ctx *c, char *detail, size_t len)
{
    const uint64_t off = 2 * PAGE + 0x40;
    uint64_t pa = phys_addr(c->rw + off), tr;
    uint32_t info, st = ats_translate(c, IOVA_RW + off, true, &tr, &info);

    if (!pa) {
        snprintf(detail, len, "no PA in /proc/self/pagemap");
        return false;
    }
    if (st != ST_OK || !(info & TR_INFO_VALID) || tr != pa ||
        (info & (PERM_READ | PERM_WRITE)) != (PERM_READ | PERM_WRITE)) {
        snprintf(detail, len, "IOVA 0x%llx: status %u TR_ADDR 0x%llx "
                 "(pagemap PA 0x%llx) TR_INFO 0x%x, expected R+W",
                 (unsigned long long)(IOVA_RW + off), st,
                 (unsigned long long)tr, (unsigned long long)pa, info);
        return false;
    }
    snprintf(detail, len, "IOVA 0x%llx -> PA 0x%llx (= pagemap) perm R+W "
             "block 2^%u", (unsigned long long)(IOVA_RW + off),
             (unsigned long long)tr, (info >> 8) & 0xff);
    return true;
}

/* 3b. translation of the read-only buffer: PA and R without W */
static bool ats_check_ro(struct ctx *c, char *detail, size_t len)
{
    uint64_t pa = phys_addr(c->ro), tr;
    uint32_t info, st = ats_translate(c, IOVA_RO, false, &tr, &info);

    if (st != ST_OK || tr != pa || !(info & PERM_READ) ||
        (info & PERM_WRITE)) {
        snprintf(detail, len, "read-only IOVA 0x%llx: status %u TR_ADDR "
                 "0x%llx (PA 0x%llx) TR_INFO 0x%x, expected R without W",
                 IOVA_RO, st, (unsigned long long)tr,
                 (unsigned long long)pa, info);
        return false;
    }
    snprintf(detail, len, "read-only IOVA 0x%llx -> PA 0x%llx perm R",
             IOVA_RO, (unsigned long long)tr);
    return true;
}

/* 3c. DMA with the translated addresses, both ways, and W refused on RO */
static bool ats_check_translated_dma(struct ctx *c, char *detail, size_t len)
{
    const uint64_t iova = IOVA_RW + 2 * PAGE + 0x40;
    uint8_t *mem = c->rw + 2 * PAGE + 0x40;
    uint32_t st_w, st_r, st_ro;
    long bad_w, bad_r;

    buffer_fill(c, 0x3333, 256);
    st_w = dma(c, CMD_DMA_WRITE, iova, 256, FLAG_TRANSLATED);
    bad_w = buffer_compare(c, mem, 256);
    mem_fill(mem, 0x4444, 256);
    st_r = dma(c, CMD_DMA_READ, iova, 256, FLAG_TRANSLATED);
    bad_r = buffer_compare(c, mem, 256);
    st_ro = dma(c, CMD_DMA_WRITE, IOVA_RO, 64, FLAG_TRANSLATED);
    if (st_w != ST_OK || bad_w >= 0 || st_r != ST_OK || bad_r >= 0 ||
        st_ro != ST_FAULT || c->ro[0] != 0x5a) {
        snprintf(detail, len, "translated DMA: write status %u bad %ld, read "
                 "status %u bad %ld, write to R-only entry status %u "
                 "(expected %u)", st_w, bad_w, st_r, bad_r, st_ro, ST_FAULT);
        return false;
    }
    snprintf(detail, len, "translated DMA 256 bytes both ways verified, "
             "write with an R-only ATC entry refused");
    return true;
}

/* 3. ATS: right PA and permissions, DMA with the translated address */
static void check_ats(struct ctx *c)
{
    char why[256], d1[256], d2[256], d3[256];

    if (ats_unsupported(c, "ats")) {
        return;
    }
    if (!linux_ats_enabled(c, why, sizeof(why))) {
        result("ats", true, "FAIL", "%s", why);
        return;
    }
    cmd(c, CMD_ATC_CLEAR);
    cmd(c, CMD_CLEAR_RESULTS);
    if (!ats_check_rw(c, d1, sizeof(d1))) {
        result("ats", true, "FAIL", "%s", d1);
    } else if (!ats_check_ro(c, d2, sizeof(d2))) {
        result("ats", true, "FAIL", "%s", d2);
    } else if (!ats_check_translated_dma(c, d3, sizeof(d3))) {
        result("ats", true, "FAIL", "%s", d3);
    } else {
        result("ats", true, "PASS", "%s; %s; %s; %s", why, d1, d2, d3);
    }
}

/* 4. a VFIO unmap invalidates the endpoint's ATC before it returns */
static void check_atc_inv(struct ctx *c)
{
    char why[256];
    uint64_t tr, inv_addr, inv_size;
    uint32_t info, st, inv_count, entries, st_dma, st_again;

    if (ats_unsupported(c, "atc-inv")) {
        return;
    }
    if (!linux_ats_enabled(c, why, sizeof(why))) {
        result("atc-inv", true, "FAIL", "%s (so it issues no ATC_INV)", why);
        return;
    }
    cmd(c, CMD_ATC_CLEAR);
    cmd(c, CMD_CLEAR_RESULTS);
    st = ats_translate(c, IOVA_INV, true, &tr, &info);
    if (st != ST_OK || rd32(c, REG_ATC_ENTRIES) != 1 ||
        dma(c, CMD_DMA_READ, IOVA_INV, 64, FLAG_TRANSLATED) != ST_OK) {
        result("atc-inv", true, "FAIL", "ATS of IOVA 0x%llx before unmap: "
               "status %u, ATC entries %u", IOVA_INV, st,
               rd32(c, REG_ATC_ENTRIES));
        return;
    }
    if (unmap_dma(c, IOVA_INV, PAGE)) {
        result("atc-inv", true, "FAIL", "VFIO_IOMMU_UNMAP_DMA: %s",
               strerror(errno));
        return;
    }
    c->inv_mapped = false;
    /* read back at once: the unmap has returned */
    inv_count = rd32(c, REG_INV_COUNT);
    inv_addr = rd64(c, REG_INV_ADDR);
    inv_size = rd64(c, REG_INV_SIZE);
    entries = rd32(c, REG_ATC_ENTRIES);
    st_dma = dma(c, CMD_DMA_READ, IOVA_INV, 64, FLAG_TRANSLATED);
    st_again = ats_translate(c, IOVA_INV, false, &tr, &info);
    if (!inv_count || entries != 0 || st_dma != ST_ATC_MISS ||
        IOVA_INV < inv_addr ||
        (inv_size && IOVA_INV + PAGE - 1 > inv_addr + inv_size - 1) ||
        st_again != ST_FAULT) {
        result("atc-inv", true, "FAIL", "after unmap: INV_COUNT %u "
               "INV_ADDR 0x%llx INV_SIZE 0x%llx ATC entries %u, translated "
               "DMA status %u (want %u), new ATS status %u (want %u)",
               inv_count, (unsigned long long)inv_addr,
               (unsigned long long)inv_size, entries, st_dma, ST_ATC_MISS,
               st_again, ST_FAULT);
        return;
    }
    result("atc-inv", true, "PASS", "VFIO unmap of IOVA 0x%llx returned with "
           "the ATC already invalidated (%u ATC_INV, last addr 0x%llx size "
           "0x%llx, 0 entries, translated DMA ATC_MISS); new ATS request "
           "fails (TR_INFO event 0x%x)", IOVA_INV, inv_count,
           (unsigned long long)inv_addr, (unsigned long long)inv_size,
           (info >> 16) & 0xff);
}

/* Sends one page request; returns PR_OUTCOME, or -STATUS on failure */
static int page_request(struct ctx *c, uint64_t iova, unsigned index,
                        uint32_t pri_bits, uint32_t flags, uint32_t pasid,
                        uint32_t code)
{
    uint32_t st;

    wr64(c, REG_IOVA, iova);
    wr32(c, REG_FLAGS, flags);
    wr32(c, REG_PASID, pasid);
    wr32(c, REG_PRI, (index & 0x1ff) | pri_bits);
    st = cmd(c, code);
    return st == ST_OK ? (int)rd32(c, REG_PR_OUTCOME) : -(int)st;
}

/* 5a. one L=1 request: queued, logged, answered (deny) with its index */
static bool pri_single(struct ctx *c, int kfd, char *detail, size_t len)
{
    const unsigned idx = 5;
    char line[1024];
    int out = page_request(c, IOVA_RW, idx, PRI_LAST | PRI_READ, 0, 0,
                           CMD_PAGE_REQUEST);
    uint32_t n = wait_responses(c, 1, 5000);
    uint64_t r = rd64(c, REG_RESP_RING);
    bool logged = !kmsg_wait_line(kfd, "[5L]", "privileged R access", line,
                                  sizeof(line), 2000);

    if (out != OUTCOME_QUEUED || n != 1 || (r & 0x1ff) != idx ||
        ((r >> 16) & 0xff) != RESP_LINUX_DENY || !logged) {
        snprintf(detail, len, "L=1 request index %u: outcome %d, %u "
                 "responses, ring[0] 0x%llx (want index %u code 0x%x), "
                 "driver log line '[5L] ... R access' %s", idx, out, n,
                 (unsigned long long)r, idx, RESP_LINUX_DENY,
                 logged ? "found" : "missing");
        return false;
    }
    snprintf(detail, len, "L=1 index %u queued, logged, answered code 0x%x "
             "(Linux's deny) with index %u", idx, RESP_LINUX_DENY, idx);
    return true;
}

/* 5b. a group: two L=0 requests, no response until the L=1 one */
static bool pri_group(struct ctx *c, int kfd, char *detail, size_t len)
{
    const unsigned idx = 9;
    char line[1024];
    int o1 = page_request(c, IOVA_RW, idx, PRI_READ, 0, 0, CMD_PAGE_REQUEST);
    int o2 = page_request(c, IOVA_RW + PAGE, idx, PRI_READ, 0, 0,
                          CMD_PAGE_REQUEST);
    unsigned before, after;
    int o3;

    sleep_ms(300);
    before = resp_entry(c, idx);
    o3 = page_request(c, IOVA_RW + 2 * PAGE, idx, PRI_LAST | PRI_READ, 0, 0,
                      CMD_PAGE_REQUEST);
    wait_responses(c, 2, 5000);
    after = resp_entry(c, idx);
    if (o1 || o2 || o3 || before != 0 || after != (1u << 4 | RESP_LINUX_DENY) ||
        kmsg_wait_line(kfd, "[9]", NULL, line, sizeof(line), 2000) ||
        kmsg_wait_line(kfd, "[9L]", NULL, line, sizeof(line), 2000)) {
        snprintf(detail, len, "group index %u: outcomes %d %d %d, response "
                 "entry before L=1 0x%x (want 0), after 0x%x (want 0x%x), "
                 "or log lines [9]/[9L] missing", idx, o1, o2, o3, before,
                 after, 1u << 4 | RESP_LINUX_DENY);
        return false;
    }
    snprintf(detail, len, "group index %u: 2 x L=0 queued without response, "
             "L=1 answered once", idx);
    return true;
}

/* 5c. a stop marker with a PASID: queued as one, no automatic response */
static bool pri_stop(struct ctx *c, int kfd, char *detail, size_t len)
{
    const unsigned idx = 20;
    char line[1024];
    uint32_t before = rd32(c, REG_RESP_COUNT);
    int out = page_request(c, IOVA_RW, idx, 0, FLAG_PASID, 1,
                           CMD_STOP_MARKER);
    bool logged = !kmsg_wait_line(kfd, ".0x00001: [20L]", NULL, line,
                                  sizeof(line), 3000);
    bool no_rw = logged && strstr(line, "privileged  access");
    unsigned entry;

    wait_responses(c, before + 1, 1000);
    entry = resp_entry(c, idx);
    if (out != OUTCOME_QUEUED || !logged || !no_rw ||
        (entry && (entry & 0xf) != RESP_LINUX_DENY)) {
        snprintf(detail, len, "stop marker PASID 1 index %u: outcome %d "
                 "(want 0 queued), logged %d without R/W %d, response 0x%x",
                 idx, out, logged, no_rw, entry);
        return false;
    }
    snprintf(detail, len, "stop marker PASID 1 queued and logged without "
             "R/W, no automatic response (%s)", entry ?
             "Linux 6.12 still answers it with deny, as any L=1 entry" :
             "none at all");
    return true;
}

static void force_pri(struct ctx *c)
{
    unsigned pri = ext_cap(c, PCI_EXT_PRI);

    note("PRI Control.Enable=%u (Linux never enables PRI with SMMUv3): "
         "setting the endpoint's test-only CTRL.FORCE_PRI",
         pri ? cfg_word(c, pri + 4) & 1 : 0);
    wr32(c, REG_CTRL, rd32(c, REG_CTRL) | CTRL_FORCE_PRI);
}

/* 5. PRI: requests reach the PRI queue, Linux answers, stop markers */
static void check_pri(struct ctx *c)
{
    char d1[300], d2[300], d3[300];
    int kfd;

    if (ats_unsupported(c, "pri")) {
        return;
    }
    force_pri(c);
    cmd(c, CMD_CLEAR_RESULTS);
    kfd = kmsg_open();
    if (kfd < 0) {
        result("pri", true, "FAIL", "cannot open /dev/kmsg");
        return;
    }
    if (!pri_single(c, kfd, d1, sizeof(d1))) {
        result("pri", true, "FAIL", "%s", d1);
    } else if (!pri_group(c, kfd, d2, sizeof(d2))) {
        result("pri", true, "FAIL", "%s", d2);
    } else if (!pri_stop(c, kfd, d3, sizeof(d3))) {
        result("pri", true, "FAIL", "%s", d3);
    } else {
        result("pri", true, "PASS", "%s; %s; %s", d1, d2, d3);
    }
    close(kfd);
}

/* 6a. the burst's outcomes and responses as spec 8.1 says */
static bool overflow_outcomes(struct ctx *c, unsigned start, int kfd,
                              char *detail, size_t len)
{
    const unsigned q = c->priq_entries, g = c->groups, full = q / 2;
    uint32_t queued = rd32(c, REG_BURST_QUEUED);
    uint32_t answered = rd32(c, REG_BURST_ANSWERED);
    uint32_t dropped = rd32(c, REG_BURST_DROPPED);
    char line[1024];
    unsigned bad = 0, i, e = 0;

    /* the first q requests (full groups) are queued; then overflow */
    if (queued != q || answered != g - full || dropped != g - full + 1) {
        snprintf(detail, len, "burst of %u groups + stop marker: queued %u "
                 "answered %u dropped %u, want %u %u %u (is the PRI queue "
                 "%u entries? boot with --priq-log2)", g, queued, answered,
                 dropped, q, g - full, g - full + 1, q);
        return false;
    }
    if (kmsg_wait_line(kfd, "PRIQ overflow detected", NULL, line,
                       sizeof(line), 5000)) {
        snprintf(detail, len, "no 'PRIQ overflow detected' in the log");
        return false;
    }
    wait_responses(c, g, 5000);
    for (i = 0; i < g && !bad; i++) {
        unsigned want = 1u << 4 | (i < full ? RESP_LINUX_DENY : RESP_SUCCESS);

        e = resp_entry(c, start + i);
        bad = e != want ? i + 1 : 0;
    }
    if (bad || resp_entry(c, start + g)) {
        snprintf(detail, len, "response table: index %u entry 0x%x, stop "
                 "marker index %u entry 0x%x (want one deny per queued "
                 "group, one automatic Success per overflowed group, none "
                 "for the stop marker)", bad ? start + bad - 1 : 0, e,
                 start + g, resp_entry(c, start + g));
        return false;
    }
    snprintf(detail, len, "%u groups (L=0+L=1) + stop marker into a %u-entry "
             "PRIQ: %u requests queued, indexes %u-%u answered by Linux "
             "(deny), %u-%u automatic Success while overflowed, %u L=0 and "
             "the stop marker dropped (no response); driver logged overflow",
             g, q, queued, start, start + full - 1, start + full,
             start + g - 1, g - full);
    return true;
}

/* 6b. after Linux acknowledged the overflow, requests are queued again */
static bool overflow_recovered(struct ctx *c, unsigned index, char *detail,
                               size_t len)
{
    uint32_t before = rd32(c, REG_RESP_COUNT);
    int out;
    uint32_t st;

    sleep_ms(200);
    out = page_request(c, IOVA_RW, index, PRI_LAST | PRI_READ, 0, 0,
                       CMD_PAGE_REQUEST);
    wait_responses(c, before + 1, 5000);
    mem_fill(c->rw, 0x5555, 256);
    st = dma(c, CMD_DMA_READ, IOVA_RW, 256, 0);
    if (out != OUTCOME_QUEUED || resp_entry(c, index) !=
        (1u << 4 | RESP_LINUX_DENY) || st != ST_OK ||
        buffer_compare(c, c->rw, 256) >= 0) {
        snprintf(detail, len, "after overflow: new request index %u outcome "
                 "%d (want 0 queued) response 0x%x, DMA status %u", index,
                 out, resp_entry(c, index), st);
        return false;
    }
    snprintf(detail, len, "after the driver acknowledged the overflow, index "
             "%u was queued and answered (deny) normally and DMA works",
             index);
    return true;
}

/* 6. PRI queue overflow */
static void check_pri_overflow(struct ctx *c)
{
    const unsigned start = 100;
    char d1[600], d2[300];
    int kfd;
    uint32_t st;

    if (ats_unsupported(c, "pri-overflow")) {
        return;
    }
    if (c->groups <= c->priq_entries / 2 || c->groups > 300) {
        result("pri-overflow", true, "FAIL", "--groups %u must exceed half "
               "the PRI queue (%u entries)", c->groups, c->priq_entries);
        return;
    }
    force_pri(c);
    cmd(c, CMD_CLEAR_RESULTS);
    kfd = kmsg_open();
    wr64(c, REG_IOVA, IOVA_RW);
    wr32(c, REG_LEN, c->groups);
    wr32(c, REG_FLAGS, FLAG_PASID);
    wr32(c, REG_PASID, 2);
    wr32(c, REG_PRI, start | PRI_READ | PRI_LAST | PRI_BURST_GROUPS |
         PRI_BURST_STOP);
    st = cmd(c, CMD_PAGE_REQUEST_BURST);
    if (st != ST_OK) {
        result("pri-overflow", true, "FAIL", "burst command: status %u", st);
    } else if (!overflow_outcomes(c, start, kfd, d1, sizeof(d1))) {
        result("pri-overflow", true, "FAIL", "%s", d1);
    } else if (!overflow_recovered(c, start + c->groups + 1, d2,
                                   sizeof(d2))) {
        result("pri-overflow", true, "FAIL", "%s", d2);
    } else {
        result("pri-overflow", true, "PASS", "%s; %s", d1, d2);
    }
    if (kfd >= 0) {
        close(kfd);
    }
}

/*
 * 7. No stale translation after TLBI + SYNC, through the whole chain (the
 * guest driver's invalidation, the SMMU's TLB, the front end's translation
 * cache): one IOVA is mapped to page A, then to page B, and so on; after each
 * map the endpoint reads it and writes it, and must see exactly the page now
 * mapped. Meanwhile a second thread maps and unmaps another IOVA in a loop,
 * so invalidations and syncs are in flight during the DMA.
 */
struct storm {
    struct ctx *c;
    uint8_t *page;
    atomic_bool stop;
    unsigned rounds;
    int error;
};

static void *storm_run(void *arg)
{
    struct storm *st = arg;

    while (!atomic_load(&st->stop)) {
        if (map_dma(st->c, st->page, IOVA_STORM, PAGE, true) ||
            unmap_dma(st->c, IOVA_STORM, PAGE) != 0) {
            st->error = errno;
            break;
        }
        st->rounds++;
    }
    return NULL;
}

/* One round: map IOVA_REMAP to page, check a device read and a device write */
static bool remap_round(struct ctx *c, uint8_t *page, uint8_t *other,
                        unsigned round, char *detail, size_t len)
{
    uint32_t st, other_word;
    long bad;

    mem_fill(page, 0x7000 + round, 256);
    memcpy(&other_word, other, 4);
    if (map_dma(c, page, IOVA_REMAP, PAGE, true)) {
        snprintf(detail, len, "round %u: map failed: %s", round,
                 strerror(errno));
        return false;
    }
    st = dma(c, CMD_DMA_READ, IOVA_REMAP, 256, 0);
    bad = st == ST_OK ? buffer_compare(c, page, 256) : 0;
    if (st != ST_OK || bad >= 0) {
        snprintf(detail, len, "round %u: device read of the new mapping: "
                 "status %u, byte %ld differs (stale translation?)", round, st,
                 bad);
        return false;
    }
    buffer_fill(c, 0x9000 + round, 256);
    st = dma(c, CMD_DMA_WRITE, IOVA_REMAP, 256, 0);
    bad = st == ST_OK ? buffer_compare(c, page, 256) : 0;
    if (st != ST_OK || bad >= 0 || memcmp(other, &other_word, 4)) {
        snprintf(detail, len, "round %u: device write: status %u, byte %ld "
                 "differs, previous page %s", round, st, bad,
                 memcmp(other, &other_word, 4) ? "written (stale)" :
                 "untouched");
        return false;
    }
    if (unmap_dma(c, IOVA_REMAP, PAGE)) {
        snprintf(detail, len, "round %u: unmap failed", round);
        return false;
    }
    return true;
}

static void check_remap(struct ctx *c)
{
    uint8_t *a = alloc_pages(PAGE), *b = alloc_pages(PAGE);
    uint8_t *storm_page = alloc_pages(PAGE);
    struct storm storm = { .c = c, .page = storm_page };
    pthread_t thread;
    char detail[256] = "";
    uint64_t start = now_ms();
    unsigned round;
    bool ok = true;

    if (!a || !b || !storm_page ||
        pthread_create(&thread, NULL, storm_run, &storm)) {
        result("remap", false, "FAIL", "setup: %s", strerror(errno));
        return;
    }
    for (round = 0; ok && round < REMAP_ROUNDS; round++) {
        ok = remap_round(c, round % 2 ? b : a, round % 2 ? a : b, round,
                         detail, sizeof(detail));
    }
    atomic_store(&storm.stop, true);
    pthread_join(thread, NULL);
    if (!ok || storm.error) {
        result("remap", false, "FAIL", "%s%s%s", detail,
               storm.error ? "; storm thread: " : "",
               storm.error ? strerror(storm.error) : "");
        return;
    }
    result("remap", false, "PASS", "%u rounds of map IOVA 0x%llx to page A/B, "
           "device read + write, unmap: every DMA saw the page mapped at the "
           "time, never the previous one; %u map/unmap rounds on IOVA 0x%llx "
           "ran concurrently; %llu ms", REMAP_ROUNDS, IOVA_REMAP,
           storm.rounds, IOVA_STORM,
           (unsigned long long)(now_ms() - start));
}

/* ---------------------------------------------------------------- main */

struct check {
    const char *name;
    void (*run)(struct ctx *c);
};

static const struct check checks[] = {
    { "dma", check_dma },
    { "fault", check_fault },
    { "ats", check_ats },
    { "atc-inv", check_atc_inv },
    { "pri", check_pri },
    { "pri-overflow", check_pri_overflow },
    { "remap", check_remap },
};

static bool selected(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;

    while (p) {
        if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0)) {
            return true;
        }
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return false;
}

static int setup(struct ctx *c)
{
    int group;

    if (find_endpoint(c)) {
        return -1;
    }
    /* Linux 6.12 puts a device in its IOMMU group when a driver binds */
    if (bind_vfio(c)) {
        return -1;
    }
    group = iommu_group(c);
    note("endpoint %s (RID/StreamID 0x%x), IOMMU group %d", c->bdf, c->rid,
         group);
    if (group < 0) {
        errno = 0;
        return setup_error("the endpoint is in no IOMMU group (no IOMMU?)");
    }
    if (vfio_open(c, group) || map_bar0(c) ||
        map_buffers(c)) {
        return -1;
    }
    c->vsmmu = rd32(c, REG_CAPS) & CAPS_VSMMU;
    note("REG_CAPS.VSMMU=%d; buffers mapped at IOVA 0x%llx (RW), 0x%llx (RO), "
         "0x%llx (RW)", c->vsmmu, IOVA_RW, IOVA_RO, IOVA_INV);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: vsmmu-ats-pri [--checks dma,fault,ats,atc-inv,"
            "pri,pri-overflow,remap] [--priq-entries N] [--groups N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *list = "dma,fault,ats,atc-inv,pri";
    struct ctx c = { .container = -1, .group = -1, .device = -1,
                     .priq_entries = 16, .groups = 24 };
    size_t i;

    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--checks") && a + 1 < argc) {
            list = argv[++a];
        } else if (!strcmp(argv[a], "--priq-entries") && a + 1 < argc) {
            c.priq_entries = strtoul(argv[++a], NULL, 0);
        } else if (!strcmp(argv[a], "--groups") && a + 1 < argc) {
            c.groups = strtoul(argv[++a], NULL, 0);
        } else {
            return usage();
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (setup(&c)) {
        return 2;
    }
    for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        if (selected(list, checks[i].name)) {
            checks[i].run(&c);
        }
    }
    printf("SUMMARY: %d passed, %d failed, %d unsupported (vsmmu=%d)\n",
           tally.pass, tally.fail, tally.unsupported, c.vsmmu);
    if (tally.fail) {
        return 1;
    }
    /* UNSUPPORTED is fine only without a vsmmu, and only for ATS/PRI */
    if (tally.unsupported &&
        (c.vsmmu || tally.unsupported != tally.ats_pri_unsupported)) {
        return 1;
    }
    return 0;
}
