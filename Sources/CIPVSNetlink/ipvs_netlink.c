// Opening the IPVS generic-netlink socket with libnl-3: see CIPVSNetlink.h.

#define _GNU_SOURCE
#include "CIPVSNetlink.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include <sys/socket.h>
#include <unistd.h>

struct ipvs_nl {
    struct nl_sock *sock;
    uint16_t family;
};

// The one translation of libnl's NLE_* codes into errnos (positive in, positive out).
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
    default: return EINVAL;
    }
}

// When the family is not registered, libipvs falls back to the legacy interface: a raw IPv4
// socket and getsockopt(IP_VS_SO_GET_INFO), which fails with ENOPROTOOPT without the module.
// Opening that raw socket needs CAP_NET_RAW, so an unprivileged caller sees EPERM instead.
// This reproduces the errno of that probe (the socket is only opened, never used).
static int legacy_probe_errno(void) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) return errno;
    close(fd);
    return ENOPROTOOPT;
}

int ipvs_nl_open(size_t read_size, size_t receive_buffer, size_t send_buffer, int timeout_seconds, ipvs_nl **out) {
    *out = NULL;
    ipvs_nl *nl = calloc(1, sizeof(*nl));
    if (!nl) return ENOMEM;
    nl->sock = nl_socket_alloc();
    if (!nl->sock) {
        free(nl);
        return ENOMEM;
    }
    // Swift matches replies itself; libnl's own reads (the family look-up) read whole
    // datagrams of read_size, so that the kernel's sizing starts from it.
    nl_socket_disable_auto_ack(nl->sock);
    nl_socket_disable_msg_peek(nl->sock);
    (void)nl_socket_set_msg_buf_size(nl->sock, read_size);

    int rc = 0;
    int nle = genl_connect(nl->sock);
    if (nle < 0) {
        rc = errno_from_nle(nle);
        goto fail;
    }
    // Not fatal when refused: the defaults work, with fewer requests in flight.
    (void)nl_socket_set_buffer_size(nl->sock, (int)receive_buffer, (int)send_buffer);
    int fd = nl_socket_get_fd(nl->sock);
    int one = 1;
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    struct timeval timeout = {.tv_sec = timeout_seconds, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (connect(fd, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        rc = errno;
        goto fail;
    }

    int family = genl_ctrl_resolve(nl->sock, "IPVS");
    if (family < 0) {
        rc = errno_from_nle(family);
        if (rc == ENOPROTOOPT) rc = legacy_probe_errno();
        goto fail;
    }
    nl->family = (uint16_t)family;
    *out = nl;
    return 0;

fail:
    ipvs_nl_close(nl);
    return rc;
}

void ipvs_nl_close(ipvs_nl *nl) {
    if (!nl) return;
    nl_socket_free(nl->sock);
    free(nl);
}

int ipvs_nl_descriptor(const ipvs_nl *nl) { return nl_socket_get_fd(nl->sock); }

uint16_t ipvs_nl_family(const ipvs_nl *nl) { return nl->family; }

uint32_t ipvs_nl_port(const ipvs_nl *nl) { return nl_socket_get_local_port(nl->sock); }

int ipvs_nl_enter_network_namespace(int descriptor) { return setns(descriptor, CLONE_NEWNET) < 0 ? errno : 0; }
