import IPVS
import IPVSAdm

/// The system as `--apply`, `-R` and `--owner` see it, in memory: files in a dictionary, an
/// environment, a table lock another process may hold, and commands run as closures.
public final class FakeHost: Host {
    public var files: [String: [UInt8]] = [:]
    public var variables: [String: String] = [:]
    public var namespaceInode: UInt64? = 4_026_531_840
    /// Whether another process holds the table lock (every `tryLock` fails).
    public var lockHeldElsewhere = false
    /// The lock file cannot be opened (a read-only `/run`).
    public var lockUnavailable: Errno?
    /// A write of a file fails with this.
    public var writeFailure: Errno?
    /// Paths of the locks taken and not yet released.
    public private(set) var heldLocks: [String] = []
    /// Every lock path opened, in order.
    public private(set) var lockPaths: [String] = []
    /// What `runCommand` does.
    public var commands: (String) -> Int32 = { _ in 0 }
    /// The wall clock, seconds since the epoch.
    public var time: Double = 1_765_100_000
    /// The processes that exist.
    public var processes: Set<Int32> = []
    /// `--doctor`: the namespace's interfaces and routes.
    public var network = NetworkFacts()
    /// `--doctor`: what commands print (a command not here is not installed).
    public var outputs: [String: String] = [:]

    /// Paths `writeFile` refuses as the kernel refuses a read-only sysctl (EACCES), and that
    /// `directoryEntries` lists as not writable.
    public var readOnly: Set<String> = []
    /// What the kernel answers a write into an existing file (`--sysctl NAME=VALUE`): nil takes
    /// it (the file then reads back the value with a newline), or an errno.
    public var writeRule: (String, [UInt8]) -> Errno? = { _, _ in nil }
    /// Every `writeFile`, in order.
    public private(set) var writes: [(path: String, contents: String)] = []

    public init() {}

    public func text(_ path: String) -> String? { files[path].map { String(decoding: $0, as: UTF8.self) } }

    public func environment(_ name: String) -> String? { variables[name] }
    public func networkNamespaceInode() -> UInt64? { namespaceInode }
    public func readFile(_ path: String) throws(Errno) -> [UInt8]? { files[path] }

    public func writeFileAtomically(_ path: String, contents: [UInt8]) throws(Errno) {
        if let writeFailure { throw writeFailure }
        files[path] = contents
    }

    public func openLockFile(_ path: String) throws(Errno) -> any LockFile {
        if let lockUnavailable { throw lockUnavailable }
        lockPaths.append(path)
        return Lock(host: self, path: path)
    }

    public func runCommand(_ command: String) -> Int32 { commands(command) }
    public func wallClock() -> Double { time }
    public func processExists(_ pid: Int32) -> Bool { processes.contains(pid) }
    public func networkFacts() throws(Errno) -> NetworkFacts { network }
    public func commandOutput(_ command: String) -> String? { outputs[command] }

    /// The files directly under `path`, as a directory of them.
    public func directoryEntries(_ path: String) throws(Errno) -> [DirectoryEntry]? {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        let names = files.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
        if names.isEmpty { return nil }
        return names.sorted().map { DirectoryEntry(name: String($0.dropFirst(prefix.count)), writable: !readOnly.contains($0)) }
    }

    public func writeFile(_ path: String, contents: [UInt8]) throws(Errno) {
        writes.append((path, String(decoding: contents, as: UTF8.self)))
        guard files[path] != nil else { throw .noSuchFileOrDirectory }
        if readOnly.contains(path) { throw Errno(rawValue: 13) }  // EACCES
        if let refusal = writeRule(path, contents) { throw refusal }
        var value = contents
        while value.last == 0x0a { value.removeLast() }
        files[path] = value + [0x0a]
    }

    private final class Lock: LockFile {
        let host: FakeHost
        let path: String
        var held = false

        init(host: FakeHost, path: String) {
            self.host = host
            self.path = path
        }

        func tryLock() -> Bool {
            guard !host.lockHeldElsewhere else { return false }
            held = true
            host.heldLocks.append(path)
            return true
        }

        func release() {
            guard held else { return }
            held = false
            if let index = host.heldLocks.firstIndex(of: path) { host.heldLocks.remove(at: index) }
        }
    }
}
