import IPVS

/// Netlink framing, facts of the kernel ABI: every message is a 16-byte `nlmsghdr`
/// `{u32 len; u16 type; u16 flags; u32 seq; u32 pid}` in host byte order, then its payload,
/// padded to 4 bytes. A generic-netlink payload starts with the 4-byte `genlmsghdr`
/// `{u8 cmd; u8 version; u16 reserved}`, then the attributes. The one home of these sizes
/// and offsets (SPI `Testing`: the test support's fake kernel reads and writes them too).
@_spi(Testing) public enum NetlinkMessage {
    /// `NLMSG_HDRLEN`
    public static let headerLength = 16
    /// `GENL_HDRLEN`
    public static let genericHeaderLength = 4
    /// Where the `nlmsghdr` fields are, from a message's start.
    public static let lengthOffset = 0
    public static let typeOffset = 4
    public static let flagsOffset = 6
    public static let sequenceOffset = 8
    public static let portOffset = 12
    /// `genlmsghdr.cmd`, right after the `nlmsghdr`.
    public static let commandOffset = headerLength
    /// `NLMSG_ALIGNTO`
    public static let alignment = 4
    /// The IPVS family's generic-netlink version (`IPVS_GENL_VERSION`).
    public static let ipvsVersion: UInt8 = 1

    /// `nlmsg_type` of the netlink core's own messages.
    public static let typeError: UInt16 = 2
    public static let typeDone: UInt16 = 3

    /// `nlmsg_flags`.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let request = Flags(rawValue: 0x1)
        public static let acknowledge = Flags(rawValue: 0x4)
        /// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
        public static let dump = Flags(rawValue: 0x300)
        /// Of a reply (the kernel's, written by the fake kernel): `NLM_F_MULTI`, a message of
        /// a dump; `NLM_F_CAPPED`, an acknowledgement that carries only the request's header.
        public static let multipart = Flags(rawValue: 0x2)
        public static let capped = Flags(rawValue: 0x100)
    }

    public static func aligned(_ length: Int) -> Int { (length + alignment - 1) & ~(alignment - 1) }

    /// Starts a generic-netlink request at the end of `message`: its two headers, the
    /// length and the command left for `endRequest`, which follows the attributes. Returns
    /// where the request starts.
    public static func beginRequest(
        in message: inout AttributeEncoder, family: UInt16, flags: Flags, sequence: UInt32, port: UInt32
    ) -> Int {
        let start = message.count
        appendHeader(to: &message, length: 0, type: family, flags: flags.rawValue, sequence: sequence, port: port)
        message.append(raw: UInt8(0))
        message.append(raw: ipvsVersion)
        message.append(raw: UInt16(0))
        return start
    }

    /// Appends an `nlmsghdr` (for requests, and for the replies of fake kernels in tests).
    public static func appendHeader(
        to message: inout AttributeEncoder, length: UInt32, type: UInt16, flags: UInt16, sequence: UInt32, port: UInt32
    ) {
        message.append(raw: length)
        message.append(raw: type)
        message.append(raw: flags)
        message.append(raw: sequence)
        message.append(raw: port)
    }

    /// Replaces the flags of the request that starts at `start`.
    public static func setFlags(_ flags: Flags, in message: inout AttributeEncoder, at start: Int) {
        message.store(flags.rawValue, at: start + flagsOffset)
    }

    /// Ends the request begun at `start`: its command and length, then padding.
    public static func endRequest(in message: inout AttributeEncoder, from start: Int, command: UInt8) {
        message.store(UInt32(truncatingIfNeeded: message.count - start), at: start + lengthOffset)
        message.store(command, at: start + commandOffset)
        message.pad()
    }

    /// One message of a received datagram; `payload` are indices of the datagram's bytes.
    public struct Header {
        public var type: UInt16
        public var sequence: UInt32
        public var payload: Range<Int>
    }

    /// Calls `body` with each message of a datagram, in order. Returns false when the
    /// datagram does not end with a whole message (a header that claims more bytes than
    /// are left, or fewer than a header): the kernel never sends one.
    public static func forEach(in datagram: UnsafeRawBufferPointer, _ body: (Header) -> Void) -> Bool {
        var offset = 0
        while offset < datagram.count {
            guard datagram.count - offset >= headerLength else { return false }
            let length = Int(datagram.loadUnaligned(fromByteOffset: offset + lengthOffset, as: UInt32.self))
            guard length >= headerLength, length <= datagram.count - offset else { return false }
            body(Header(
                type: datagram.loadUnaligned(fromByteOffset: offset + typeOffset, as: UInt16.self),
                sequence: datagram.loadUnaligned(fromByteOffset: offset + sequenceOffset, as: UInt32.self),
                payload: (offset + headerLength)..<(offset + length)))
            offset += aligned(length)
        }
        return true
    }

    /// What an `NLMSG_ERROR` or `NLMSG_DONE` payload says: nil for success (an
    /// acknowledgement, or a dump's end), else the errno it carries. Its first field is an
    /// `int`, 0 or a negated errno; any other value (a positive number, one below -4095,
    /// `INT_MIN`) is no errno, and neither is a payload too short to hold it: both are a
    /// protocol error, never a trap.
    public static func status(_ payload: UnsafeRawBufferPointer, required: Bool) -> Errno? {
        guard payload.count >= 4 else { return required ? .protocolError : nil }
        let value = payload.loadUnaligned(as: Int32.self)
        if value == 0 { return nil }
        guard value < 0, value >= -4095 else { return .protocolError }
        return Errno(rawValue: -value)
    }
}
