import Glibc

/// A whole file read into memory, 64 KiB at a time: `/proc/net/ip_vs_conn` for `-c`, an
/// ownership record for `--apply --owner`. The one reader of files of the project.
public enum WholeFile {
    /// The file's bytes, or the errno of the `open` or `read` that failed.
    public static func read(_ path: String) throws(Errno) -> [UInt8] {
        let descriptor = try Errno.retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try chunk.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try Errno.retryingInterrupts { Glibc.read(descriptor, raw.baseAddress, raw.count) } }
            }.get()
            guard count > 0 else { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// The file handed to `body` in blocks of up to `blockSize` bytes, as they are read: only
    /// the errno of the `open` is thrown; a `read` that fails ends the file there.
    public static func forEachBlock(
        _ path: String, blockSize: Int = 1 << 16, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(Errno) {
        let descriptor = try Errno.retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(descriptor) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { block.deallocate() }
        while true {
            guard let count = try? Errno.retryingInterrupts({ Glibc.read(descriptor, block.baseAddress, block.count) }),
                count > 0
            else { return }
            body(UnsafeRawBufferPointer(rebasing: block[0..<count]))
        }
    }
}
