#ifndef CIPVSNETLINK_H
#define CIPVSNETLINK_H

// The only C code of the project: a thin shim over libnl-3 that owns one generic-netlink
// socket bound to the "IPVS" family. Attributes are encoded and decoded in Swift
// (IPVSNetlink); this layer only frames, sends, receives and reports the kernel's errno.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An open generic-netlink socket with the "IPVS" family id already resolved.
/// Opaque; create with `ipvs_nl_open`, destroy with `ipvs_nl_close`.
typedef struct ipvs_nl ipvs_nl;

/// Bytes collected from the kernel's replies. `data` is heap memory owned by the buffer
/// (release it with `ipvs_nl_buffer_free`); zero-initialise the struct before use.
typedef struct ipvs_nl_buffer {
    void *_Nullable data;
    size_t length;
    size_t capacity;
} ipvs_nl_buffer;

/// `flags` value for a dump request (`NLM_F_DUMP`).
#define IPVS_NL_F_DUMP 0x300

/// Opens a generic-netlink socket and resolves the "IPVS" family once.
///
/// Returns 0 and stores the handle in `*out`, or returns `-errno`. libnl's own error
/// codes are translated to errnos here: an unknown family (module not loaded) is
/// `-ENOPROTOOPT`, a refused socket `-EPERM`, an allocation failure `-ENOMEM`.
int ipvs_nl_open(ipvs_nl *_Nullable *_Nonnull out);

/// Closes the socket and frees the handle. Accepts NULL.
void ipvs_nl_close(ipvs_nl *_Nullable nl);

/// One IPVS request and its reply, in two halves, so that a reply too large to hold at once
/// (a dump of thousands of services) is handed over as it arrives.
///
/// `ipvs_nl_send` sends `nlmsghdr` + `genlmsghdr {cmd, version 1}` followed by `attrs`
/// (`attrs_len` bytes of already-encoded netlink attributes, appended verbatim). `flags` are
/// extra `nlmsg_flags` (`IPVS_NL_F_DUMP` or 0); `NLM_F_REQUEST` and `NLM_F_ACK` are always added.
///
/// Each `ipvs_nl_receive` then reads one datagram of the reply and sets `*done` once the
/// request is complete: the ACK for a plain request, `NLMSG_DONE` for a dump, or an
/// `NLMSG_ERROR`. Every request must be received to completion before the next one is sent.
/// For every data message of the datagram (every message that is not an ACK, error or DONE),
/// `reply` gets a 4-byte record header followed by the message's genl payload, that is the
/// attributes after the `genlmsghdr`:
///
///     u32 length (host order) of the attributes that follow; attributes; padding to 4 bytes
///
/// The caller empties `reply` between calls; it may be NULL when no data is expected (data
/// messages are then dropped).
///
/// Both return 0, or `-errno`: for `NLMSG_ERROR` the kernel's own errno (for example
/// `-EEXIST`), never a libnl `NLE_*` code; any other failure of the transport is `-EINVAL`,
/// except allocation failures (`-ENOMEM`), and one addition: `ipvs_nl_receive` returns
/// `-EMSGSIZE` (and sets `*done`) when a datagram was larger than the socket's reads. It has
/// then finished the request unread and enlarged the reads for good: the caller drops what it
/// received and sends the same request again. Only dumps (reads) have replies that large.
int ipvs_nl_send(ipvs_nl *_Nonnull nl, uint8_t cmd, int flags, const void *_Nullable attrs, size_t attrs_len);
int ipvs_nl_receive(ipvs_nl *_Nonnull nl, ipvs_nl_buffer *_Nullable reply, int *_Nonnull done);

/// One request of a batch: command, extra `nlmsg_flags` (not `IPVS_NL_F_DUMP`), attributes.
typedef struct ipvs_nl_request {
    uint8_t cmd;
    int flags;
    const void *_Nullable attrs;
    size_t attrs_len;
} ipvs_nl_request;

/// Sends `count` requests that expect no data (only an acknowledgement) in one `sendmsg`,
/// then collects their acknowledgements, matched by sequence number.
///
/// The kernel handles the messages one after the other, exactly as if they had been sent
/// separately: a refused request does not stop the ones after it. `statuses[i]` receives 0
/// or `-errno` (the kernel's own) for `requests[i]`.
///
/// Returns 0 when every status was collected, or `-errno` for a failure of the transport
/// (then statuses not yet known are `-EINVAL`). Dump requests are refused (`-EINVAL`): the
/// kernel runs one dump per socket at a time. Keep a batch under `IPVS_NL_BATCH_MAX_BYTES`.
int ipvs_nl_transact_batch(ipvs_nl *_Nonnull nl, const ipvs_nl_request *_Nonnull requests, size_t count,
                           int *_Nonnull statuses);

/// The largest batch, in bytes of encoded messages, that `ipvs_nl_transact_batch` sends.
#define IPVS_NL_BATCH_MAX_BYTES (256 * 1024)

/// Sets the size of the socket's reads (clamped to 256 bytes … 64 KiB). For tests of the
/// `-EMSGSIZE` recovery: a read smaller than the kernel's datagrams forces it.
void ipvs_nl_set_read_size(ipvs_nl *_Nonnull nl, size_t size);

/// Releases the memory of `buffer` and resets it to empty.
void ipvs_nl_buffer_free(ipvs_nl_buffer *_Nonnull buffer);

#ifdef __cplusplus
}
#endif

#endif
