/*
 * vsmmu_shims.h - small helpers for the vsmmu server that Swift cannot
 * express directly (CMSG macros, memfd, atomic stores into shared memory).
 * Not part of the model's C interface (that is vsmmu.h).
 */
#ifndef VSMMU_SHIMS_H
#define VSMMU_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most descriptors one message may carry (any more are closed on receipt). */
#define VSMMU_SHIM_MAX_FDS 8

/* sendmsg of len bytes with nfds descriptors as SCM_RIGHTS (MSG_NOSIGNAL),
 * retrying on EINTR and completing partial sends. 0 on success, -errno. */
int vsmmu_shim_send(int sock, const void *buf, size_t len, const int *fds, int nfds);

/* One recvmsg of up to len bytes (MSG_CMSG_CLOEXEC). Received descriptors
 * go to fds (at most VSMMU_SHIM_MAX_FDS; *nfds set); descriptors beyond
 * that are closed and *ctrunc set. Returns bytes read (0: peer closed) or
 * -errno. Retries on EINTR. */
ssize_t vsmmu_shim_recv(int sock, void *buf, size_t len, int *fds, int *nfds, int *ctrunc);

/* memfd_create + ftruncate. fd or -errno. */
int vsmmu_shim_memfd(const char *name, uint64_t size);

/* Release store of a 32-bit word into shared memory (an MSI into guest RAM). */
void vsmmu_shim_store_release32(void *addr, uint32_t value);
/* Acquire load of a 32-bit word (tests poll guest RAM). */
uint32_t vsmmu_shim_load_acquire32(const void *addr);

/* poll() for readability, retrying on EINTR with the remaining time.
 * 1 readable (or hung up), 0 timeout, -errno. */
int vsmmu_shim_wait_readable(int sock, int timeout_ms);

#endif
