/*
 * vsmmu_shims.h - the few helpers for the vsmmu server that Swift cannot
 * express directly (CMSG macros, atomic accesses to shared memory,
 * memfd_create). Each is one system call or one instruction: retrying on
 * EINTR, completing partial transfers and waiting on EAGAIN are the Swift
 * caller's policy (Sources/VSMMUServer/SystemCall.swift).
 * Not part of the model's C interface (that is vsmmu.h).
 */
#ifndef VSMMU_SHIMS_H
#define VSMMU_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most descriptors one message may carry (any more are closed on receipt). */
#define VSMMU_SHIM_MAX_FDS 8

/* One sendmsg (MSG_NOSIGNAL) of len bytes with nfds descriptors as
 * SCM_RIGHTS. Bytes sent, or -1 with errno set (EINVAL for a bad nfds). */
ssize_t vsmmu_shim_sendmsg(int sock, const void *buf, size_t len, const int *fds, int nfds);

/* One recvmsg of up to len bytes (MSG_CMSG_CLOEXEC). Received descriptors
 * go to fds (at most VSMMU_SHIM_MAX_FDS; *nfds set); descriptors beyond
 * that are closed and *ctrunc set. Bytes read (0: peer closed), or -1 with
 * errno set. */
ssize_t vsmmu_shim_recvmsg(int sock, void *buf, size_t len, int *fds, int *nfds, int *ctrunc);

/* memfd_create(MFD_CLOEXEC) + ftruncate. fd, or -1 with errno set. */
int vsmmu_shim_memfd(const char *name, uint64_t size);

/* Release store of a 32-bit word into shared memory (an MSI into guest RAM). */
void vsmmu_shim_store_release32(void *addr, uint32_t value);
/* Acquire load of a 32-bit word (tests poll guest RAM). */
uint32_t vsmmu_shim_load_acquire32(const void *addr);
/* The same for 64-bit words (the shared translation cache). */
void vsmmu_shim_store_release64(void *addr, uint64_t value);
uint64_t vsmmu_shim_load_acquire64(const void *addr);
/* A release fence: stores before it are seen before stores after it. */
void vsmmu_shim_fence_release(void);
/* A full fence: stores before it are seen before loads after it. */
void vsmmu_shim_fence_seq_cst(void);

/* fcntl F_SETLK of a write lock over the whole file (a POSIX lock: held
 * by this process until it closes the file or exits). 0, or -1 with errno
 * (EAGAIN/EACCES: another process holds it). */
int vsmmu_shim_lock_file(int fd);
/* fcntl F_GET_SEALS: 1 with F_SEAL_SHRINK, 0 without, -1 with errno set. */
int vsmmu_shim_sealed_against_shrinking(int fd);
/* A memfd of size bytes sealed against resizing, as a front end makes a
 * state region (tests). fd, or -1 with errno set. */
int vsmmu_shim_sealed_memfd(const char *name, uint64_t size);

#endif
