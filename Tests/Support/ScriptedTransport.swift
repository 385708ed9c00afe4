import IPVS
@_spi(Benchmark) import IPVSNetlink

/// A script played where the kernel's socket goes: not a model of the kernel (that is
/// `FakeKernel`), it knows nothing of what a request means. Reads get the scripted datagrams in
/// order, cut to the reader's buffer as the kernel cuts them. Either a recording replayed
/// (every send must be the next one recorded: the golden conversations of
/// `Tests/IPVSNetlinkTests/Fixtures`) or datagrams handed out whatever is sent (each send
/// checked by the test's rule: the `netlink` fuzz target's raw bytes).
@_spi(Benchmark)
public final class ScriptedTransport: NetlinkTransport {
    public enum Event: Equatable, Sendable {
        /// Bytes sent in one call.
        case sent([UInt8])
        /// One datagram read, and its whole length: more than the bytes when the read was too
        /// short for it.
        case received([UInt8], length: Int)
    }

    private var events: ArraySlice<Event>
    private let checkSend: ((UnsafeRawBufferPointer) -> String?)?
    /// What went differently from the script.
    public private(set) var problems: [String] = []

    /// Replays a recording: a send must be the next event, with the bytes recorded; a read
    /// gets the next recorded datagram. Anything else is a problem.
    public init(replaying events: [Event]) {
        self.events = events[...]
        checkSend = nil
    }

    /// Hands out `datagrams` in order, whatever is sent; `check` says what is wrong with a
    /// send, if anything. When the datagrams run out, reads fail as a receive timeout does.
    public init(datagrams: [[UInt8]], checkingSends check: @escaping (UnsafeRawBufferPointer) -> String?) {
        events = datagrams.map { .received($0, length: $0.count) }[...]
        checkSend = check
    }

    /// Every event of the script happened.
    public var finished: Bool { events.isEmpty }

    public func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        if let checkSend {
            if let problem = checkSend(bytes) { problems.append(problem) }
            return
        }
        guard case .sent(let expected)? = events.first else {
            problems.append("unexpected send of \(bytes.count) bytes")
            throw .protocolError
        }
        events.removeFirst()
        if !bytes.elementsEqual(expected) { problems.append("sent \(hex(bytes))\nrecorded \(hex(expected))") }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard case .received(let datagram, let length)? = events.first else {
            if checkSend == nil { problems.append("unexpected read") }
            throw .resourceTemporarilyUnavailable  // what a receive timeout reports
        }
        events.removeFirst()
        _ = deliver(datagram, into: buffer)
        return length
    }
}

/// A datagram as the kernel hands it to a read: cut to the reader's buffer, its whole length
/// returned (`MSG_TRUNC`). The receive of every stand-in for the socket.
public func deliver(_ datagram: [UInt8], into buffer: UnsafeMutableRawBufferPointer) -> Int {
    let count = min(buffer.count, datagram.count)
    datagram.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    return datagram.count
}

/// Bytes as two hex digits each, separated by spaces, for messages and fixture files.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}
