#include <malloc.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

// recvmmsg(2), which Swift's Glibc module does not declare (struct mmsghdr is a _GNU_SOURCE
// name): the same layout under another name, and the system call made directly.
struct ipvs_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

// Up to `count` datagrams in one call, without waiting: the number read, or -1 and errno.
static inline int ipvs_recvmmsg(int fd, struct ipvs_mmsghdr *vector, unsigned int count) {
    return (int)syscall(SYS_recvmmsg, fd, vector, count, MSG_DONTWAIT, NULL);
}

// sendmmsg(2), likewise: up to `count` datagrams in one call; the number sent (an error after
// the first loses its errno: the caller goes on from the first one not sent), or -1 and errno.
static inline int ipvs_sendmmsg(int fd, struct ipvs_mmsghdr *vector, unsigned int count) {
    return (int)syscall(SYS_sendmmsg, fd, vector, count, MSG_DONTWAIT);
}

// mallopt(3), which Swift's Glibc module does not declare: the heap is never given back to the
// kernel (trimmed) below `keep` bytes, and blocks below `mmap` bytes come from the heap, not
// from a mapping of their own.
static inline void ipvs_keep_heap(int keep, int mmap) {
    mallopt(M_TRIM_THRESHOLD, keep);
    mallopt(M_MMAP_THRESHOLD, mmap);
}
