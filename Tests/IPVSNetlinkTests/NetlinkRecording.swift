import Glibc
import IPVS
import Testing

@_spi(Benchmark) import IPVSTestSupport

@_spi(Benchmark) @_spi(Testing) @testable import IPVSNetlink

/// A conversation with the kernel as bytes: what was sent and what was read, in order, with
/// the socket's family id, port id and first sequence number, so that a client set up the
/// same way sends the very same bytes when it is replayed.
///
/// File format (`Fixtures/*.netlink`): `#` comments; `family F port P sequence S`; then blocks,
/// each a line `> send` (bytes sent in one call) or `< receive N` (one datagram, N its whole
/// length: more than the bytes that follow when the read was too short for it), followed by
/// hex bytes.
struct NetlinkRecording {
    typealias Event = ScriptedTransport.Event

    var family: UInt16 = 0
    var port: UInt32 = 0
    var firstSequence: UInt32 = 1
    var events: [Event] = []

    init(family: UInt16, port: UInt32, firstSequence: UInt32) {
        self.family = family
        self.port = port
        self.firstSequence = firstSequence
    }

    /// Reads `Fixtures/<name>`.
    init(fixture name: String) throws {
        let text = String(decoding: fixtureText(name), as: UTF8.self)
        var current: Event?
        func finish() {
            if let event = current { events.append(event) }
            current = nil
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.prefix { $0 != "#" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            switch first {
            case "family":
                guard words.count == 6, let family = UInt16(words[1]), let port = UInt32(words[3]),
                      let sequence = UInt32(words[5])
                else { throw RecordingError.malformed(String(rawLine)) }
                (self.family, self.port, self.firstSequence) = (family, port, sequence)
            case ">":
                finish()
                current = .sent([])
            case "<":
                finish()
                guard words.count == 3, let length = Int(words[2]) else { throw RecordingError.malformed(String(rawLine)) }
                current = .received([], length: length)
            default:
                var bytes: [UInt8] = []
                for word in words {
                    guard let byte = UInt8(word, radix: 16) else { throw RecordingError.malformed(String(rawLine)) }
                    bytes.append(byte)
                }
                switch current {
                case .sent(let old): current = .sent(old + bytes)
                case .received(let old, let length): current = .received(old + bytes, length: length)
                case nil: throw RecordingError.malformed(String(rawLine))
                }
            }
        }
        finish()
    }

    /// The file text, after `comment` lines.
    func text(comment: String) -> String {
        var out = comment.split(separator: "\n").map { "# " + $0 + "\n" }.joined()
        out += "family \(family) port \(port) sequence \(firstSequence)\n"
        for event in events {
            let bytes: [UInt8]
            switch event {
            case .sent(let sent):
                out += "> send\n"
                bytes = sent
            case .received(let received, let length):
                out += "< receive \(length)\n"
                bytes = received
            }
            var index = 0
            while index < bytes.count {
                out += hex(bytes[index..<min(index + 16, bytes.count)]) + "\n"
                index += 16
            }
        }
        return out
    }
}

enum RecordingError: Error {
    case malformed(String)
}

/// Writes down a real conversation: every send and every datagram read, as the socket
/// underneath saw them.
final class RecordingTransport: NetlinkTransport {
    private let socket: NetlinkSocket
    private(set) var recording: NetlinkRecording

    init(_ socket: NetlinkSocket, firstSequence: UInt32) {
        self.socket = socket
        recording = NetlinkRecording(family: socket.family, port: socket.port, firstSequence: firstSequence)
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        recording.events.append(.sent(Array(bytes)))
        try socket.send(bytes)
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let length = try socket.receive(into: buffer)
        recording.events.append(.received(Array(buffer[..<min(length, buffer.count)]), length: length))
        return length
    }
}
