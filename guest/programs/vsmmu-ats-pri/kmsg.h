/*
 * The guest kernel's log (/dev/kmsg): what the arm-smmu-v3 driver logs
 * while a check runs.
 */
#ifndef VSMMU_ATS_PRI_KMSG_H
#define VSMMU_ATS_PRI_KMSG_H

#include <stddef.h>
#include <stdint.h>

/* An SMMU event record's raw dwords as the driver logs them */
struct evt {
	uint64_t dw[4];
};

/* /dev/kmsg opened at its end: what the kernel logs from now on */
int kmsg_open(void);

/*
 * Waits up to ms for an "event 0xID received" record of arm-smmu-v3 and its
 * four raw dwords (Linux 6.12 prints them one per line). Returns 0 if found.
 */
int kmsg_wait_event(int fd, unsigned int id, struct evt *ev, unsigned int ms);

/* Waits up to ms for a log line containing all of a and b; copies it */
int kmsg_wait_line(int fd, const char *a, const char *b, char *out,
		   size_t len, unsigned int ms);

#endif /* VSMMU_ATS_PRI_KMSG_H */
