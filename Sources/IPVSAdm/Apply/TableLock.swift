import IPVS

/// One writer at a time: `--apply` and `-R` hold an exclusive lock on
/// `$IPVSADM_RUN_DIR/lock-<inode of the network namespace>` while they change the table, so
/// two reconciles of one table never interleave. Direct single commands take none.
extension Runner {
    static let defaultRunDirectory = "/run/ipvsadm"
    /// Seconds a second writer waits for the lock by default.
    static let defaultLockWait: UInt32 = 30
    /// Seconds between two attempts while the lock is held.
    private static let lockPoll = 0.05

    /// Takes the table's lock, waiting up to `wait` seconds while another process holds it.
    /// When the lock file cannot be opened at all (a read-only `/run`, no permission), goes
    /// on without it: `-R` silently (its output stays ipvsadm's), `--apply` with a warning.
    ///
    /// - Returns: the held lock, nil when going on without one.
    /// - Throws: status 4 when the wait ended with the lock still held.
    func takeTableLock(wait: UInt32, warnIfUnavailable: Bool) throws(Termination) -> (any LockFile)? {
        let directory = host.environment("IPVSADM_RUN_DIR").flatMap { $0.isEmpty ? nil : $0 } ?? Runner.defaultRunDirectory
        func unavailable(_ why: String) -> (any LockFile)? {
            if warnIfUnavailable { stderr.write("ipvsadm: warning: going on without the table lock (\(why))\n") }
            return nil
        }
        guard let inode = host.networkNamespaceInode() else {
            return unavailable("the network namespace cannot be identified")
        }
        let path = directory + "/lock-\(inode)"
        let lock: any LockFile
        do {
            lock = try host.openLockFile(path)
        } catch {
            return unavailable("\(path): \(error.text)")
        }
        let deadline = clock.now + Double(wait)
        while !lock.tryLock() {
            let left = deadline - clock.now
            guard left > 0 else {
                lock.release()
                throw .process(
                    status: 4,
                    stderr: "ipvsadm: another --apply or -R is changing this table (lock \(path) held for \(wait) s)\n")
            }
            clock.sleep(seconds: min(Runner.lockPoll, left))
        }
        return lock
    }
}
