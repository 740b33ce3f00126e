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
 *   LIST: comma-separated of dma,fault,ats,atc-inv,pri,pri-overflow,remap,
 *         storm (the benchmark's map/unmap storm)
 *         (default dma,fault,ats,atc-inv,pri)
 *
 * This file: arguments, setup, running the selected checks, the summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "ctx.h"
#include "report.h"
#include "sysfs.h"
#include "testdev.h"
#include "vfio.h"

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
	{ "storm", check_storm },
};

static bool selected(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p) {
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static int setup(struct ctx *c)
{
	int group;

	if (find_endpoint(c))
		return -1;
	/* Linux 6.12 puts a device in its IOMMU group when a driver binds */
	if (bind_vfio(c))
		return -1;
	group = iommu_group(c);
	note("endpoint %s (RID/StreamID 0x%x), IOMMU group %d", c->bdf, c->rid,
	     group);
	if (group < 0) {
		errno = 0;
		return setup_error("the endpoint is in no IOMMU group "
				   "(no IOMMU?)");
	}
	if (vfio_open(c, group) || map_bar0(c) || map_buffers(c))
		return -1;
	c->vsmmu = rd32(c, REG_CAPS) & CAPS_IOMMU_ATS;
	note("REG_CAPS.VSMMU=%d; buffers mapped at IOVA 0x%llx (RW), 0x%llx "
	     "(RO), 0x%llx (RW)", c->vsmmu, IOVA_RW, IOVA_RO, IOVA_INV);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: vsmmu-ats-pri [--checks dma,fault,ats,atc-inv,"
		"pri,pri-overflow,remap,storm] [--priq-entries N] [--groups N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *list = "dma,fault,ats,atc-inv,pri";
	struct ctx c = { .container = -1, .group = -1, .device = -1,
			 .priq_entries = 16, .groups = 24 };
	const struct tally *t;
	size_t i;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--checks") && a + 1 < argc)
			list = argv[++a];
		else if (!strcmp(argv[a], "--priq-entries") && a + 1 < argc)
			c.priq_entries = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--groups") && a + 1 < argc)
			c.groups = strtoul(argv[++a], NULL, 0);
		else
			return usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(&c))
		return 2;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (selected(list, checks[i].name))
			checks[i].run(&c);
	}
	t = tally_get();
	printf("SUMMARY: %d passed, %d failed, %d unsupported (vsmmu=%d)\n",
	       t->pass, t->fail, t->unsupported, c.vsmmu);
	if (t->fail)
		return 1;
	/* UNSUPPORTED is fine only without a vsmmu, and only for ATS/PRI */
	if (t->unsupported &&
	    (c.vsmmu || t->unsupported != t->ats_pri_unsupported))
		return 1;
	return 0;
}
