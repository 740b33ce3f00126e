/*
 * The kernel log, from /dev/kmsg.
 */
#ifndef VSMMU_SVA_KMSG_H
#define VSMMU_SVA_KMSG_H

/*
 * The sequence number of the newest record, or -1: it moves with every
 * new line, also once the ring is full
 */
long kmsg_last_seq(void);

/* Records after sequence number @after whose text holds @needle, or -1 */
int kmsg_count(long after, const char *needle);

#endif /* VSMMU_SVA_KMSG_H */
