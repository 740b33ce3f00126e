/*
 * The program's output lines and the tally of verdicts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static struct tally tally;

void result(const char *name, bool ats_pri, const char *verdict,
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

void note(const char *fmt, ...)
{
	va_list ap;

	printf("  ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int setup_error(const char *what)
{
	printf("SETUP FAIL: %s: %s\n", what, errno ? strerror(errno) : "");
	return -1;
}

const struct tally *tally_get(void)
{
	return &tally;
}
