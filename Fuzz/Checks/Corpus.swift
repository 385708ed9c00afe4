import Glibc
import IPVSTestSupport

/// Files of a corpus: what the replay test and the driver read.
public enum Corpus {
    /// The regular files of `path` (a directory, not recursively) in name order, or `path`
    /// itself when it is a file.
    public static func files(at path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }
    }

    /// The bytes of a file, nil when it cannot be read.
    public static func contents(of path: String) -> [UInt8]? { Repository.contents(ofFile: path) }
}
