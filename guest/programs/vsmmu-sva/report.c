/*
 * Check lines and the count of failures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static int failures;

void check(const char *name, const char *verdict, const char *fmt, ...)
{
	va_list ap;

	printf("CHECK %s: %s ", name, verdict);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!strcmp(verdict, "FAIL"))
		failures++;
}

int check_failures(void)
{
	return failures;
}
