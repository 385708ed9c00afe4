/// Everything ipvsadm asks of the kernel: changes as `Modification` values, and the reads.
///
/// Implementations: `NetlinkBackend` (the real kernel, over generic netlink) and
/// `InMemoryBackend` (a fake with the kernel's rules and errnos, for tests).
/// Every failure is an `IPVSError` carrying the kernel's errno.
public protocol IPVSBackend: AnyObject {
    func info() throws(IPVSError) -> IPVSInfo

    /// Carries out one change and waits for the kernel's answer.
    func apply(_ modification: Modification) throws(IPVSError)

    /// Carries out changes in order, each on its own (a failure does not stop the ones after
    /// it, as with separate ipvsadm runs); one result per change, nil for success. The
    /// default applies them one by one; the netlink backend sends many per system call.
    func perform(_ modifications: [Modification]) -> [IPVSError?]

    /// All services, in the kernel's order.
    func services() throws(IPVSError) -> [VirtualService]
    /// One service looked up by its key (ESRCH if absent).
    func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService
    /// The real servers of a service, in the kernel's order (empty if the service is absent).
    func destinations(of service: VirtualService) throws(IPVSError) -> [Destination]
    func timeouts() throws(IPVSError) -> Timeouts
    func daemons() throws(IPVSError) -> [SyncDaemon]

    /// The connection table in `/proc/net/ip_vs_conn`'s text format (there is no netlink
    /// request for it; ipvsadm reads the same file, per network namespace).
    func connectionTable() throws(Errno) -> String

    /// The same table, handed to `body` block by block as it is read (never held whole; a
    /// block may end mid-line). Fails with the errno of the open only: a failed read ends the
    /// table there, as a short file would (ipvsadm's `fgets` loop).
    func readConnectionTable(_ body: (UnsafeRawBufferPointer) -> Void) throws(Errno)
}

extension IPVSBackend {
    /// The table of `connectionTable()`, in one block.
    public func readConnectionTable(_ body: (UnsafeRawBufferPointer) -> Void) throws(Errno) {
        var table = try connectionTable()
        table.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    public func perform(_ modifications: [Modification]) -> [IPVSError?] {
        var results: [IPVSError?] = []
        results.reserveCapacity(modifications.count)
        for modification in modifications {
            do throws(IPVSError) {
                try apply(modification)
                results.append(nil)
            } catch {
                results.append(error)
            }
        }
        return results
    }
}
