import Glibc

/// Files of this repository, found from this file's path (`Tests/Support/`): the golden
/// transcripts, the hosts file, the fuzz corpus, the manual, the netlink fixtures.
public enum Repository {
    /// The repository's root directory.
    public static let root: String = {
        let parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        return parts.dropLast(3).joined(separator: "/")
    }()

    /// The path of `relative` (from the root).
    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// The bytes of the file at `path` (absolute), nil when it cannot be read.
    public static func contents(ofFile path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return ferror(file) == 0 ? bytes : nil
    }

    /// The text of the repository's file `relative`, nil when it cannot be read.
    public static func text(_ relative: String) -> String? {
        contents(ofFile: path(relative)).map { String(decoding: $0, as: UTF8.self) }
    }
}
