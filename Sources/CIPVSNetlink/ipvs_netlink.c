// Generic-netlink transport for the IPVS family, on libnl-3.
//
// One handle = one socket + the resolved family id + one receive buffer, kept for the whole
// process. libnl opens the socket and resolves the family; requests are framed here and
// replies read with one recvmsg per datagram into that buffer (no per-message copies).
// Every request waits for its own completion (ACK, DONE or error) so the socket is always
// clean for the next one.

#include "CIPVSNetlink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <unistd.h>

#define IPVS_NL_FAMILY_NAME "IPVS"
#define IPVS_NL_FAMILY_VERSION 1
// Reads. The kernel allocates every dump datagram after the largest read the socket has made
// (at least NLMSG_GOODSIZE: min(page, 8 KiB) less the skb overhead; at most ~32 KiB), and this
// Debian kernel zeroes each allocation. Reading exactly NLMSG_GOODSIZE keeps every one at a
// single page: ~37 % less kernel time for a listing of 6000 single-server services than
// reading 64 KiB (measured in the VM), for more, smaller datagrams on large dumps.
// NLMSG_GOODSIZE is a guess (the skb overhead depends on the kernel's build: 320 bytes on
// Debian 12's x86-64 kernel), and a kernel may also fill its allocation beyond the size asked
// (6.1 does: kmalloc rounds up). A datagram cut by a too-small read is therefore detected
// (MSG_TRUNC), the read size raised to IPVS_NL_MSG_BUF_SIZE for good, and the request, always
// a dump (a read), sent again: see ipvs_nl_receive.
#define IPVS_NL_SKB_OVERHEAD_GUESS 320
#define IPVS_NL_MSG_BUF_SIZE (64 * 1024)
// Far more than any IPVS request (a service and a real server are a few hundred bytes).
#define IPVS_NL_MAX_REQUEST (64 * 1024)
#define IPVS_NL_RCVBUF (1024 * 1024)
// Room for a whole batch in one sendmsg (the kernel refuses a message larger than sndbuf).
#define IPVS_NL_SNDBUF (IPVS_NL_BATCH_MAX_BYTES + 64 * 1024)
// Requests in flight at once. The kernel handles a whole sendmsg before we read anything and
// queues one acknowledgement datagram (~1 KiB of receive buffer each) per request; more than
// the receive buffer holds would be dropped.
#define IPVS_NL_BATCH_WINDOW 128
// No reply within this long is a failure, not a hang.
#define IPVS_NL_RECV_TIMEOUT_S 60

struct ipvs_nl {
    struct nl_sock *sock;
    int fd;
    size_t rx_size;          // bytes read per recvmsg (see IPVS_NL_MSG_BUF_SIZE)
    int family;
    uint32_t port;           // our netlink port id (nlmsg_pid of our requests)
    uint32_t seq;            // sequence number of the request in flight
    int pending;             // a request was sent and is not complete yet
    unsigned char *rx;       // one receive buffer for the life of the handle
};

// The single translation of libnl's NLE_* codes into errnos. Positive NLE in, positive
// errno out. The kernel's own errnos never pass through here: they are captured verbatim
// by `on_error`.
static int errno_from_nle(int nle) {
    switch (nle < 0 ? -nle : nle) {
    case NLE_OBJ_NOTFOUND: return ENOPROTOOPT;  // family "IPVS" not registered: module not loaded
    case NLE_PERM: return EPERM;
    case NLE_NOACCESS: return EACCES;
    case NLE_NOMEM: return ENOMEM;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_AGAIN: return EAGAIN;
    case NLE_INTR: return EINTR;
    case NLE_BAD_SOCK: return EBADF;
    default: return EINVAL;
    }
}

// When the family is not registered, ipvsadm falls back to the legacy interface: a raw IPv4
// socket and getsockopt(IP_VS_SO_GET_INFO), which fails with ENOPROTOOPT without the module.
// Opening that raw socket needs CAP_NET_RAW, so an unprivileged caller sees EPERM instead.
// Reproduce the errno that probe yields (the socket is only opened, never used).
static int legacy_probe_errno(void) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) return -errno;
    close(fd);
    return -ENOPROTOOPT;
}

static int buffer_reserve(ipvs_nl_buffer *buffer, size_t extra) {
    size_t needed = buffer->length + extra;
    if (needed <= buffer->capacity) return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < needed) capacity *= 2;
    void *data = realloc(buffer->data, capacity);
    if (!data) return ENOMEM;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

// Appends one record: u32 length, the attribute bytes, zero padding to 4 bytes.
static int buffer_append_record(ipvs_nl_buffer *buffer, const void *bytes, uint32_t length) {
    size_t padded = ((size_t)length + 3u) & ~(size_t)3u;
    if (buffer_reserve(buffer, sizeof(uint32_t) + padded)) return ENOMEM;
    unsigned char *end = (unsigned char *)buffer->data + buffer->length;
    memcpy(end, &length, sizeof(length));
    if (length) memcpy(end + sizeof(length), bytes, length);
    memset(end + sizeof(length) + length, 0, padded - length);
    buffer->length += sizeof(length) + padded;
    return 0;
}

int ipvs_nl_open(ipvs_nl **out) {
    *out = NULL;
    ipvs_nl *nl = calloc(1, sizeof(*nl));
    if (!nl) return -ENOMEM;

    int rc = 0;
    nl->sock = nl_socket_alloc();
    long page = sysconf(_SC_PAGESIZE);
    if (page < 4096) page = 4096;
    nl->rx_size = (size_t)(page < 8192 ? page : 8192) - IPVS_NL_SKB_OVERHEAD_GUESS;
    nl->rx = malloc(IPVS_NL_MSG_BUF_SIZE);
    if (!nl->sock || !nl->rx) {
        rc = -ENOMEM;
        goto fail;
    }
    // Completion is tracked here (NLM_F_ACK is set by hand on every request).
    nl_socket_disable_auto_ack(nl->sock);
    // libnl's own reads (the family look-up) use the same size, so that the kernel's sizing
    // starts from it; its replies are small, never cut.
    nl_socket_disable_msg_peek(nl->sock);
    (void)nl_socket_set_msg_buf_size(nl->sock, nl->rx_size);

    int nle = genl_connect(nl->sock);
    if (nle < 0) {
        rc = -errno_from_nle(nle);
        goto fail;
    }
    if (nl_socket_set_buffer_size(nl->sock, IPVS_NL_RCVBUF, IPVS_NL_SNDBUF) < 0) {
        // Not fatal: the defaults still work, only with smaller batches in flight.
    }

    int fd = nl_socket_get_fd(nl->sock);
    int one = 1;
    // Error acknowledgements without a copy of the request: smaller, so more fit in a batch.
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    struct timeval timeout = {.tv_sec = IPVS_NL_RECV_TIMEOUT_S, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    int family = genl_ctrl_resolve(nl->sock, IPVS_NL_FAMILY_NAME);
    if (family < 0) {
        rc = -errno_from_nle(family);
        if (rc == -ENOPROTOOPT) rc = legacy_probe_errno();
        goto fail;
    }
    nl->family = family;
    nl->fd = fd;
    nl->port = nl_socket_get_local_port(nl->sock);

    *out = nl;
    return 0;

fail:
    ipvs_nl_close(nl);
    return rc;
}

void ipvs_nl_close(ipvs_nl *nl) {
    if (!nl) return;
    if (nl->sock) nl_socket_free(nl->sock);
    free(nl->rx);
    free(nl);
}

// Writes the header of one request at `buffer` (room for the attributes included) and
// returns its aligned length.
static size_t put_request(ipvs_nl *nl, unsigned char *buffer, uint8_t cmd, int flags, const void *attrs,
                          size_t attrs_len, uint32_t seq) {
    struct nlmsghdr *hdr = (struct nlmsghdr *)buffer;
    size_t length = NLMSG_HDRLEN + GENL_HDRLEN + attrs_len;
    memset(buffer, 0, NLMSG_HDRLEN + GENL_HDRLEN);
    hdr->nlmsg_len = (uint32_t)length;
    hdr->nlmsg_type = (uint16_t)nl->family;
    hdr->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    hdr->nlmsg_seq = seq;
    hdr->nlmsg_pid = nl->port;
    struct genlmsghdr *genl = (struct genlmsghdr *)(buffer + NLMSG_HDRLEN);
    genl->cmd = cmd;
    genl->version = IPVS_NL_FAMILY_VERSION;
    if (attrs_len) memcpy(buffer + NLMSG_HDRLEN + GENL_HDRLEN, attrs, attrs_len);
    memset(buffer + length, 0, NLMSG_ALIGN(length) - length);
    return NLMSG_ALIGN(length);
}

// One datagram from the kernel into nl->rx: its length, or -errno. A datagram larger than
// the read would be cut: that is reported as a failure (the kernel never builds one, see
// IPVS_NL_MSG_BUF_SIZE), never passed on short.
static int receive_datagram(ipvs_nl *nl) {
    for (;;) {
        struct iovec iov = {.iov_base = nl->rx, .iov_len = nl->rx_size};
        struct sockaddr_nl from;
        struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t received = recvmsg(nl->fd, &msg, 0);
        if (received < 0) {
            if (errno == EINTR) continue;
            return -EINVAL;  // includes the receive timeout (EAGAIN): a transport failure
        }
        if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;
        if (from.nl_pid != 0) continue;  // only the kernel talks to us
        return (int)received;
    }
}

int ipvs_nl_send(ipvs_nl *nl, uint8_t cmd, int flags, const void *attrs, size_t attrs_len) {
    if (attrs_len > 0 && !attrs) return -EINVAL;
    if (attrs_len > (size_t)IPVS_NL_MAX_REQUEST) return -EMSGSIZE;
    size_t size = NLMSG_ALIGN(NLMSG_HDRLEN + GENL_HDRLEN + attrs_len);
    unsigned char stack[512];
    unsigned char *buffer = size <= sizeof(stack) ? stack : malloc(size);
    if (!buffer) return -ENOMEM;
    nl->seq = nl_socket_use_seq(nl->sock);
    size_t length = put_request(nl, buffer, cmd, flags, attrs, attrs_len, nl->seq);
    int sent = nl_sendto(nl->sock, buffer, length);
    if (buffer != stack) free(buffer);
    nl->pending = sent >= 0;
    return sent < 0 ? -EINVAL : 0;
}

// After a cut datagram: reads the rest of the request in flight, discarding it, until its
// end (DONE or an error message, which are small and never cut).
static int drain(ipvs_nl *nl) {
    for (;;) {
        int received = receive_datagram(nl);
        if (received < 0) return received;
        int remaining = received;
        for (struct nlmsghdr *hdr = (struct nlmsghdr *)nl->rx; nlmsg_ok(hdr, remaining);
             hdr = nlmsg_next(hdr, &remaining)) {
            if (hdr->nlmsg_seq == nl->seq && (hdr->nlmsg_type == NLMSG_DONE || hdr->nlmsg_type == NLMSG_ERROR)) {
                return 0;
            }
        }
    }
}

int ipvs_nl_receive(ipvs_nl *nl, ipvs_nl_buffer *reply, int *done) {
    *done = 0;
    if (!nl->pending) return -EINVAL;
    int received = receive_datagram(nl);
    if (received == -EMSGSIZE && nl->rx_size < IPVS_NL_MSG_BUF_SIZE) {
        // The kernel built a datagram larger than our read: read it all from now on, let
        // this request run out unread, and have the caller send it again.
        nl->rx_size = IPVS_NL_MSG_BUF_SIZE;
        int rc = drain(nl);
        nl->pending = 0;
        *done = 1;
        return rc < 0 ? -EINVAL : -EMSGSIZE;
    }
    if (received < 0) {
        nl->pending = 0;
        *done = 1;
        return received == -EMSGSIZE ? -EINVAL : received;
    }
    int error = 0;
    int remaining = received;
    for (struct nlmsghdr *hdr = (struct nlmsghdr *)nl->rx; nlmsg_ok(hdr, remaining);
         hdr = nlmsg_next(hdr, &remaining)) {
        // A message for an earlier request cannot be ours; drop it rather than misattribute it.
        if (hdr->nlmsg_seq != nl->seq) continue;
        if (hdr->nlmsg_type == NLMSG_ERROR) {
            // An acknowledgement (error 0) or the kernel's verdict.
            if (nlmsg_datalen(hdr) >= (int)sizeof(struct nlmsgerr)) {
                const struct nlmsgerr *err = nlmsg_data(hdr);
                if (err->error && !error) error = err->error < 0 ? -err->error : err->error;
            } else if (!error) {
                error = EINVAL;
            }
            *done = 1;
        } else if (hdr->nlmsg_type == NLMSG_DONE) {
            // NLMSG_DONE carries the dump's final status as an int; negative means it failed.
            if (nlmsg_datalen(hdr) >= (int)sizeof(int)) {
                int status;
                memcpy(&status, nlmsg_data(hdr), sizeof(status));
                if (status < 0 && !error) error = -status;
            }
            *done = 1;
        } else if (hdr->nlmsg_type == nl->family) {
            if (nlmsg_datalen(hdr) < GENL_HDRLEN) {
                if (!error) error = EINVAL;
                continue;
            }
            if (!reply) continue;
            int length = nlmsg_datalen(hdr) - GENL_HDRLEN;
            if (buffer_append_record(reply, (unsigned char *)nlmsg_data(hdr) + GENL_HDRLEN, (uint32_t)length) &&
                !error) {
                error = ENOMEM;
            }
        }
        if (*done) break;
    }
    if (*done) nl->pending = 0;
    return -error;
}

// Records the acknowledgements found in one received datagram. Returns how many of the
// batch's statuses it filled.
static size_t batch_collect(const unsigned char *data, int length, uint32_t first_seq, size_t count,
                            int *statuses, const unsigned char *pending) {
    size_t filled = 0;
    const struct nlmsghdr *hdr = (const struct nlmsghdr *)data;
    int remaining = length;
    while (nlmsg_ok(hdr, remaining)) {
        uint32_t index = hdr->nlmsg_seq - first_seq;
        if (hdr->nlmsg_type == NLMSG_ERROR && index < count && pending[index]) {
            int status = -EINVAL;
            if (nlmsg_datalen(hdr) >= (int)sizeof(struct nlmsgerr)) {
                const struct nlmsgerr *err = nlmsg_data(hdr);
                status = err->error > 0 ? -err->error : err->error;
            }
            statuses[index] = status;
            ((unsigned char *)pending)[index] = 0;
            filled++;
        }
        hdr = nlmsg_next((struct nlmsghdr *)hdr, &remaining);
    }
    return filled;
}

// Sends one window of requests in one sendmsg and collects their acknowledgements.
static int transact_window(ipvs_nl *nl, const ipvs_nl_request *requests, size_t count, int *statuses) {
    if (count == 0) return 0;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if ((requests[i].flags & IPVS_NL_F_DUMP) || (requests[i].attrs_len > 0 && !requests[i].attrs)) {
            return -EINVAL;
        }
        total += NLMSG_ALIGN(NLMSG_HDRLEN + GENL_HDRLEN + NLMSG_ALIGN(requests[i].attrs_len));
    }
    if (total > IPVS_NL_BATCH_MAX_BYTES) return -EMSGSIZE;

    unsigned char *buffer = calloc(1, total);
    unsigned char *pending = malloc(count);
    if (!buffer || !pending) {
        free(buffer);
        free(pending);
        return -ENOMEM;
    }
    memset(pending, 1, count);

    uint32_t first_seq = 0;
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t seq = nl_socket_use_seq(nl->sock);
        if (i == 0) first_seq = seq;
        offset += put_request(nl, buffer + offset, requests[i].cmd, requests[i].flags, requests[i].attrs,
                              requests[i].attrs_len, seq);
        statuses[i] = -EINVAL;
    }

    int rc = 0;
    if (nl_sendto(nl->sock, buffer, total) < 0) rc = -EINVAL;
    free(buffer);

    size_t outstanding = rc == 0 ? count : 0;
    while (outstanding > 0) {
        int received = receive_datagram(nl);
        if (received < 0) {
            rc = received;
            break;
        }
        outstanding -= batch_collect(nl->rx, received, first_seq, count, statuses, pending);
    }
    free(pending);
    return rc;
}

int ipvs_nl_transact_batch(ipvs_nl *nl, const ipvs_nl_request *requests, size_t count, int *statuses) {
    for (size_t start = 0; start < count; start += IPVS_NL_BATCH_WINDOW) {
        size_t n = count - start < IPVS_NL_BATCH_WINDOW ? count - start : IPVS_NL_BATCH_WINDOW;
        int rc = transact_window(nl, requests + start, n, statuses + start);
        if (rc < 0) {
            for (size_t i = start + n; i < count; i++) statuses[i] = -EINVAL;
            return rc;
        }
    }
    return 0;
}

void ipvs_nl_set_read_size(ipvs_nl *nl, size_t size) {
    if (size < 256) size = 256;
    if (size > IPVS_NL_MSG_BUF_SIZE) size = IPVS_NL_MSG_BUF_SIZE;
    nl->rx_size = size;
}

void ipvs_nl_buffer_free(ipvs_nl_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
