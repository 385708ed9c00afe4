import CIPVSNetlink
import Glibc

/// The process's generic-netlink socket for the IPVS family. The only Swift code that
/// touches the C shim: it owns the handle and turns the shim's `-errno` results into
/// thrown errnos, and its reply buffer into one attribute buffer per message.
struct NetlinkSocket: ~Copyable {
    /// A failed request: the kernel's errno (or EINVAL/ENOMEM for a transport failure).
    struct Failure: Error {
        var errno: Int32
    }

    private let handle: OpaquePointer
    /// Where the shim collects each reply; kept for the socket's life, so that a listing's
    /// thousands of requests do not allocate a reply buffer each.
    private let reply: UnsafeMutablePointer<ipvs_nl_buffer>

    /// Opens the socket and resolves the "IPVS" family (ENOPROTOOPT when it is not registered).
    init() throws(Failure) {
        var handle: OpaquePointer?
        let rc = ipvs_nl_open(&handle)
        guard rc == 0, let handle else { throw Failure(errno: rc < 0 ? -rc : rc) }
        self.handle = handle
        reply = .allocate(capacity: 1)
        reply.initialize(to: ipvs_nl_buffer())
    }

    deinit {
        ipvs_nl_buffer_free(reply)
        reply.deallocate()
        ipvs_nl_close(handle)
    }

    /// The size of the socket's reads (tests of the recovery from a cut datagram).
    func setReadSize(_ bytes: Int) { ipvs_nl_set_read_size(handle, bytes) }

    /// Sends `command` with the encoded top-level `attributes` and waits for its completion.
    /// Returns the attributes of every reply message, in order (slices of one buffer).
    func transact(
        _ command: IPVSCommand, dump: Bool = false, attributes: [UInt8] = []
    ) throws(Failure) -> [ArraySlice<UInt8>] {
        var messages: [ArraySlice<UInt8>] = []
        try transact(command, dump: dump, attributes: attributes, restart: { messages.removeAll() }) {
            messages += $0
        }
        return messages
    }

    /// Like `transact`, but hands over the reply one datagram at a time (the attributes of
    /// its messages, in order), so that a reply of thousands of entries is decoded as it
    /// arrives and never held whole. A failure still lets the request finish. If the shim
    /// has to send the request again (a datagram larger than its reads, see
    /// `ipvs_nl_receive`), `restart` is called first: drop what `body` was given so far.
    func transact(
        _ command: IPVSCommand, dump: Bool = false, attributes: [UInt8], restart: () -> Void,
        eachDatagram body: ([ArraySlice<UInt8>]) -> Void
    ) throws(Failure) {
        let flags: Int32 = dump ? IPVS_NL_F_DUMP : 0
        for attempt in 0..<2 {
            let sent = attributes.withUnsafeBytes { raw in
                ipvs_nl_send(handle, command.rawValue, flags, raw.baseAddress, raw.count)
            }
            guard sent == 0 else { throw Failure(errno: -sent) }
            var failure: Int32 = 0
            var done: Int32 = 0
            while done == 0 {
                reply.pointee.length = 0
                let rc = ipvs_nl_receive(handle, reply, &done)
                if rc != 0 {
                    if failure == 0 { failure = -rc }
                    continue
                }
                if let data = reply.pointee.data, reply.pointee.length > 0 {
                    body(Self.records(UnsafeRawBufferPointer(start: data, count: reply.pointee.length)))
                }
            }
            if failure == EMSGSIZE && attempt == 0 {
                restart()
                continue
            }
            if failure != 0 { throw Failure(errno: failure == EMSGSIZE ? EINVAL : failure) }
            return
        }
    }

    /// The most bytes of encoded requests one `transactBatch` call may carry.
    static let batchLimit = Int(IPVS_NL_BATCH_MAX_BYTES)

    /// Sends requests that expect only an acknowledgement in one go, and returns each one's
    /// errno (0 for success), in order. Their encoded size must stay under `batchLimit`.
    func transactBatch(_ requests: [(command: IPVSCommand, attributes: [UInt8])]) throws(Failure) -> [Int32] {
        var statuses = [Int32](repeating: 0, count: requests.count)
        // The attribute arrays must stay alive and unmoved while C reads them.
        let rc: Int32 = withPinnedBuffers(requests.map(\.attributes)) { pointers in
            var cRequests = [ipvs_nl_request]()
            cRequests.reserveCapacity(requests.count)
            for (index, request) in requests.enumerated() {
                cRequests.append(ipvs_nl_request(
                    cmd: request.command.rawValue, flags: 0, attrs: pointers[index].baseAddress,
                    attrs_len: pointers[index].count))
            }
            return statuses.withUnsafeMutableBufferPointer { out in
                ipvs_nl_transact_batch(handle, cRequests, cRequests.count, out.baseAddress!)
            }
        }
        guard rc == 0 else { throw Failure(errno: -rc) }
        return statuses.map { -$0 }
    }

    /// Calls `body` with stable pointers to every buffer (one contiguous copy).
    private func withPinnedBuffers<R>(_ buffers: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        let joined = buffers.flatMap { $0 }
        return joined.withUnsafeBytes { all in
            var pointers: [UnsafeRawBufferPointer] = []
            pointers.reserveCapacity(buffers.count)
            var offset = 0
            for buffer in buffers {
                pointers.append(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + buffer.count)]))
                offset += buffer.count
            }
            return body(pointers)
        }
    }

    /// Splits the shim's reply format: `u32 length, bytes, padding to 4` per message. The
    /// reply is copied once; each message is a slice of that copy.
    private static func records(_ buffer: UnsafeRawBufferPointer) -> [ArraySlice<UInt8>] {
        let all = [UInt8](buffer)
        var messages: [ArraySlice<UInt8>] = []
        var offset = 0
        while all.count - offset >= 4 {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let start = offset + 4
            guard length <= all.count - start else { break }
            messages.append(all[start..<(start + length)])
            offset = start + ((length + 3) & ~3)
        }
        return messages
    }
}
