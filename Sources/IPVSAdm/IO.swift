import IPVS

/// Where the CLI writes. `main` passes the process's streams; tests pass buffers.
public protocol OutputSink: AnyObject {
    func write(_ text: String)
    /// Text already encoded as UTF-8 (large listings are rendered as bytes).
    func write(utf8 bytes: [UInt8])
    /// The same from memory of the caller's (`--json` writes from a buffer of its own).
    func write(utf8 bytes: UnsafeBufferPointer<UInt8>)
    /// Writes out whatever is buffered. Returns the first write that failed since the sink
    /// was made, if one did (what came after it was dropped).
    func flush() -> Errno?
    /// Whether a person watches it (progress is shown only then).
    var isTerminal: Bool { get }
}

extension OutputSink {
    public var isTerminal: Bool { false }

    public func write(utf8 bytes: UnsafeBufferPointer<UInt8>) { write(utf8: Array(bytes)) }
}

/// Time, for what waits (`--drain`): the system's monotonic clock in `main`, a fake in tests.
public protocol Clock: AnyObject {
    /// Seconds since some fixed point.
    var now: Double { get }
    func sleep(seconds: Double)
}

/// Where `-R` reads its lines from.
public protocol InputSource: AnyObject {
    /// The next line without its terminating newline, nil at the end.
    func readLine() -> String?
    /// The same line as bytes, in place of `line`'s contents; false at the end. `-R` reads
    /// this way: no `String` per line (one line of tens of thousands).
    func readLine(into line: inout [UInt8]) -> Bool
}

extension InputSource {
    public func readLine(into line: inout [UInt8]) -> Bool {
        guard let text = readLine() else { return false }
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: text.utf8)
        return true
    }
}

/// An output sink that keeps everything in memory, or fails every write like a full disk.
public final class BufferSink: OutputSink {
    public private(set) var text = ""
    private let failure: Errno?

    /// - Parameter failure: the errno every write fails with (nil: writes succeed).
    public init(failingWith failure: Errno? = nil) { self.failure = failure }

    public func write(_ text: String) {
        if failure == nil { self.text += text }
    }

    public func write(utf8 bytes: [UInt8]) { write(String(decoding: bytes, as: UTF8.self)) }

    public func flush() -> Errno? { failure }
}

/// An input source over a fixed text.
public final class TextSource: InputSource {
    private var lines: [String]
    private var index = 0

    public init(_ text: String) {
        // Split on the byte: to Swift "\r\n" is one Character, not a "\n".
        var lines = text.utf8.split(separator: 0x0a, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        if text.utf8.last == 0x0a { lines.removeLast() }
        self.lines = lines
    }

    public func readLine() -> String? {
        guard index < lines.count else { return nil }
        defer { index += 1 }
        return lines[index]
    }
}
