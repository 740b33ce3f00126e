/*
 * The checks, in the order they run; each prints one CHECK line through
 * result(). What each proves: docs/guest-ats-pri.md.
 */
#ifndef VSMMU_ATS_PRI_CHECKS_H
#define VSMMU_ATS_PRI_CHECKS_H

#include <stdbool.h>

#include "ctx.h"

void check_dma(struct ctx *c);		/* check-dma.c */
void check_fault(struct ctx *c);	/* check-fault.c */
void check_ats(struct ctx *c);		/* check-ats.c */
void check_atc_inv(struct ctx *c);	/* check-ats.c */
void check_pri(struct ctx *c);		/* check-pri.c */
void check_pri_overflow(struct ctx *c);	/* check-pri.c */
void check_remap(struct ctx *c);	/* check-remap.c */
void check_storm(struct ctx *c);	/* check-storm.c */

/*
 * Without a vsmmu (REG_CAPS) prints the check UNSUPPORTED with what Linux
 * did with ATS, and returns true: the check must not run.
 */
bool ats_unsupported(struct ctx *c, const char *name);

#endif /* VSMMU_ATS_PRI_CHECKS_H */
