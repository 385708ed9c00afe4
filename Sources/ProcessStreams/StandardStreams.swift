import Glibc
import IPVSAdm
import IPVS

/// The process's own output streams, for `IPVSAdm.run` (in `main`, and in the profiling
/// harness `ipvsadm-restore-profile`). stdout is collected and written in
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

    func write(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        // A large block with nothing before it (a JSON listing's ~64 KiB) goes out as it is.
        if pending.isEmpty && bytes.count >= 1 << 15 {
            guard failure == nil else { return }
            failure = FileDescriptorSink.writeAll(descriptor, UnsafeRawBufferPointer(bytes))
            return
        }
        pending.append(contentsOf: bytes)
        if !buffered || pending.count >= 1 << 16 { _ = flush() }
    }

    func flush() -> Errno? {
        defer { pending.removeAll(keepingCapacity: true) }
        guard failure == nil else { return failure }
        let descriptor = self.descriptor
        failure = pending.withUnsafeBytes { FileDescriptorSink.writeAll(descriptor, $0) }
        return failure
    }

    /// Writes all of `bytes`, or returns the error that stopped it.
    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Errno? {
        var offset = 0
        while offset < bytes.count {
            do throws(Errno) {
                offset += try Errno.retryingInterrupts {
                    Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                }
            } catch {
                return error
            }
        }
        return nil
    }
}

/// Standard input, line by line, read in blocks of 64 KiB (`read(2)`) with the lines cut
/// from them: as `Swift.readLine` cuts them (a newline, or CR LF, ends a line and is dropped;
/// a last line without one still counts). Hot path (`-R`): no `String` and no C `getline`
/// per line.
final class StandardInput: InputSource {
    private let descriptor: Int32
    /// The bytes read and not yet handed out are `buffer[start..<end]`. Allocated at the first
    /// read: most commands never read stdin.
    private var buffer: [UInt8] = []
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(descriptor: Int32 = 0) { self.descriptor = descriptor }

    func readLine(into line: inout [UInt8]) -> Bool {
        while true {
            let (start, end) = (self.start, self.end)
            let newline = start == end ? nil : buffer.withUnsafeBytes { raw in
                memchr(raw.baseAddress! + start, 0x0a, end - start).map { UnsafeRawPointer($0) - raw.baseAddress! }
            }
            if let newline {
                let stop = newline > start && buffer[newline - 1] == 0x0d ? newline - 1 : newline
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: buffer[start..<stop])
                self.start = newline + 1
                return true
            }
            if atEnd {
                guard start < end else { return false }
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: buffer[start..<end])
                self.start = end
                return true
            }
            fill()
        }
    }

    /// Reads the next block after what is left, which moves to the front first (the buffer
    /// grows only for a line longer than it). The end of the input, or an error reading it,
    /// ends the lines, as for `getline`.
    private func fill() {
        if start > 0 {
            let (start, left) = (self.start, end - self.start)
            buffer.withUnsafeMutableBytes { raw in _ = memmove(raw.baseAddress!, raw.baseAddress! + start, left) }
            end = left
            self.start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: max(buffer.count, 1 << 16))) }
        let (descriptor, filled) = (self.descriptor, end)
        let count = buffer.withUnsafeMutableBytes { raw in
            try? Errno.retryingInterrupts { Glibc.read(descriptor, raw.baseAddress! + filled, raw.count - filled) }
        }
        guard let count, count > 0 else {
            atEnd = true
            return
        }
        self.end += count
    }
}
