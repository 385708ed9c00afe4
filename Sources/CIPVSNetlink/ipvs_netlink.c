// Generic-netlink transport for the IPVS family, on libnl-3.
//
// One handle = one socket + the resolved family id + one callback set, kept for the whole
// process. Every request waits for its own completion (ACK, DONE or error) so the socket
// is always clean for the next one.

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
// Large enough for any datagram the kernel builds for a dump (it caps them at 32 KiB),
// so a read never truncates and libnl needs no MSG_PEEK round trip.
#define IPVS_NL_MSG_BUF_SIZE (64 * 1024)
#define IPVS_NL_RCVBUF (1024 * 1024)
// Room for a whole batch in one sendmsg (the kernel refuses a message larger than sndbuf).
#define IPVS_NL_SNDBUF (IPVS_NL_BATCH_MAX_BYTES + 64 * 1024)
// Requests in flight at once. The kernel handles a whole sendmsg before we read anything and
// queues one acknowledgement datagram (~1 KiB of receive buffer each) per request; more than
// the receive buffer holds would be dropped.
#define IPVS_NL_BATCH_WINDOW 128
// No reply within this long is a failure, not a hang.
#define IPVS_NL_RECV_TIMEOUT_S 60

/// The progress of the request in flight, updated by the receive callbacks.
struct ipvs_nl_exchange {
    uint32_t seq;            // sequence number of the request
    int family;              // expected nlmsg_type of data messages
    int done;                // ACK, DONE or NLMSG_ERROR seen
    int error;               // 0 or a positive errno (kernel's, or ours for local failures)
    ipvs_nl_buffer *reply;   // where data messages go (may be NULL)
};

struct ipvs_nl {
    struct nl_sock *sock;
    struct nl_cb *cb;
    int family;
    struct ipvs_nl_exchange exchange;
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

static int on_seq_check(struct nl_msg *msg, void *arg) {
    struct ipvs_nl_exchange *exchange = arg;
    // A message for an earlier request cannot be ours; drop it rather than misattribute it.
    return nlmsg_hdr(msg)->nlmsg_seq == exchange->seq ? NL_OK : NL_SKIP;
}

static int on_valid(struct nl_msg *msg, void *arg) {
    struct ipvs_nl_exchange *exchange = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    if (hdr->nlmsg_type != exchange->family) return NL_SKIP;
    if (nlmsg_datalen(hdr) < GENL_HDRLEN) {
        if (!exchange->error) exchange->error = EINVAL;
        return NL_SKIP;
    }
    if (!exchange->reply) return NL_OK;
    struct genlmsghdr *genl = nlmsg_data(hdr);
    int length = genlmsg_attrlen(genl, 0);
    if (length < 0) length = 0;
    if (buffer_append_record(exchange->reply, genlmsg_attrdata(genl, 0), (uint32_t)length)
        && !exchange->error) {
        exchange->error = ENOMEM;
    }
    return NL_OK;
}

static int on_ack(struct nl_msg *msg, void *arg) {
    (void)msg;
    struct ipvs_nl_exchange *exchange = arg;
    exchange->done = 1;
    return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *arg) {
    struct ipvs_nl_exchange *exchange = arg;
    struct nlmsghdr *hdr = nlmsg_hdr(msg);
    // NLMSG_DONE carries the dump's final status as an int; negative means it failed.
    if (nlmsg_datalen(hdr) >= (int)sizeof(int)) {
        int status;
        memcpy(&status, nlmsg_data(hdr), sizeof(status));
        if (status < 0 && !exchange->error) exchange->error = -status;
    }
    exchange->done = 1;
    return NL_STOP;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *err, void *arg) {
    (void)who;
    struct ipvs_nl_exchange *exchange = arg;
    if (err->error < 0) {
        exchange->error = -err->error;
    } else if (err->error > 0) {
        exchange->error = err->error;
    }
    exchange->done = 1;
    return NL_STOP;
}

int ipvs_nl_open(ipvs_nl **out) {
    *out = NULL;
    ipvs_nl *nl = calloc(1, sizeof(*nl));
    if (!nl) return -ENOMEM;

    int rc = 0;
    nl->sock = nl_socket_alloc();
    nl->cb = nl_cb_alloc(NL_CB_DEFAULT);
    if (!nl->sock || !nl->cb) {
        rc = -ENOMEM;
        goto fail;
    }
    // Completion is tracked here (NLM_F_ACK is set by hand on every request).
    nl_socket_disable_auto_ack(nl->sock);
    nl_socket_disable_msg_peek(nl->sock);

    int nle = genl_connect(nl->sock);
    if (nle < 0) {
        rc = -errno_from_nle(nle);
        goto fail;
    }
    if (nl_socket_set_msg_buf_size(nl->sock, IPVS_NL_MSG_BUF_SIZE) < 0 ||
        nl_socket_set_buffer_size(nl->sock, IPVS_NL_RCVBUF, IPVS_NL_SNDBUF) < 0) {
        // Not fatal: libnl's defaults still work, only less efficiently.
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

    struct ipvs_nl_exchange *exchange = &nl->exchange;
    nl_cb_set(nl->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, exchange);
    nl_cb_set(nl->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, exchange);
    nl_cb_set(nl->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, exchange);
    nl_cb_set(nl->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, exchange);
    nl_cb_err(nl->cb, NL_CB_CUSTOM, on_error, exchange);

    *out = nl;
    return 0;

fail:
    ipvs_nl_close(nl);
    return rc;
}

void ipvs_nl_close(ipvs_nl *nl) {
    if (!nl) return;
    if (nl->cb) nl_cb_put(nl->cb);
    if (nl->sock) nl_socket_free(nl->sock);
    free(nl);
}

int ipvs_nl_transact(ipvs_nl *nl, uint8_t cmd, int flags, const void *attrs, size_t attrs_len,
                     ipvs_nl_buffer *reply) {
    if (attrs_len > 0 && !attrs) return -EINVAL;
    if (attrs_len > (size_t)IPVS_NL_MSG_BUF_SIZE) return -EMSGSIZE;

    struct nl_msg *msg = nlmsg_alloc_size(NLMSG_HDRLEN + GENL_HDRLEN + NLMSG_ALIGN(attrs_len) + 64);
    if (!msg) return -ENOMEM;
    if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags | NLM_F_ACK, cmd,
                     IPVS_NL_FAMILY_VERSION) ||
        (attrs_len > 0 && nlmsg_append(msg, (void *)attrs, attrs_len, NLMSG_ALIGNTO) < 0)) {
        nlmsg_free(msg);
        return -ENOMEM;
    }

    struct ipvs_nl_exchange *exchange = &nl->exchange;
    exchange->family = nl->family;
    exchange->done = 0;
    exchange->error = 0;
    exchange->reply = reply;

    // nl_send_auto fills in port, NLM_F_REQUEST and the next sequence number.
    int sent = nl_send_auto(nl->sock, msg);
    exchange->seq = nlmsg_hdr(msg)->nlmsg_seq;
    nlmsg_free(msg);
    if (sent < 0) {
        exchange->reply = NULL;
        return -EINVAL;
    }

    int rc = 0;
    while (!exchange->done) {
        int received = nl_recvmsgs(nl->sock, nl->cb);
        if (received < 0 && !exchange->done) {
            // A failure of the transport, not a kernel verdict (the socket may now be
            // out of step; the next request's sequence check discards stale messages).
            rc = -EINVAL;
            break;
        }
    }
    if (rc == 0 && exchange->error) rc = -exchange->error;
    exchange->reply = NULL;
    return rc;
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

    uint32_t port = nl_socket_get_local_port(nl->sock);
    uint32_t first_seq = 0;
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        struct nlmsghdr *hdr = (struct nlmsghdr *)(buffer + offset);
        size_t length = NLMSG_HDRLEN + GENL_HDRLEN + requests[i].attrs_len;
        hdr->nlmsg_len = (uint32_t)length;
        hdr->nlmsg_type = (uint16_t)nl->family;
        hdr->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | requests[i].flags);
        hdr->nlmsg_seq = nl_socket_use_seq(nl->sock);
        hdr->nlmsg_pid = port;
        if (i == 0) first_seq = hdr->nlmsg_seq;
        struct genlmsghdr *genl = (struct genlmsghdr *)(buffer + offset + NLMSG_HDRLEN);
        genl->cmd = requests[i].cmd;
        genl->version = IPVS_NL_FAMILY_VERSION;
        if (requests[i].attrs_len) {
            memcpy(buffer + offset + NLMSG_HDRLEN + GENL_HDRLEN, requests[i].attrs, requests[i].attrs_len);
        }
        statuses[i] = -EINVAL;
        offset += NLMSG_ALIGN(length);
    }

    int rc = 0;
    if (nl_sendto(nl->sock, buffer, total) < 0) rc = -EINVAL;
    free(buffer);

    size_t outstanding = rc == 0 ? count : 0;
    while (outstanding > 0) {
        unsigned char *data = NULL;
        struct sockaddr_nl from;
        int received = nl_recv(nl->sock, &from, &data, NULL);
        if (received <= 0) {
            free(data);
            rc = -EINVAL;
            break;
        }
        outstanding -= batch_collect(data, received, first_seq, count, statuses, pending);
        free(data);
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

void ipvs_nl_buffer_free(ipvs_nl_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
