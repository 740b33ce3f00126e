/*
 * Checks 'ats' and 'atc-inv', and what the guest can see of why Linux did
 * or did not enable ATS on the endpoint.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "report.h"
#include "sysfs.h"
#include "testdev.h"
#include "util.h"
#include "vfio.h"

/* Whether a PCIe host bridge node in the device tree has ats-supported */
static bool dt_ats_supported(void)
{
	DIR *d = opendir("/proc/device-tree");
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)) && !found) {
		char path[300];

		if (strncmp(e->d_name, "pcie@", 5))
			continue;
		snprintf(path, sizeof(path),
			 "/proc/device-tree/%s/ats-supported", e->d_name);
		found = access(path, F_OK) == 0;
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * Whether Linux enabled ATS on the endpoint (ATS Control.Enable); if not,
 * why not, from what the guest can see.
 */
static bool linux_ats_enabled(struct ctx *c, char *why, size_t len)
{
	unsigned int ats = ext_cap(c, PCI_EXT_ATS);
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
		snprintf(why, len, "Linux did not enable ATS: the PCIe host "
			 "bridge has no ats-supported property in the device "
			 "tree");
	} else if (!strcmp(type, "identity")) {
		snprintf(why, len, "Linux did not enable ATS: identity domain");
	} else {
		snprintf(why, len, "Linux did not enable ATS although the host "
			 "bridge has ats-supported and the endpoint ATS: the "
			 "SMMU does not report IDR0.ATS (domain %s)", type);
	}
	return false;
}

bool ats_unsupported(struct ctx *c, const char *name)
{
	char why[256];

	if (!c->vsmmu) {
		linux_ats_enabled(c, why, sizeof(why));
		result(name, true, "UNSUPPORTED", "the endpoint reports no "
		       "vsmmu (REG_CAPS=0): ATS/PRI are unavailable with this "
		       "IOMMU (%s)", why);
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
	    (info & (TR_INFO_PERM_READ | TR_INFO_PERM_WRITE)) != (TR_INFO_PERM_READ | TR_INFO_PERM_WRITE)) {
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

	if (st != ST_OK || tr != pa || !(info & TR_INFO_PERM_READ) ||
	    (info & TR_INFO_PERM_WRITE)) {
		snprintf(detail, len, "read-only IOVA 0x%llx: status %u "
			 "TR_ADDR 0x%llx (PA 0x%llx) TR_INFO 0x%x, expected R "
			 "without W", IOVA_RO, st, (unsigned long long)tr,
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
		snprintf(detail, len, "translated DMA: write status %u bad "
			 "%ld, read status %u bad %ld, write to R-only entry "
			 "status %u (expected %u)", st_w, bad_w, st_r, bad_r,
			 st_ro, ST_FAULT);
		return false;
	}
	snprintf(detail, len, "translated DMA 256 bytes both ways verified, "
		 "write with an R-only ATC entry refused");
	return true;
}

/* 3. ATS: right PA and permissions, DMA with the translated address */
void check_ats(struct ctx *c)
{
	char why[256], d1[256], d2[256], d3[256];

	if (ats_unsupported(c, "ats"))
		return;
	if (!linux_ats_enabled(c, why, sizeof(why))) {
		result("ats", true, "FAIL", "%s", why);
		return;
	}
	cmd(c, CMD_ATC_CLEAR);
	cmd(c, CMD_CLEAR_RESULTS);
	if (!ats_check_rw(c, d1, sizeof(d1)))
		result("ats", true, "FAIL", "%s", d1);
	else if (!ats_check_ro(c, d2, sizeof(d2)))
		result("ats", true, "FAIL", "%s", d2);
	else if (!ats_check_translated_dma(c, d3, sizeof(d3)))
		result("ats", true, "FAIL", "%s", d3);
	else
		result("ats", true, "PASS", "%s; %s; %s; %s", why, d1, d2, d3);
}

/* 4. a VFIO unmap invalidates the endpoint's ATC before it returns */
void check_atc_inv(struct ctx *c)
{
	char why[256];
	uint64_t tr, inv_addr, inv_size;
	uint32_t info, st, inv_count, entries, st_dma, st_again;

	if (ats_unsupported(c, "atc-inv"))
		return;
	if (!linux_ats_enabled(c, why, sizeof(why))) {
		result("atc-inv", true, "FAIL",
		       "%s (so it issues no ATC_INV)", why);
		return;
	}
	cmd(c, CMD_ATC_CLEAR);
	cmd(c, CMD_CLEAR_RESULTS);
	st = ats_translate(c, IOVA_INV, true, &tr, &info);
	if (st != ST_OK || rd32(c, REG_ATC_ENTRIES) != 1 ||
	    dma(c, CMD_DMA_READ, IOVA_INV, 64, FLAG_TRANSLATED) != ST_OK) {
		result("atc-inv", true, "FAIL", "ATS of IOVA 0x%llx before "
		       "unmap: status %u, ATC entries %u", IOVA_INV, st,
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
		       "INV_ADDR 0x%llx INV_SIZE 0x%llx ATC entries %u, "
		       "translated DMA status %u (want %u), new ATS status %u "
		       "(want %u)", inv_count, (unsigned long long)inv_addr,
		       (unsigned long long)inv_size, entries, st_dma,
		       ST_ATC_MISS, st_again, ST_FAULT);
		return;
	}
	result("atc-inv", true, "PASS", "VFIO unmap of IOVA 0x%llx returned "
	       "with the ATC already invalidated (%u ATC_INV, last addr 0x%llx "
	       "size 0x%llx, 0 entries, translated DMA ATC_MISS); new ATS "
	       "request fails (TR_INFO event 0x%x)", IOVA_INV, inv_count,
	       (unsigned long long)inv_addr, (unsigned long long)inv_size,
	       (info >> 16) & 0xff);
}
