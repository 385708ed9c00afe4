import IPVS

/// Where the CLI writes. `main` passes the process's streams; tests pass buffers.
public protocol OutputSink: AnyObject {
    /// Writes UTF-8 text from memory of the caller's: the one thing a sink implements.
    /// Listings and `--json` render into byte buffers (hot path: no `String` per entry).
    func write(utf8 bytes: UnsafeBufferPointer<UInt8>)
    /// Writes out whatever is buffered. Returns the first write that failed since the sink
    /// was made, if one did (what came after it was dropped).
    func flush() -> Errno?
    /// Whether a person watches it (progress is shown only then).
    var isTerminal: Bool { get }
}

extension OutputSink {
    public var isTerminal: Bool { false }

    /// A message or another short text: its UTF-8, in place.
    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(utf8: $0) }
    }

    /// A rendered byte buffer.
    public func write(utf8 bytes: [UInt8]) { bytes.withUnsafeBufferPointer { write(utf8: $0) } }
}

/// Time, for what waits (`--drain`): the system's monotonic clock in `main`, a fake in tests.
public protocol Clock: AnyObject {
    /// Seconds since some fixed point.
    var now: Double { get }
    func sleep(seconds: Double)
}

/// Where `-R` reads its lines from.
public protocol InputSource: AnyObject {
    /// The next line without its terminating newline, as bytes, in place of `line`'s
    /// contents; false at the end. Hot path: no `String` per line (one line of tens of
    /// thousands).
    func readLine(into line: inout [UInt8]) -> Bool
}

/// An output sink that keeps everything in memory, or fails every write like a full disk.
public final class BufferSink: OutputSink {
    public private(set) var text = ""
    private let failure: Errno?

    /// - Parameter failure: the errno every write fails with (nil: writes succeed).
    public init(failingWith failure: Errno? = nil) { self.failure = failure }

    public func write(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        if failure == nil { text += String(decoding: bytes, as: UTF8.self) }
    }

    public func flush() -> Errno? { failure }
}

/// An input source over a fixed text.
public final class TextSource: InputSource {
    private let lines: [ArraySlice<UInt8>]
    private var index = 0

    public init(_ text: String) {
        // Split on the byte: to Swift "\r\n" is one Character, not a "\n".
        var lines = Array(text.utf8).split(separator: 0x0a, omittingEmptySubsequences: false)
        if text.utf8.last == 0x0a { lines.removeLast() }
        self.lines = lines
    }

    public func readLine(into line: inout [UInt8]) -> Bool {
        guard index < lines.count else { return false }
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: lines[index])
        index += 1
        return true
    }
}
