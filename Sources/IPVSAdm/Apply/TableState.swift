import IPVS

/// A table as `--apply` compares it: services with their real servers, in order, and, when
/// the state is complete, the timeouts and the sync daemons.
struct TableState {
    struct Entry {
        var service: VirtualService
        var destinations: [Destination]
        /// The input line that defined the service (0 for a table read from the kernel).
        var line = 0
        /// The input line of each real server, by position.
        var destinationLines: [Int] = []
    }

    var entries: [Entry] = []
    /// nil: not managed (the input has no `--set` line).
    var timeouts: Timeouts?
    /// nil: not managed. A daemon read from input has 0 (or nil) for what its line left out.
    var daemons: [SyncDaemon]?
    /// The input line of each daemon, by position.
    var daemonLines: [Int] = []
    /// The input line of the `--set` line.
    var timeoutsLine = 0

    /// The kernel's table: every service of `scope` with its real servers (nothing is read
    /// of the others), and the timeouts and daemons when `complete`.
    static func read(
        from backend: any IPVSBackend, complete: Bool, scope: TableScope = TableScope()
    ) throws(IPVSError) -> TableState {
        var state = TableState()
        for service in try backend.services() where scope.contains(service.key) {
            state.entries.append(Entry(service: service, destinations: try backend.destinations(of: service)))
        }
        if complete {
            state.timeouts = try backend.timeouts()
            state.daemons = try backend.daemons()
        }
        return state
    }
}

/// Where two real servers are the same entry for the kernel.
struct DestinationKey: Hashable {
    let address: IPAddress
    let port: UInt16

    init(_ destination: Destination) {
        address = destination.address
        port = destination.port
    }
}

extension SyncDaemon {
    /// Whether a running daemon is what `wanted` (read from input) asks for: the same state,
    /// interface and sync id, and the same value for every parameter `wanted` names (one it
    /// leaves at 0 takes the kernel's default, which depends on the interface's MTU).
    func satisfies(_ wanted: SyncDaemon) -> Bool {
        state == wanted.state && interface == wanted.interface && syncID == wanted.syncID
            && (wanted.maxLength == 0 || maxLength == wanted.maxLength)
            && (wanted.group == nil || group == wanted.group)
            && (wanted.port == 0 || port == wanted.port)
            && (wanted.ttl == 0 || ttl == wanted.ttl)
    }
}
