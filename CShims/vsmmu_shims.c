#define _GNU_SOURCE
#include "vsmmu.h"
#include "vsmmu_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t vsmmu_shim_sendmsg(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VSMMU_SHIM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (nfds < 0 || nfds > VSMMU_SHIM_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t vsmmu_shim_recvmsg(int sock, void *buf, size_t len, int *fds, int *nfds, int *ctrunc)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VSMMU_SHIM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };

    *nfds = 0;
    *ctrunc = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
        return -1;
    }
    if (msg.msg_flags & MSG_CTRUNC) {
        *ctrunc = 1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < VSMMU_SHIM_MAX_FDS) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                *ctrunc = 1;
            }
        }
    }
    return n;
}

int vsmmu_shim_memfd(const char *name, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void vsmmu_shim_store_release32(void *addr, uint32_t value)
{
    __atomic_store_n((uint32_t *)addr, value, __ATOMIC_RELEASE);
}

uint32_t vsmmu_shim_load_acquire32(const void *addr)
{
    return __atomic_load_n((const uint32_t *)addr, __ATOMIC_ACQUIRE);
}

void vsmmu_shim_store_release64(void *addr, uint64_t value)
{
    __atomic_store_n((uint64_t *)addr, value, __ATOMIC_RELEASE);
}

uint64_t vsmmu_shim_load_acquire64(const void *addr)
{
    return __atomic_load_n((const uint64_t *)addr, __ATOMIC_ACQUIRE);
}

void vsmmu_shim_fence_release(void)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void vsmmu_shim_fence_seq_cst(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int vsmmu_shim_lock_file(int fd)
{
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

    return fcntl(fd, F_SETLK, &l);
}

int vsmmu_shim_sealed_against_shrinking(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);

    return seals < 0 ? -1 : (seals & F_SEAL_SHRINK) != 0;
}

int vsmmu_shim_sealed_memfd(const char *name, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0) {
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
