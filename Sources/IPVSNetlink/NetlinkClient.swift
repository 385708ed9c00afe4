import Glibc
import IPVS

/// What the client needs of a netlink socket. `NetlinkSocket` is the kernel's; tests replay
/// recorded kernel bytes through another.
@_spi(Benchmark) public protocol NetlinkTransport: AnyObject {
    /// Sends whole messages in one datagram.
    func send(_ bytes: UnsafeRawBufferPointer) throws(Errno)
    /// Reads one datagram into `buffer` and returns its whole length: larger than
    /// `buffer.count` when it did not fit (the rest of it is lost).
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
}

/// The conversation with the kernel over one netlink socket, the whole protocol in one
/// place: requests framed and numbered, replies read datagram by datagram into one buffer and
/// matched to their request by sequence number, a datagram cut by a too-short read recovered
/// by asking again, and changes sent many per system call. (SPI `Testing`: the fuzz checks
/// talk through one to the test support's fake kernel.)
@_spi(Testing) public final class NetlinkClient {
    private let transport: any NetlinkTransport
    /// The IPVS family's id, the `nlmsg_type` of its messages.
    private let family: UInt16
    /// The socket's port id, the `nlmsg_pid` of its requests.
    private let port: UInt32
    private var sequence: UInt32
    /// The one receive buffer; reply messages are handed out as slices of it.
    private var buffer: [UInt8]
    /// Bytes asked for per read. The kernel allocates each dump datagram after the largest
    /// read the socket has made, at least `NLMSG_GOODSIZE` (a page, at most 8 KiB, less the
    /// socket buffer's overhead), and this kernel zeroes every allocation: reading exactly
    /// that keeps each datagram to one page (hot path, listings: no large zeroed datagram
    /// per dump; Docs/Benchmarks.md). The overhead is a guess (320 bytes
    /// on Debian 12's x86-64 kernel) and a kernel may fill more than it was asked (6.1 does:
    /// kmalloc rounds up), so a cut datagram is expected now and then: the reads grow to
    /// `largestRead` for good and the request is sent again (see `request`).
    private(set) var readSize: Int

    /// Larger than any datagram the kernel builds for a reply (at most ~32 KiB).
    static let largestRead = 64 * 1024
    public static let initialReadSize: Int = {
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
        return min(page, 8192) - 320
    }()
    /// The most bytes of requests sent at once. The socket's send buffer is sized for it.
    static let batchBytes = 256 * 1024
    /// The socket's receive buffer (`NetlinkSocket` asks the kernel for it).
    static let receiveBufferBytes = 1024 * 1024
    /// The most requests in flight at once: the kernel handles a whole send before it is
    /// read and queues one message (~1 KiB of receive buffer) per refused request; more than
    /// `receiveBufferBytes` holds would be dropped.
    static let batchWindow = 128

    public init(transport: any NetlinkTransport, family: UInt16, port: UInt32, firstSequence: UInt32 = 1,
         readSize: Int = NetlinkClient.initialReadSize) {
        self.transport = transport
        self.family = family
        self.port = port
        self.sequence = firstSequence
        self.readSize = min(readSize, NetlinkClient.largestRead)
        buffer = [UInt8](repeating: 0, count: NetlinkClient.largestRead)
    }

    /// Sets the size of the reads (tests of the recovery from a cut datagram).
    func setReadSize(_ bytes: Int) { readSize = max(NetlinkMessage.headerLength, min(bytes, NetlinkClient.largestRead)) }

    // MARK: One request

    /// Sends one request and reads its reply to its end (the acknowledgement, `NLMSG_DONE`
    /// or the kernel's error), calling `body` with the attributes of each data message in
    /// order: a slice of the receive buffer, valid during the call only, so that a reply of
    /// thousands of entries is decoded as it arrives and never held whole.
    ///
    /// When a datagram was cut (see `readSize`) the request is sent once more after
    /// `restart`, which must forget what `body` was given.
    /// - Throws: the kernel's errno, or the transport's.
    /// `attributes` writes the request's attributes (the codec's `...Request(_:into:)`).
    func request(
        _ command: IPVSCommand, dump: Bool = false, attributes: (inout AttributeEncoder) -> Void = { _ in },
        restart: () -> Void = {}, each body: (ArraySlice<UInt8>) -> Void
    ) throws(Errno) {
        let flags: NetlinkMessage.Flags = dump ? [.request, .acknowledge, .dump] : [.request, .acknowledge]
        var message = AttributeEncoder(capacity: 256)
        while true {
            let sequence = nextSequence()
            message.truncate(to: 0)
            let start = NetlinkMessage.beginRequest(
                in: &message, family: family, flags: flags, sequence: sequence, port: port)
            attributes(&message)
            NetlinkMessage.endRequest(in: &message, from: start, command: command.rawValue)
            try send(message)
            switch try readReply(to: sequence, body) {
            case .complete(nil): return
            case .complete(let failure?): throw failure
            case .cut: restart()
            }
        }
    }

    private enum Completion {
        /// The reply ended, with the request's failure if any.
        case complete(Errno?)
        /// A datagram was cut; the reply has been read to its end and the reads enlarged.
        case cut
    }

    /// Reads datagrams until the reply to `sequence` ends. Messages of other sequence
    /// numbers (a reply abandoned earlier) are skipped.
    private func readReply(to sequence: UInt32, _ body: (ArraySlice<UInt8>) -> Void) throws(Errno) -> Completion {
        var failure: Errno?
        var ended = false
        while !ended {
            let length = try receiveDatagram()
            if length > readSize {
                guard readSize < NetlinkClient.largestRead else { throw .protocolError }
                readSize = NetlinkClient.largestRead
                try skipReply(to: sequence)
                return .cut
            }
            let whole = buffer.withUnsafeBytes { raw in
                NetlinkMessage.forEach(in: UnsafeRawBufferPointer(rebasing: raw[..<length])) { message in
                    guard !ended, message.sequence == sequence else { return }
                    let payload = UnsafeRawBufferPointer(rebasing: raw[message.payload])
                    switch message.type {
                    case NetlinkMessage.typeError:
                        failure = failure ?? NetlinkMessage.status(payload, required: true)
                        ended = true
                    case NetlinkMessage.typeDone:
                        failure = failure ?? NetlinkMessage.status(payload, required: false)
                        ended = true
                    case family:
                        guard message.payload.count >= NetlinkMessage.genericHeaderLength else {
                            failure = failure ?? .protocolError
                            return
                        }
                        body(buffer[(message.payload.lowerBound + NetlinkMessage.genericHeaderLength)..<message.payload.upperBound])
                    default:
                        break
                    }
                }
            }
            // The end of the reply may have been in what could not be read: stop here, and
            // let later requests skip whatever of it still comes.
            if !whole { return .complete(.protocolError) }
        }
        return .complete(failure)
    }

    /// After a cut datagram: reads the rest of the reply to `sequence` without looking at
    /// it, until its end (an error or `NLMSG_DONE`, small messages that are never cut).
    private func skipReply(to sequence: UInt32) throws(Errno) {
        var ended = false
        while !ended {
            let length = try receiveDatagram()
            guard length <= readSize else { throw .protocolError }
            let whole = buffer.withUnsafeBytes { raw in
                NetlinkMessage.forEach(in: UnsafeRawBufferPointer(rebasing: raw[..<length])) { message in
                    if message.sequence == sequence
                        && (message.type == NetlinkMessage.typeError || message.type == NetlinkMessage.typeDone)
                    {
                        ended = true
                    }
                }
            }
            if !whole { throw .protocolError }
        }
    }

    // MARK: Many requests

    /// Sends `count` requests that expect only an acknowledgement, as many per send as fit
    /// (`batchWindow`, `batchBytes`), and returns each one's outcome in order: nil when the
    /// kernel did it, else its errno. `encode` writes the attributes of request `index` straight
    /// into the send buffer and returns its command (hot path, `-R`: no array of bytes per
    /// request). The kernel handles them one
    /// after the other exactly as if they had been sent apart: a refused request does not
    /// stop the ones after it. When the transport fails, that request and every one after it
    /// gets the transport's errno.
    ///
    /// Only the last request of a send asks for an acknowledgement (`NLM_F_ACK`): the kernel
    /// answers a refused request with its error whether or not it was asked to, and answers
    /// the requests of a send in order, so when the last one's answer arrives, every request
    /// before it without an error succeeded (hot path, `-R`: no acknowledgement, which the
    /// kernel allocates and queues and we receive, per request).
    func perform(count: Int, _ encode: (_ index: Int, _ attributes: inout AttributeEncoder) -> IPVSCommand) -> [Errno?] {
        var results: [Errno?] = []
        results.reserveCapacity(count)
        var message = AttributeEncoder(capacity: 32 * 1024)
        var start = 0
        while start < count {
            message.truncate(to: 0)
            let first = sequence
            var end = start
            var last = 0
            while end < count && end - start < NetlinkClient.batchWindow {
                let mark = message.count
                let request = NetlinkMessage.beginRequest(
                    in: &message, family: family, flags: [.request], sequence: nextSequence(), port: port)
                let command = encode(end, &message)
                NetlinkMessage.endRequest(in: &message, from: request, command: command.rawValue)
                if end > start && message.count > NetlinkClient.batchBytes {
                    // It goes first in the next send.
                    message.truncate(to: mark)
                    sequence &-= 1
                    break
                }
                last = request
                end += 1
            }
            NetlinkMessage.setFlags([.request, .acknowledge], in: &message, at: last)
            do throws(Errno) {
                results += try performWindow(message, count: end - start, first: first)
            } catch {
                results += repeatElement(Optional(error), count: count - start)
                break
            }
            start = end
        }
        return results
    }

    /// One send of requests, then the kernel's answers, matched by sequence number: errors
    /// for the refused ones, then the last one's answer (see `perform`).
    private func performWindow(_ message: borrowing AttributeEncoder, count: Int, first: UInt32) throws(Errno) -> [Errno?] {
        try send(message)

        var statuses = [Errno?](repeating: nil, count: count)
        var answered = false
        while !answered {
            let length = try receiveDatagram()
            // Acknowledgements and errors carry no copy of the request (NETLINK_CAP_ACK): never cut.
            guard length <= readSize else { throw .protocolError }
            let whole = buffer.withUnsafeBytes { raw in
                NetlinkMessage.forEach(in: UnsafeRawBufferPointer(rebasing: raw[..<length])) { message in
                    let index = Int(message.sequence &- first)
                    guard message.type == NetlinkMessage.typeError, index < count, !answered else { return }
                    statuses[index] = NetlinkMessage.status(UnsafeRawBufferPointer(rebasing: raw[message.payload]), required: true)
                    if index == count - 1 { answered = true }
                }
            }
            if !whole { throw .protocolError }
        }
        return statuses
    }

    // MARK: Plumbing

    private func nextSequence() -> UInt32 {
        defer { sequence &+= 1 }
        return sequence
    }

    private func send(_ message: borrowing AttributeEncoder) throws(Errno) {
        let transport = self.transport
        try message.withUnsafeBytes { (raw) throws(Errno) in try transport.send(raw) }
    }

    /// One datagram into the buffer: its whole length (more than `readSize` when cut).
    private func receiveDatagram() throws(Errno) -> Int {
        let size = readSize
        let transport = self.transport
        let result = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in try transport.receive(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<size])) }
        }
        return try result.get()
    }
}
