/*
 * Reading /dev/kmsg records and matching the arm-smmu-v3 driver's lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"
#include "util.h"

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* The next record's message text, or -1 when there is none yet */
static int kmsg_next(int fd, char *msg, size_t len)
{
	char rec[1024];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: skip on */
		if (n <= 0)
			return -1;
		rec[n] = 0;
		rec[strcspn(rec, "\n")] = 0;
		snprintf(msg, len, "%s",
			 strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
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

int kmsg_wait_event(int fd, unsigned int id, struct evt *ev, unsigned int ms)
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
		if (got >= 0 && strstr(msg, "arm-smmu-v3") &&
		    strstr(msg, "0x")) {
			ev->dw[got++] = last_hex(msg);
			if (got == 4)
				return 0;
		} else if (strstr(msg, "arm-smmu-v3") && strstr(msg, want)) {
			got = 0;
		}
	}
	return -1;
}

int kmsg_wait_line(int fd, const char *a, const char *b, char *out,
		   size_t len, unsigned int ms)
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
