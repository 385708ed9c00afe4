/// Everything ipvsadm asks of the kernel, one method per request (mirrors `libipvs.h`).
///
/// Implementations: `NetlinkBackend` (the real kernel, over generic netlink) and
/// `InMemoryBackend` (a fake with the kernel's rules and errnos, for tests).
/// Every failure is an `IPVSError` carrying the kernel's errno.
public protocol IPVSBackend: AnyObject {
    func info() throws(IPVSError) -> IPVSInfo

    func addService(_ service: VirtualService) throws(IPVSError)
    func updateService(_ service: VirtualService) throws(IPVSError)
    func deleteService(_ service: VirtualService) throws(IPVSError)
    /// Zeroes the counters of one service, or of all services and the global stats when nil.
    func zero(_ service: VirtualService?) throws(IPVSError)
    func flush() throws(IPVSError)

    func addDestination(_ destination: Destination, to service: VirtualService) throws(IPVSError)
    func updateDestination(_ destination: Destination, in service: VirtualService) throws(IPVSError)
    func deleteDestination(_ destination: Destination, from service: VirtualService) throws(IPVSError)

    func setTimeouts(_ timeouts: Timeouts) throws(IPVSError)
    func startDaemon(_ daemon: SyncDaemon) throws(IPVSError)
    func stopDaemon(_ daemon: SyncDaemon) throws(IPVSError)

    /// All services, in the kernel's order.
    func services() throws(IPVSError) -> [VirtualService]
    /// One service looked up by its key (ESRCH if absent).
    func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService
    /// The real servers of a service, in the kernel's order (empty if the service is absent).
    func destinations(of service: VirtualService) throws(IPVSError) -> [Destination]
    func timeouts() throws(IPVSError) -> Timeouts
    func daemons() throws(IPVSError) -> [SyncDaemon]

    /// Carries out modifications in order, each independently; one result per
    /// modification (nil for success). The default applies them one by one; the netlink
    /// backend sends many per system call.
    func perform(_ modifications: [Modification]) -> [IPVSError?]

    /// The connection table in `/proc/net/ip_vs_conn`'s text format, nil if unreadable.
    /// The default implementation reads that file.
    func connectionTable() -> String?
}
