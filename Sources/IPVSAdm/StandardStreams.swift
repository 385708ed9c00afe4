import Glibc
import IPVS

/// The process's own output streams, for `IPVSAdm.run` (in `main`, and in the profiling
/// harness `ipvsadm-restore-profile`). stdout is collected and written in
/// large blocks, stderr written at once, as C's stdio does. A failed write is kept (the first
/// one) and reported by `flush`; what follows it is dropped.
public final class FileDescriptorSink: OutputSink {
    private let descriptor: Int32
    private let buffered: Bool
    private var pending: [UInt8] = []
    private var failure: Errno?

    public let isTerminal: Bool

    public init(descriptor: Int32, buffered: Bool) {
        self.descriptor = descriptor
        self.buffered = buffered
        isTerminal = isatty(descriptor) == 1
    }

    public func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if !buffered || pending.count >= 1 << 16 { _ = flush() }
    }

    public func write(utf8 bytes: [UInt8]) {
        pending.append(contentsOf: bytes)
        if !buffered || pending.count >= 1 << 16 { _ = flush() }
    }

    public func flush() -> Errno? {
        defer { pending.removeAll(keepingCapacity: true) }
        guard failure == nil else { return failure }
        let descriptor = self.descriptor
        var offset = 0
        pending.withUnsafeBytes { bytes in
            while offset < bytes.count {
                do throws(Errno) {
                    offset += try Errno.retryingInterrupts {
                        Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    }
                } catch {
                    failure = error
                    return
                }
            }
        }
        return failure
    }
}

/// Standard input, line by line.
public final class StandardInput: InputSource {
    public init() {}

    public func readLine() -> String? { Swift.readLine(strippingNewline: true) }
}
