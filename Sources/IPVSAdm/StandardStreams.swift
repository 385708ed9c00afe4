import Glibc

/// The process's own streams, for `main` to hand to `IPVSAdm.run`. Nothing in the library
/// creates these; tests use `BufferSink` and `TextSource` instead.
public final class FileDescriptorSink: OutputSink {
    private let descriptor: Int32
    private let buffered: Bool
    private var pending: [UInt8] = []

    /// - Parameter buffered: collect output and write it in large blocks (stdout), or write
    ///   every piece at once (stderr), as C's stdio does.
    public init(descriptor: Int32, buffered: Bool) {
        self.descriptor = descriptor
        self.buffered = buffered
    }

    public func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if !buffered || pending.count >= 1 << 16 { flush() }
    }

    public func write(utf8 bytes: [UInt8]) {
        pending.append(contentsOf: bytes)
        if !buffered || pending.count >= 1 << 16 { flush() }
    }

    /// Writes out whatever is pending, retrying short writes and EINTR.
    public func flush() {
        var offset = 0
        pending.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    break
                }
                offset += written
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Standard input, line by line.
public final class StandardInput: InputSource {
    public init() {}
    public func readLine() -> String? { Swift.readLine(strippingNewline: true) }
}
