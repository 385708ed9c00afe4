import IPVS
import IPVSAdm
import IPVSTestSupport

/// The world every check runs the CLI in (`CLI.run`, with `HostsResolver`'s names).
enum Harness {
    static let tryHelp = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"

    /// A fresh fake kernel, set up alike for every check: the kernel's rule for real-server
    /// addresses (unicast), and two connections for `-c`.
    static func kernel() -> InMemoryBackend {
        let backend = InMemoryBackend()
        backend.isRoutable = InMemoryBackend.isUnicast
        backend.connectionLines = [
            "TCP 0A000064 9C40 0A000001 0050 0A000101 0050 ESTABLISHED     899 none",
            "UDP 2001:0db8:0000:0000:0000:0000:0000:0064 D431 2001:0db8:0000:0000:0000:0000:0000:0001 0035 "
                + "2001:0db8:0000:0000:0000:0000:0000:0011 0035 UDP             299 none",
        ]
        return backend
    }

    /// `-Sn --complete`: the table as text, for messages.
    static func save(_ backend: any IPVSBackend) -> String {
        CLI.run(["-Sn", "--complete"], on: backend).stdout
    }
}

/// Everything a command can change in the kernel's IPVS state, read through the backend:
/// services in the kernel's order, each with its real servers, the timeouts, the daemons.
struct TableSnapshot: Equatable {
    var services: [VirtualService]
    var destinations: [[Destination]]
    var timeouts: Timeouts?
    var daemons: [SyncDaemon]

    init(_ backend: any IPVSBackend) {
        services = (try? backend.services()) ?? []
        destinations = services.map { (try? backend.destinations(of: $0)) ?? [] }
        timeouts = try? backend.timeouts()
        daemons = (try? backend.daemons()) ?? []
    }

    /// The same table regardless of order: services by key, real servers by address and port.
    var unordered: TableSnapshot {
        var copy = self
        let order = services.indices.sorted { "\(services[$0].key)" < "\(services[$1].key)" }
        copy.services = order.map { services[$0] }
        copy.destinations = order.map { index in
            destinations[index].sorted { "\($0.address) \($0.port)" < "\($1.address) \($1.port)" }
        }
        return copy
    }

    /// The first difference from `other`, in words.
    func difference(from other: TableSnapshot) -> String {
        if timeouts != other.timeouts { return "timeouts \(String(describing: other.timeouts)) became \(String(describing: timeouts))" }
        if daemons != other.daemons { return "daemons \(other.daemons) became \(daemons)" }
        if services.map(\.key) != other.services.map(\.key) {
            return "services \(other.services.map(\.key)) became \(services.map(\.key))"
        }
        for (index, service) in services.enumerated() {
            if service != other.services[index] { return "service \(other.services[index]) became \(service)" }
            if destinations[index] != other.destinations[index] {
                return "real servers of \(service.key): \(other.destinations[index]) became \(destinations[index])"
            }
        }
        return "no difference"
    }
}
