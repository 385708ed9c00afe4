import Glibc

extension IPVSBackend {
    /// The kernel's connection table as `/proc/net/ip_vs_conn` shows it (header line
    /// included), or nil when the file cannot be read. There is no netlink request for it;
    /// ipvsadm reads the same file (per network namespace).
    public func connectionTable() -> String? {
        let descriptor = open("/proc/net/ip_vs_conn", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
