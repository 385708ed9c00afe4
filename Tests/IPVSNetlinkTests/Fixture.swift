import IPVS
import IPVSTestSupport

/// What the recorded scenarios send: the recorder (against the kernel) and the replaying
/// tests (against its recording) must make the very same requests.
enum FixtureScenario {
    static let web = VirtualService(key: .address(protocol: .tcp, address: v4(0x0a00_0001), port: 80), scheduler: "wlc")

    /// `pipelined.netlink`: 200 changes, a service added twice (EEXIST), a real server for a
    /// missing service (ESRCH), the first one deleted, then 196 services.
    static var pipelinedChanges: [Modification] {
        let missing = VirtualService(key: .address(protocol: .udp, address: v4(0x0a00_0009), port: 53), scheduler: "rr")
        var changes: [Modification] = [
            .addService(web), .addService(web),
            .addDestination(Destination(address: v4(0x0a00_0102), port: 80), to: missing),
            .deleteService(web),
        ]
        for index in 0..<196 {
            changes.append(.addService(VirtualService(
                key: .address(protocol: .tcp, address: v4(0x0a03_0000 + UInt32(index)), port: 80), scheduler: "rr")))
        }
        return changes
    }
}

/// The path of `Fixtures/<name>` beside this file.
func fixturePath(_ name: String) -> String { Repository.path("Tests/IPVSNetlinkTests/Fixtures/" + name) }

/// The bytes of `Fixtures/<name>` (empty if it cannot be read).
func fixtureText(_ name: String) -> [UInt8] { Repository.contents(ofFile: fixturePath(name)) ?? [] }

/// Reads `Fixtures/<name>`: hex bytes separated by white space; `#` starts a comment.
func fixtureBytes(_ name: String) -> [UInt8] {
    let text = fixtureText(name)
    var bytes: [UInt8] = []
    for line in text.split(separator: UInt8(ascii: "\n")) {
        let content = line.prefix { $0 != UInt8(ascii: "#") }
        for word in content.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 13 }) {
            guard let value = UInt8(String(decoding: word, as: UTF8.self), radix: 16) else { return [] }
            bytes.append(value)
        }
    }
    return bytes
}
