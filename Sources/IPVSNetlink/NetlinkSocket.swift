import CIPVSNetlink

/// The process's generic-netlink socket for the IPVS family. The only Swift code that
/// touches the C shim: it owns the handle and turns the shim's `-errno` results into
/// thrown errnos, and its reply buffer into one attribute buffer per message.
struct NetlinkSocket: ~Copyable {
    /// A failed request: the kernel's errno (or EINVAL/ENOMEM for a transport failure).
    struct Failure: Error {
        var errno: Int32
    }

    private let handle: OpaquePointer

    /// Opens the socket and resolves the "IPVS" family (ENOPROTOOPT when it is not registered).
    init() throws(Failure) {
        var handle: OpaquePointer?
        let rc = ipvs_nl_open(&handle)
        guard rc == 0, let handle else { throw Failure(errno: rc < 0 ? -rc : rc) }
        self.handle = handle
    }

    deinit { ipvs_nl_close(handle) }

    /// Sends `command` with the encoded top-level `attributes` and waits for its completion.
    /// Returns the attributes of every reply message, in order.
    func transact(_ command: IPVSCommand, dump: Bool = false, attributes: [UInt8] = []) throws(Failure) -> [[UInt8]] {
        var reply = ipvs_nl_buffer()
        defer { ipvs_nl_buffer_free(&reply) }
        let flags: Int32 = dump ? IPVS_NL_F_DUMP : 0
        let rc = attributes.withUnsafeBytes { raw in
            ipvs_nl_transact(handle, command.rawValue, flags, raw.baseAddress, raw.count, &reply)
        }
        guard rc == 0 else { throw Failure(errno: -rc) }
        guard let data = reply.data, reply.length > 0 else { return [] }
        return Self.records(UnsafeRawBufferPointer(start: data, count: reply.length))
    }

    /// Splits the shim's reply format: `u32 length, bytes, padding to 4` per message.
    private static func records(_ buffer: UnsafeRawBufferPointer) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var offset = 0
        while buffer.count - offset >= 4 {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let start = offset + 4
            guard length <= buffer.count - start else { break }
            messages.append(Array(buffer[start..<(start + length)]))
            offset = start + ((length + 3) & ~3)
        }
        return messages
    }
}
