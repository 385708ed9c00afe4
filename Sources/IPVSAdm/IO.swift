/// Where the CLI writes. `main` passes the process's streams; tests pass buffers.
public protocol OutputSink: AnyObject {
    func write(_ text: String)
    /// Text already encoded as UTF-8 (large listings are rendered as bytes).
    func write(utf8 bytes: [UInt8])
}

extension OutputSink {
    public func write(utf8 bytes: [UInt8]) { write(String(decoding: bytes, as: UTF8.self)) }
}

/// Where `-R` reads its lines from.
public protocol InputSource: AnyObject {
    /// The next line without its terminating newline, nil at the end.
    func readLine() -> String?
}

/// An output sink that keeps everything in memory.
public final class BufferSink: OutputSink {
    public private(set) var text = ""
    public init() {}
    public func write(_ text: String) { self.text += text }
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
