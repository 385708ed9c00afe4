import IPVS
import IPVSAdm

/// Host and service names from fixed tables: deterministic and without any I/O (a fuzzer
/// must never wait on DNS or read /etc/services per input). The names are those of the
/// differential suite's hosts file, and a few services of /etc/services.
public final class FixedResolver: NameResolver, Sendable {
    private let forward: [String: IPAddress]
    private let reverse: [IPAddress: String]
    private let services: [IPProtocolNumber: [String: UInt16]]
    private let serviceNames: [IPProtocolNumber: [UInt16: String]]

    /// - Parameter ipv6Names: whether IPv6 addresses have reverse names. An IPv6 name cannot
    ///   be read back (`gethostbyname` finds IPv4 only, and ipvsadm drops the port of a
    ///   non-IPv6 `[name]:port`), so a save with names restores only without them.
    public init(ipv6Names: Bool = true) {
        let hosts: [(String, [String])] = [
            ("127.0.0.1", ["localhost"]),
            ("10.0.0.1", ["web1"]),
            ("10.0.0.2", ["web2.example.com", "web2"]),
            ("10.0.0.3", ["www.example.com"]),
            ("10.0.1.1", ["rs1"]),
            ("10.0.1.2", ["rs2"]),
            ("10.0.2.1", ["a-very-long-host-name-for-truncation.example.com"]),
            ("192.168.3.10", ["vip.lvs.example"]),
            ("::1", ["ip6-localhost", "ip6-loopback"]),
            ("2001:db8::1", ["web6"]),
        ]
        var forward: [String: IPAddress] = [:]
        var reverse: [IPAddress: String] = [:]
        for (text, names) in hosts {
            guard let address = IPAddress.parse(text, with: IPAddress.parseIPv4Strict) ?? IPAddress.parse(text, with: IPAddress.parseIPv6) else { continue }
            if address.family == .inet6 && !ipv6Names { continue }
            reverse[address] = names[0]
            // gethostbyname: IPv4 only.
            if address.family == .inet { for name in names { forward[name] = address } }
        }
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
    public func port(ofService name: String, protocol proto: IPProtocolNumber) -> UInt16? { services[proto]?[name] }
    public func serviceName(ofPort port: UInt16, protocol proto: IPProtocolNumber) -> String? {
        serviceNames[proto]?[port]
    }
}
