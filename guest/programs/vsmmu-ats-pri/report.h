/*
 * What the program prints: one CHECK line per check, indented notes,
 * SETUP FAIL lines, and the tally of verdicts behind the SUMMARY line.
 */
#ifndef VSMMU_ATS_PRI_REPORT_H
#define VSMMU_ATS_PRI_REPORT_H

#include <stdbool.h>

struct tally {
	int pass, fail, unsupported, ats_pri_unsupported;
};

/*
 * Prints "CHECK <name>: <verdict> <detail>" and counts the verdict
 * ("PASS", "FAIL" or "UNSUPPORTED"); ats_pri marks an ATS/PRI check.
 */
void result(const char *name, bool ats_pri, const char *verdict,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prints an indented line of context between the CHECK lines */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "SETUP FAIL: <what>: <strerror(errno)>"; returns -1 */
int setup_error(const char *what);

/* The verdicts counted so far */
const struct tally *tally_get(void);

#endif /* VSMMU_ATS_PRI_REPORT_H */
