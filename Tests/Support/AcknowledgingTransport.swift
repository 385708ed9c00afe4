import IPVS
@_spi(Benchmark) import IPVSNetlink

/// A kernel stand-in for profiling `-R` where there is no IPVS (`ipvsadm-restore-profile`):
/// it answers GET_INFO with a fixed version and takes every other request, acknowledging
/// those that ask for it (`NLM_F_ACK`), one message per datagram as the kernel sends them,
/// so that everything ours does per line (parse, encode, frame, match the acknowledgements)
/// runs and nothing else. It keeps a
/// count and a checksum (FNV-1a) of the bytes sent past the sequence numbers, to show that
/// a change to the encoder left the requests as they were.
///
/// It reads and writes the kernel's bytes with its own copy of the numbers of
/// `linux/netlink.h` and `linux/ip_vs.h` (`Kernel` below), not the code under test's.
/// Hot path of the profile: no allocation per request (its work is subtracted by name).
@_spi(Benchmark)
public final class AcknowledgingTransport: NetlinkTransport {
    public let family: UInt16 = 0x20
    public let port: UInt32 = 4242
    public private(set) var requests = 0
    public private(set) var checksum: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The sequence numbers of the requests not yet answered, oldest first (negated for
    /// GET_INFO, answered with its data first), and the index of the oldest.
    private var unanswered: [Int64] = []
    private var head = 0
    private var infoSent = false

    public init() {}

    /// A backend over a new stand-in, and a way to read its count of requests and the checksum
    /// of their bytes (for `ipvsadm-restore-profile`).
    public static func backend() -> (backend: NetlinkBackend, sent: () -> (requests: Int, checksum: UInt64)) {
        let transport = AcknowledgingTransport()
        // GET_INFO is answered, so this cannot fail.
        let backend = try! NetlinkBackend(transport: transport, family: transport.family, port: transport.port)
        return (backend, { (transport.requests, transport.checksum) })
    }

    public func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var offset = 0
        while bytes.count - offset >= Kernel.headerLength {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= Kernel.headerLength + Kernel.genericHeaderLength,
                  length <= bytes.count - offset
            else { throw .invalidArgument }
            let sequence = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let flags = bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)
            let command = bytes[offset + Kernel.headerLength]
            requests += 1
            // FNV-1a over the message, a byte at a time, without the sequence number.
            for index in offset..<(offset + length) where !(offset + 8..<offset + 12).contains(index) {
                checksum = (checksum ^ UInt64(bytes[index])) &* 0x100_0000_01b3
            }
            if flags & Kernel.acknowledge != 0 {
                unanswered.append(command == Kernel.getInfo ? -Int64(sequence) : Int64(sequence))
            }
            offset += (length + 3) & ~3
        }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard head < unanswered.count else { throw .resourceTemporarilyUnavailable }
        let entry = unanswered[head]
        var length: Int
        if entry < 0 && !infoSent {
            // SET_INFO: version 1.2.1, a connection table of 4096 entries.
            infoSent = true
            length = header(into: buffer, type: family, sequence: UInt32(-entry), payload: 4 + 16)
            buffer.storeBytes(of: UInt32(Kernel.setInfo) | UInt32(Kernel.ipvsVersion) << 8,
                              toByteOffset: 16, as: UInt32.self)
            for (index, value) in [(Kernel.infoVersion, UInt32(0x01_02_01)), (Kernel.infoConnectionTableSize, 4096)].enumerated() {
                buffer.storeBytes(of: 8 | UInt32(value.0) << 16, toByteOffset: 20 + 8 * index, as: UInt32.self)
                buffer.storeBytes(of: value.1, toByteOffset: 24 + 8 * index, as: UInt32.self)
            }
            return length
        }
        // NLMSG_ERROR with error 0 and, as with NETLINK_CAP_ACK, only the request's header.
        infoSent = false
        head += 1
        if head == unanswered.count {
            unanswered.removeAll(keepingCapacity: true)
            head = 0
        }
        length = header(into: buffer, type: Kernel.typeError, sequence: UInt32(abs(entry)), payload: 4 + 16)
        for offset in stride(from: 16, to: length, by: 4) { buffer.storeBytes(of: UInt32(0), toByteOffset: offset, as: UInt32.self) }
        return length
    }

    /// Writes a message header; the message's length.
    private func header(into buffer: UnsafeMutableRawBufferPointer, type: UInt16, sequence: UInt32, payload: Int) -> Int {
        let length = Kernel.headerLength + payload
        precondition(buffer.count >= length)
        buffer.storeBytes(of: UInt32(length), toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: type, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
        buffer.storeBytes(of: port, toByteOffset: 12, as: UInt32.self)
        return length
    }
}

/// The kernel's numbers the stand-in reads and writes.
private enum Kernel {
    /// `struct nlmsghdr`, `struct genlmsghdr`.
    static let headerLength = 16
    static let genericHeaderLength = 4
    static let acknowledge: UInt16 = 0x4  // NLM_F_ACK
    static let typeError: UInt16 = 0x2  // NLMSG_ERROR
    static let ipvsVersion: UInt8 = 0x1  // IPVS_GENL_VERSION
    static let setInfo: UInt8 = 14  // IPVS_CMD_SET_INFO
    static let getInfo: UInt8 = 15  // IPVS_CMD_GET_INFO
    static let infoVersion: UInt16 = 1  // IPVS_INFO_ATTR_VERSION
    static let infoConnectionTableSize: UInt16 = 2  // IPVS_INFO_ATTR_CONN_TAB_SIZE
}
