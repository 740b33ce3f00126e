#define _GNU_SOURCE
#include "vsmmu.h"
#include "vsmmu_shims.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int vsmmu_shim_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    if (nfds < 0 || nfds > VSMMU_SHIM_MAX_FDS) {
        return -EINVAL;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * VSMMU_SHIM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    const char *p = buf;
    size_t left = len;
    int first = 1;
    while (left > 0 || first) {
        struct iovec iov = { .iov_base = (void *)p, .iov_len = left };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (first && nfds > 0) {
            memset(&control, 0, sizeof(control));
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
        }
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        /* The descriptors went with the first bytes. */
        first = 0;
        p += n;
        left -= (size_t)n;
        if (len == 0) {
            break;
        }
    }
    return 0;
}

ssize_t vsmmu_shim_recv(int sock, void *buf, size_t len, int *fds, int *nfds, int *ctrunc)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VSMMU_SHIM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    *nfds = 0;
    *ctrunc = 0;
    for (;;) {
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
        };
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
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
}

int vsmmu_shim_memfd(const char *name, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return -e;
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vsmmu_shim_wait_readable(int sock, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = { .fd = sock, .events = POLLIN };
        int64_t left = deadline - now_ms();
        if (left < 0) {
            left = 0;
        }
        int r = poll(&p, 1, (int)left);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        return r > 0 ? 1 : 0;
    }
}
