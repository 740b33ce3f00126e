/*
 * One "CHECK <name>: PASS|FAIL|UNSUPPORTED <detail>" line per check.
 */
#ifndef VSMMU_SVA_REPORT_H
#define VSMMU_SVA_REPORT_H

/* Prints the line and counts a FAIL */
void check(const char *name, const char *verdict, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Failed checks so far */
int check_failures(void);

#endif /* VSMMU_SVA_REPORT_H */
