import IPVS

/// One read of the table for `--watch`: the services in ipvsadm's order, each with its real
/// servers in ipvsadm's order, and when it was read (the injected `Clock`'s seconds).
struct WatchSnapshot {
    struct Entry {
        var service: VirtualService
        var destinations: [Destination]
    }

    var time: Double
    var entries: [Entry]
}

/// Per second, from the exact counters of two snapshots: what changed divided by the seconds
/// between the reads. Not the kernel's estimator (a 2 s decaying average, `--rate`).
struct WatchRates: Equatable, Sendable {
    var connections: Double
    var inPackets: Double
    var outPackets: Double
    var inBytes: Double
    var outBytes: Double

    /// Nil when there is no interval, or when a counter went down (zeroed with `-Z`, or the
    /// service was deleted and added again): a difference that is no rate.
    init?(from old: Statistics, to new: Statistics, seconds: Double) {
        guard seconds > 0, new.connections >= old.connections, new.inPackets >= old.inPackets,
            new.outPackets >= old.outPackets, new.inBytes >= old.inBytes, new.outBytes >= old.outBytes
        else { return nil }
        connections = Double(new.connections - old.connections) / seconds
        inPackets = Double(new.inPackets - old.inPackets) / seconds
        outPackets = Double(new.outPackets - old.outPackets) / seconds
        inBytes = Double(new.inBytes - old.inBytes) / seconds
        outBytes = Double(new.outBytes - old.outBytes) / seconds
    }
}

/// What one refresh shows: every service and real server with its rates over the interval
/// since the previous snapshot (nil on the first, and for what the previous one did not have).
struct WatchFrame {
    struct Server {
        var destination: Destination
        var rates: WatchRates?
        var health: HealthRecord?
    }

    struct Service {
        var service: VirtualService
        var rates: WatchRates?
        var servers: [Server]
        var activeConnections: UInt64 { servers.reduce(0) { $0 + UInt64($1.destination.activeConnections) } }
        var inactiveConnections: UInt64 { servers.reduce(0) { $0 + UInt64($1.destination.inactiveConnections) } }
        var weight: Int64 { servers.reduce(0) { $0 + Int64($1.destination.weight) } }
    }

    /// Seconds between the two snapshots the rates come from; nil for the first frame.
    var elapsed: Double?
    var services: [Service]
    /// The health checker's state, when it has one.
    var health: HealthView?

    private struct ServerKey: Hashable {
        var address: IPAddress
        var port: UInt16
    }

    /// The frame of `current`, with rates against `previous`. Services are matched by key,
    /// real servers by address and port.
    init(previous: WatchSnapshot?, current: WatchSnapshot, health: HealthView?) {
        let elapsed = previous.map { current.time - $0.time }
        self.elapsed = elapsed
        self.health = health
        var before: [ServiceKey: WatchSnapshot.Entry] = [:]
        for entry in previous?.entries ?? [] { before[entry.service.key] = entry }
        services = current.entries.map { entry in
            let old = before[entry.service.key]
            let serviceText = health.map { _ in HealthRecord.serviceText(entry.service.key) }
            // By address and port, in one pass: a service may have thousands of real servers.
            var oldServers: [ServerKey: Destination] = [:]
            for d in old?.destinations ?? [] { oldServers[ServerKey(address: d.address, port: d.port)] = d }
            let servers = entry.destinations.map { d in
                let oldServer = oldServers[ServerKey(address: d.address, port: d.port)]
                return Server(
                    destination: d,
                    rates: oldServer.flatMap { WatchRates(from: $0.stats, to: d.stats, seconds: elapsed ?? 0) },
                    health: serviceText.flatMap { health?.record(service: $0, d) })
            }
            return Service(
                service: entry.service,
                rates: old.flatMap { WatchRates(from: $0.service.stats, to: entry.service.stats, seconds: elapsed ?? 0) },
                servers: servers)
        }
    }
}

/// The order the view lists services and, within each, real servers.
enum WatchSort: String, CaseIterable, Sendable {
    /// ipvsadm's listing order.
    case address
    /// Active then inactive connections, most first.
    case connections
    /// New connections per second (the exact counters'), most first.
    case rate
    /// Weight, highest first.
    case weight
}

/// A key the terminal read, as the view's state machine takes it.
public enum WatchKey: Equatable, Sendable {
    case character(Character)
    /// The terminal changed size.
    case resize
}

/// What the person watching has chosen: sort, filter, pause, which rates. A pure state
/// machine over keys; the terminal driver only reads keys and draws lines.
struct WatchState: Equatable, Sendable {
    var sort: WatchSort = .address
    /// The one service shown; nil for all.
    var filter: ServiceKey?
    var paused = false
    /// The kernel's estimator columns instead of the exact counters' rates.
    var kernelRates = false
    var showsHelp = false

    /// What the view does after a key.
    enum Effect: Equatable, Sendable {
        case nothing
        /// Draw the same frame again (a new sort, filter, size).
        case redraw
        /// Read the table now.
        case refresh
        case quit
    }

    /// The effect of `key`, given the services of the frame shown (in its order): `f` moves
    /// the filter to the next of them, then back to all.
    mutating func handle(_ key: WatchKey, services: [ServiceKey]) -> Effect {
        guard case .character(let c) = key else { return .redraw }
        switch c {
        case "q", "Q": return .quit
        case "p", "P", " ":
            paused.toggle()
            return paused ? .redraw : .refresh
        case "c": sort = .connections
        case "r": sort = .rate
        case "w": sort = .weight
        case "a": sort = .address
        case "f":
            if let filter, let index = services.firstIndex(of: filter) {
                self.filter = index + 1 < services.count ? services[index + 1] : nil
            } else {
                filter = services.first
            }
        case "F", "\u{1b}": filter = nil
        case "k": kernelRates.toggle()
        case "h", "?": showsHelp.toggle()
        default: return .nothing
        }
        return .redraw
    }

    /// The services and real servers to show, filtered and sorted. Ties keep ipvsadm's order.
    func arranged(_ frame: WatchFrame) -> [WatchFrame.Service] {
        var services = frame.services
        if let filter { services.removeAll { $0.service.key != filter } }
        guard sort != .address else { return services }
        for i in services.indices {
            services[i].servers = WatchState.stable(services[i].servers) { a, b in
                switch sort {
                case .address: return false
                case .connections:
                    let ca = (a.destination.activeConnections, a.destination.inactiveConnections)
                    let cb = (b.destination.activeConnections, b.destination.inactiveConnections)
                    return ca > cb
                case .rate: return (a.rates?.connections ?? -1) > (b.rates?.connections ?? -1)
                case .weight: return a.destination.weight > b.destination.weight
                }
            }
        }
        return WatchState.stable(services) { a, b in
            switch sort {
            case .address: return false
            case .connections: return (a.activeConnections, a.inactiveConnections) > (b.activeConnections, b.inactiveConnections)
            case .rate: return (a.rates?.connections ?? -1) > (b.rates?.connections ?? -1)
            case .weight: return a.weight > b.weight
            }
        }
    }

    /// A stable sort: ties keep their order.
    private static func stable<T>(_ items: [T], by before: (T, T) -> Bool) -> [T] {
        items.enumerated().sorted { a, b in
            if before(a.element, b.element) { return true }
            if before(b.element, a.element) { return false }
            return a.offset < b.offset
        }.map(\.element)
    }
}
