import Foundation
import IPVS
import IPVSAdm

/// Host names from the differential suite's hosts file (the VM bind-mounts the same file
/// over /etc/hosts); service names from the system's /etc/services, as in the VM.
final class HostsResolver: NameResolver {
    private var forward: [String: IPAddress] = [:]
    private var reverse: [IPAddress: String] = [:]
    private let system = SystemResolver()

    init() {
        let path = GoldenTranscript.differentialDirectory.appendingPathComponent("hosts").path
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            guard let address = IPAddress.parse(fields[0], with: IPAddress.parseIPv4Strict) ?? IPAddress.parse(fields[0], with: IPAddress.parseIPv6) else { continue }
            if reverse[address] == nil { reverse[address] = fields[1] }
            for name in fields.dropFirst() where address.family == .inet && forward[name] == nil {
                forward[name] = address
            }
        }
    }

    func ipv4Address(ofHost name: String) -> IPAddress? { forward[name] }
    func hostName(of address: IPAddress) -> String? { reverse[address] }
    func port(ofService name: String, protocol: IPProtocolNumber) -> UInt16? {
        system.port(ofService: name, protocol: `protocol`)
    }
    func serviceName(ofPort port: UInt16, protocol: IPProtocolNumber) -> String? {
        system.serviceName(ofPort: port, protocol: `protocol`)
    }
}
