/*
 * vsmmu-netpair: raw Ethernet frames from one NIC to another on the same
 * QEMU hub, one in flight at a time, for the network benchmark. Each
 * frame is a DMA map, a device read, a device write and two unmaps in the
 * guest's drivers: under strict invalidation, TLBI + CMD_SYNC each.
 *
 * Usage: vsmmu-netpair TX-IF RX-IF FRAMES SIZE
 * Prints: VSMMU-NET: frames=N size=S seconds=T frames_per_s=R
 * Exit status 0, or 1 when a frame is lost or corrupted (1 s timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETHERTYPE_LOCAL	0x88b5	/* IEEE local experimental */
#define MAX_FRAME	1514

static int open_raw(const char *ifname, struct sockaddr_ll *sll)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_LOCAL));

	if (fd < 0) {
		perror("socket(AF_PACKET)");
		exit(2);
	}
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_protocol = htons(ETHERTYPE_LOCAL);
	sll->sll_ifindex = if_nametoindex(ifname);
	if (!sll->sll_ifindex ||
	    bind(fd, (struct sockaddr *)sll, sizeof(*sll))) {
		fprintf(stderr, "bind to %s: %s\n", ifname, strerror(errno));
		exit(2);
	}
	return fd;
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Waits up to 1 s for frame @seq on @fd; 0, or -1 when it did not come */
static int receive(int fd, uint32_t seq, size_t size)
{
	uint8_t buf[MAX_FRAME];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double end = seconds() + 1.0;

	while (seconds() < end) {
		ssize_t n;
		uint32_t got;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)size || n < 18)
			continue;
		memcpy(&got, buf + 14, 4);
		if (got == seq && buf[n - 1] == (uint8_t)seq)
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll tx_addr, rx_addr;
	uint8_t frame[MAX_FRAME];
	unsigned long frames;
	size_t size;
	double start, secs;
	int tx, rx;
	uint32_t i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s TX-IF RX-IF FRAMES SIZE\n", argv[0]);
		return 2;
	}
	frames = strtoul(argv[3], NULL, 0);
	size = strtoul(argv[4], NULL, 0);
	if (size < 60 || size > MAX_FRAME) {
		fprintf(stderr, "SIZE must be 60 to %d\n", MAX_FRAME);
		return 2;
	}
	tx = open_raw(argv[1], &tx_addr);
	rx = open_raw(argv[2], &rx_addr);
	memset(frame, 0xff, 6);			/* broadcast: the hub floods */
	memset(frame + 6, 0x02, 6);		/* a locally administered MAC */
	frame[12] = ETHERTYPE_LOCAL >> 8;
	frame[13] = ETHERTYPE_LOCAL & 0xff;
	start = seconds();
	for (i = 0; i < frames; i++) {
		memcpy(frame + 14, &i, 4);
		memset(frame + 18, (uint8_t)i, size - 18);
		if (sendto(tx, frame, size, 0, (struct sockaddr *)&tx_addr,
			   sizeof(tx_addr)) != (ssize_t)size) {
			fprintf(stderr, "send of frame %u: %s\n", i,
				strerror(errno));
			return 1;
		}
		if (receive(rx, i, size)) {
			fprintf(stderr, "frame %u did not arrive on %s\n", i,
				argv[2]);
			return 1;
		}
	}
	secs = seconds() - start;
	printf("VSMMU-NET: frames=%lu size=%zu seconds=%.4f frames_per_s=%.1f\n",
	       frames, size, secs, secs > 0 ? frames / secs : 0.0);
	return 0;
}
