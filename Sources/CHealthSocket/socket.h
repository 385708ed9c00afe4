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
