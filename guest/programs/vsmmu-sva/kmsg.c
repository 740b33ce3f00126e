/*
 * The kernel log, read from /dev/kmsg ("prio,seq,time,flags;text").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

/*
 * The sequence number of the newest kernel log record ("prio,seq,..."
 * from /dev/kmsg), or -1: it moves with every new line, also once the
 * ring is full
 */
long kmsg_last_seq(void)
{
	char rec[1024];
	long seq = -1;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *comma;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten while we read */
		if (n <= 0)
			break;
		rec[n] = 0;
		comma = strchr(rec, ',');
		if (comma)
			seq = strtol(comma + 1, NULL, 10);
	}
	close(fd);
	return seq;
}

int kmsg_count(long after, const char *needle)
{
	char rec[1024];
	int count = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *comma, *text;

		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		comma = strchr(rec, ',');
		text = strchr(rec, ';');
		if (comma && text && strtol(comma + 1, NULL, 10) > after &&
		    strstr(text, needle))
			count++;
	}
	close(fd);
	return count;
}
