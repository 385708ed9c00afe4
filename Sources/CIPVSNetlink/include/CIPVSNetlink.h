#ifndef CIPVSNETLINK_H
#define CIPVSNETLINK_H

// The only C code of the project: what needs libnl-3 or C. It opens a generic-netlink socket,
// connects it to the kernel and resolves the "IPVS" family with libnl, and hands Swift the
// descriptor, the family id and the port id. Everything that travels over the socket
// (framing, sequence numbers, the receive loop, batching) is Swift's (IPVSNetlink).

#include <stddef.h>
#include <stdint.h>

/// An open generic-netlink socket with the "IPVS" family resolved. Opaque; create with
/// `ipvs_nl_open`, destroy with `ipvs_nl_close`.
typedef struct ipvs_nl ipvs_nl;

/// Opens the socket (buffers of `receive_buffer` and `send_buffer` bytes, as Swift sizes them
/// for its batches; error acknowledgements without a copy of the request; a receive timeout
/// of `timeout_seconds`), connects it to the kernel (so only the kernel's messages reach
/// it), and resolves the "IPVS" family with reads of `read_size` bytes (the kernel sizes its
/// dump datagrams after the largest read a socket has made).
///
/// Returns 0 and stores the handle in `*out`, or returns an errno (positive). libnl's own
/// error codes become errnos here, once: the family not registered (module not loaded) is
/// what libipvs then reports, `ENOPROTOOPT` (or the `EPERM` of its raw-socket probe when the
/// caller may not open one); a refused socket `EPERM`; an allocation failure `ENOMEM`.
int ipvs_nl_open(size_t read_size, size_t receive_buffer, size_t send_buffer, int timeout_seconds,
                 ipvs_nl *_Nullable *_Nonnull out);

/// Closes the socket and frees the handle. Accepts NULL.
void ipvs_nl_close(ipvs_nl *_Nullable nl);

/// The socket's descriptor, for `send` and `recv`.
int ipvs_nl_descriptor(const ipvs_nl *_Nonnull nl);

/// The resolved id of the "IPVS" family (the `nlmsg_type` of its messages).
uint16_t ipvs_nl_family(const ipvs_nl *_Nonnull nl);

/// The socket's netlink port id (the `nlmsg_pid` of its requests).
uint32_t ipvs_nl_port(const ipvs_nl *_Nonnull nl);

/// `setns(descriptor, CLONE_NEWNET)`: moves the calling thread into the network namespace
/// the descriptor names. Returns 0 or an errno (positive). A wrapper because `setns` needs `_GNU_SOURCE`,
/// which Swift's Glibc module is not built with.
int ipvs_nl_enter_network_namespace(int descriptor);

#endif
