import Glibc
import IPVS

/// What `--apply`, `-R` and the ownership record need of the system besides the kernel's
/// table: the environment, small files, the table lock and the network namespace's identity.
/// `main` passes `SystemHost`; tests pass a fake, so that no unit test touches `/run` or
/// `/var/lib`.
public protocol Host: AnyObject {
    /// An environment variable, nil when unset.
    func environment(_ name: String) -> String?
    /// The inode of the network namespace the process is in now (after `--netns`): what
    /// names the lock of that table. nil when it cannot be read.
    func networkNamespaceInode() -> UInt64?
    /// The whole file, nil when it does not exist.
    func readFile(_ path: String) throws(Errno) -> [UInt8]?
    /// Replaces the file so that a reader sees the old contents or the new, never a part:
    /// a temporary file in the same directory, written, synced, renamed over it. Missing
    /// directories are created (0755).
    func writeFileAtomically(_ path: String, contents: [UInt8]) throws(Errno)
    /// Opens (creating it 0644, and its directory 0755, when missing) the file a lock is
    /// taken on.
    func openLockFile(_ path: String) throws(Errno) -> any LockFile
    /// Runs a shell command and waits for it: only for `IPVSADM_TEST_AFTER_APPLY`.
    func runCommand(_ command: String) -> Int32
    /// Seconds since the epoch (the health checker's state file is in wall-clock time).
    func wallClock() -> Double
    /// Whether a process with this id exists (the health checker named by its state file).
    func processExists(_ pid: Int32) -> Bool
    /// `--doctor`: the interfaces (flags, MTU, addresses) and main-table routes of the
    /// network namespace the process is in.
    func networkFacts() throws(Errno) -> NetworkFacts
    /// `--doctor`: the standard output of a shell command (its errors discarded), nil when it
    /// could not be run (not installed).
    func commandOutput(_ command: String) -> String?
    /// The entries of a directory (`--sysctl`: /proc/sys/net/ipv4/vs), without `.` and `..`,
    /// each with whether this process may write it (the kernel's own answer, `access(W_OK)`);
    /// nil when the directory does not exist.
    func directoryEntries(_ path: String) throws(Errno) -> [DirectoryEntry]?
    /// Writes the bytes into an existing file in one `write` (a sysctl takes its value whole,
    /// from the start of the file): the errno of the `open` or the `write` that failed.
    func writeFile(_ path: String, contents: [UInt8]) throws(Errno)
}

/// One entry of a directory, as `Host.directoryEntries` lists it.
public struct DirectoryEntry: Equatable, Sendable {
    public var name: String
    public var writable: Bool

    public init(name: String, writable: Bool) {
        self.name = name
        self.writable = writable
    }
}

extension Host {
    public func wallClock() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public func processExists(_ pid: Int32) -> Bool {
        // EPERM: it exists, owned by another user.
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}

/// An open lock file (`flock`): held from a successful `tryLock` until `release`.
public protocol LockFile: AnyObject {
    /// Takes the exclusive lock without waiting: false when another process holds it.
    func tryLock() -> Bool
    /// Gives the lock back and closes the file.
    func release()
}

/// The real system.
public final class SystemHost: Host {
    public init() {}

    public func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    public func networkNamespaceInode() -> UInt64? {
        // The calling thread's namespace (setns moves a thread), then the process's.
        for path in ["/proc/thread-self/ns/net", "/proc/self/ns/net"] {
            var status = stat()
            if stat(path, &status) == 0 { return UInt64(status.st_ino) }
        }
        return nil
    }

    public func readFile(_ path: String) throws(Errno) -> [UInt8]? {
        do {
            return try WholeFile.read(path)
        } catch where error == .noSuchFileOrDirectory {
            return nil
        }
    }

    public func writeFileAtomically(_ path: String, contents: [UInt8]) throws(Errno) {
        let directory = SystemHost.directory(of: path)
        try SystemHost.makeDirectories(directory)
        let temporary = directory + "/." + SystemHost.lastComponent(of: path) + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw Errno.current }
        var failure: Errno?
        var written = 0
        while written < contents.count && failure == nil {
            let count = contents.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if Errno.current != .interrupted { failure = Errno.current }
            } else {
                written += count
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = Errno.current }
        if close(fd) != 0 && failure == nil { failure = Errno.current }
        if failure == nil && rename(temporary, path) != 0 { failure = Errno.current }
        if let failure {
            unlink(temporary)
            throw failure
        }
        // The rename itself survives a crash once the directory is synced.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    public func openLockFile(_ path: String) throws(Errno) -> any LockFile {
        try SystemHost.makeDirectories(SystemHost.directory(of: path))
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw Errno.current }
        return FileLock(fd: fd)
    }

    public func runCommand(_ command: String) -> Int32 {
        system(command)
    }

    public func directoryEntries(_ path: String) throws(Errno) -> [DirectoryEntry]? {
        guard let directory = opendir(path) else {
            if Errno.current == .noSuchFileOrDirectory { return nil }
            throw Errno.current
        }
        defer { closedir(directory) }
        var entries: [DirectoryEntry] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            let writable = faccessat(AT_FDCWD, path + "/" + name, W_OK, AT_EACCESS) == 0
            entries.append(DirectoryEntry(name: name, writable: writable))
        }
        return entries
    }

    public func writeFile(_ path: String, contents: [UInt8]) throws(Errno) {
        let fd = try Errno.retryingInterrupts { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let count = try contents.withUnsafeBytes { raw in
            Result { () throws(Errno) in try Errno.retryingInterrupts { write(fd, raw.baseAddress, raw.count) } }
        }.get()
        if count != contents.count { throw Errno.invalidArgument }
    }

    private final class FileLock: LockFile {
        private var fd: Int32

        init(fd: Int32) { self.fd = fd }

        func tryLock() -> Bool {
            while true {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
                if Errno.current != .interrupted { return false }
            }
        }

        func release() {
            guard fd >= 0 else { return }
            close(fd)  // closing the only descriptor releases the flock
            fd = -1
        }

        deinit { release() }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `mkdir -p` with mode 0755.
    private static func makeDirectories(_ path: String) throws(Errno) {
        if path.isEmpty || path == "/" || path == "." { return }
        if mkdir(path, 0o755) == 0 { return }
        switch Errno.current {
        case .fileExists:
            return
        case .noSuchFileOrDirectory:
            try makeDirectories(directory(of: path))
            if mkdir(path, 0o755) != 0 && Errno.current != .fileExists { throw Errno.current }
        case let error:
            throw error
        }
    }
}
