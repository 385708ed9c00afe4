/// Where the CLI writes. `main` passes the process's streams; tests pass buffers.
public protocol OutputSink: AnyObject {
    func write(_ text: String)
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
    private var lines: [Substring]
    private var index = 0

    public init(_ text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { lines.removeLast() }
        self.lines = lines
    }

    public func readLine() -> String? {
        guard index < lines.count else { return nil }
        defer { index += 1 }
        return String(lines[index])
    }
}
