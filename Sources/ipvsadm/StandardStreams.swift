import Glibc
import IPVS
import IPVSAdm

/// The process's own output streams, for `IPVSAdm.run`. stdout is collected and written in
/// large blocks, stderr written at once, as C's stdio does. A failed write is kept (the first
/// one) and reported by `flush`; what follows it is dropped.
final class FileDescriptorSink: OutputSink {
    private let descriptor: Int32
    private let buffered: Bool
    private var pending: [UInt8] = []
    private var failure: Errno?

    let isTerminal: Bool

    init(descriptor: Int32, buffered: Bool) {
        self.descriptor = descriptor
        self.buffered = buffered
        isTerminal = isatty(descriptor) == 1
    }

    func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if !buffered || pending.count >= 1 << 16 { _ = flush() }
    }

    func write(utf8 bytes: [UInt8]) {
        pending.append(contentsOf: bytes)
        if !buffered || pending.count >= 1 << 16 { _ = flush() }
    }

    func flush() -> Errno? {
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
final class StandardInput: InputSource {
    func readLine() -> String? { Swift.readLine(strippingNewline: true) }
}
