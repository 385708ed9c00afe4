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
#include <unistd.h>

#define IPVS_NL_FAMILY_NAME "IPVS"
#define IPVS_NL_FAMILY_VERSION 1
// Large enough for any datagram the kernel builds for a dump (it caps them at 32 KiB),
// so a read never truncates and libnl needs no MSG_PEEK round trip.
#define IPVS_NL_MSG_BUF_SIZE (64 * 1024)
#define IPVS_NL_RCVBUF (1024 * 1024)

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
        nl_socket_set_buffer_size(nl->sock, IPVS_NL_RCVBUF, 0) < 0) {
        // Not fatal: libnl's defaults still work, only less efficiently.
    }

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

void ipvs_nl_buffer_free(ipvs_nl_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
