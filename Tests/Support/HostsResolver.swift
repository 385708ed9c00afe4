import IPVS
import IPVSAdm

/// Host names from the differential suite's hosts file (`Tests/Differential/hosts`, which the
/// VM bind-mounts over /etc/hosts), read once; service names from a fixed table of a few
/// entries of /etc/services, or from the system's /etc/services as in the VM.
public final class HostsResolver: NameResolver, Sendable {
    public enum Services: Sendable {
        /// A few entries of /etc/services, from memory. Deterministic and without I/O per
        /// look-up: a fuzzer must never wait on DNS or read /etc/services per input.
        case fixed
        /// The system's /etc/services, which the oracle's transcripts were recorded with.
        case system
    }

    /// The hosts file's names, IPv6 ones included, and the fixed services.
    public static let shared = HostsResolver()

    private let systemServices: Bool

    private let forward: [String: IPAddress]
    private let reverse: [IPAddress: String]
    private let services: [IPProtocolNumber: [String: UInt16]]
    private let serviceNames: [IPProtocolNumber: [UInt16: String]]

    /// - Parameter ipv6Names: whether IPv6 addresses have reverse names. An IPv6 name cannot
    ///   be read back (`gethostbyname` finds IPv4 only, and ipvsadm drops the port of a
    ///   non-IPv6 `[name]:port`), so a save with names restores only without them.
    public init(ipv6Names: Bool = true, services source: Services = .fixed) {
        systemServices = source == .system
        var forward: [String: IPAddress] = [:]
        var reverse: [IPAddress: String] = [:]
        let text = Repository.text("Tests/Differential/hosts") ?? ""
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            guard let address = IPAddress.parse(fields[0], with: IPAddress.parseIPv4Strict)
                ?? IPAddress.parse(fields[0], with: IPAddress.parseIPv6) else { continue }
            if address.family == .inet6 && !ipv6Names { continue }
            // The first line and the first name of an address win, as in glibc.
            if reverse[address] == nil { reverse[address] = fields[1] }
            // gethostbyname: IPv4 only.
            for name in fields.dropFirst() where address.family == .inet && forward[name] == nil {
                forward[name] = address
            }
        }
        precondition(!forward.isEmpty, "no hosts in \(Repository.path("Tests/Differential/hosts"))")
        self.forward = forward
        self.reverse = reverse
        let table: [IPProtocolNumber: [(String, UInt16)]] = [
            .tcp: [("ftp", 21), ("ssh", 22), ("smtp", 25), ("domain", 53), ("http", 80), ("https", 443)],
            .udp: [("domain", 53), ("ntp", 123), ("syslog", 514)],
            .sctp: [("http", 80)],
        ]
        services = table.mapValues { Dictionary($0, uniquingKeysWith: { first, _ in first }) }
        serviceNames = table.mapValues { Dictionary($0.map { ($1, $0) }, uniquingKeysWith: { first, _ in first }) }
    }

    public func ipv4Address(ofHost name: String) -> IPAddress? { forward[name] }
    public func hostName(of address: IPAddress) -> String? { reverse[address] }
    public func port(ofService name: String, protocol proto: IPProtocolNumber) -> UInt16? {
        systemServices ? SystemResolver().port(ofService: name, protocol: proto) : services[proto]?[name]
    }
    public func serviceName(ofPort port: UInt16, protocol proto: IPProtocolNumber) -> String? {
        systemServices ? SystemResolver().serviceName(ofPort: port, protocol: proto) : serviceNames[proto]?[port]
    }
}
