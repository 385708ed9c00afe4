import Foundation
import IPVS
import IPVSAdm
import Testing

/// `--json` and `--metrics` against the in-memory kernel: what the documents hold. (In the VM
/// the values are checked against the oracle's text listings, the JSON against the schema, the
/// metrics with promtool.)
@Suite struct JSONListingTests {
    static let rules = """
        -A -t 10.1.0.1:80 -s sh -b sh-port,flag-3 -p 300 -M 255.255.255.0
        -a -t 10.1.0.1:80 -r 10.2.0.1:8080 -m -w 3 -x 100 -y 10
        -A -f 7 -6 -s rr
        -a -f 7 -6 -r 2001:db8::2 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
        --start-daemon master --mcast-interface lo --syncid 9

        """

    static func listing(_ arguments: [String], backend: InMemoryBackend = ApplyTests.loaded(rules)) throws -> Any {
        let result = ApplyTests.run(backend, arguments)
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        return try JSONSerialization.jsonObject(with: Data(result.out.utf8))
    }

    @Test func servicesAndRealServers() throws {
        let document = try #require(
            try Self.listing(["-Ln", "--json", "--stats", "--rate", "--thresholds", "--persistent-conn", "--tun-info"])
                as? [String: Any])
        #expect(document["version"] as? String == "1.2.1")
        #expect(document["connection_table_size"] as? Int == 4096)
        let services = try #require(document["services"] as? [[String: Any]])
        #expect(services.count == 2)
        let web = services[0]  // ipvsadm's order: fwmark 0 (an address service) first
        #expect(web["protocol"] as? String == "tcp")
        #expect(web["address"] as? String == "10.1.0.1")
        #expect(web["port"] as? Int == 80)
        #expect(web["flags"] as? [String] == ["persistent", "sh-port", "flag-3"])
        #expect((web["persistent"] as? [String: Any])?["netmask"] as? String == "255.255.255.0")
        let server = try #require((web["real_servers"] as? [[String: Any]])?.first)
        #expect(server["forwarding"] as? String == "masq")
        #expect(server["upper_threshold"] as? Int == 100)
        #expect((server["stats"] as? [String: Any])?["bytes_out"] as? Int == 0)
        let mark = services[1]
        #expect(mark["fwmark"] as? Int == 7 && mark["family"] as? String == "inet6" && mark["address"] == nil)
        #expect(mark["flags"] as? [String] == [])
        let tunnel = try #require(((mark["real_servers"] as? [[String: Any]])?.first)?["tunnel"] as? [String: Any])
        #expect(tunnel["type"] as? String == "gue" && tunnel["port"] as? Int == 6080)
        #expect(tunnel["flags"] as? [String] == ["checksum"])
    }

    /// Plain `-Ln --json` holds what `-Ln` shows; each listing option adds its fields.
    @Test func listingOptionsAddTheirFields() throws {
        func firstServer(_ arguments: [String]) throws -> (service: [String: Any], server: [String: Any]) {
            let document = try #require(try Self.listing(arguments) as? [String: Any])
            let services = try #require(document["services"] as? [[String: Any]])
            return (services[0], try #require((services[1]["real_servers"] as? [[String: Any]])?.first))
        }
        let plain = try firstServer(["-Ln", "--json"])
        #expect(Set(plain.server.keys) == [
            "family", "address", "port", "forwarding", "weight", "active_connections", "inactive_connections",
        ])
        #expect(plain.service["stats"] == nil && plain.service["rates"] == nil)
        let stats = try firstServer(["-Ln", "--json", "--stats"])
        #expect(stats.service["stats"] != nil && stats.server["stats"] != nil && stats.server["rates"] == nil)
        #expect(try firstServer(["-Ln", "--json", "--rate"]).server["rates"] != nil)
        #expect(try firstServer(["-Ln", "--json", "--thresholds"]).server["upper_threshold"] as? Int == 0)
        #expect(try firstServer(["-Ln", "--json", "--persistent-conn"]).server["persistent_connections"] as? Int == 0)
        #expect(try firstServer(["-Ln", "--json", "--tun-info"]).server["tunnel"] != nil)
    }

    /// A document longer than the writer's buffer (64 KiB) is still one document.
    @Test func aLargeDocumentIsWholeAndValid() throws {
        var rules = ""
        for index in 0..<300 {
            rules += "-A -t 10.3.\(index / 250).\(index % 250 + 1):80 -s rr\n"
            for server in 1...4 { rules += "-a -t 10.3.\(index / 250).\(index % 250 + 1):80 -r 10.4.0.\(server) -m\n" }
        }
        let document = try #require(
            try Self.listing(["-Ln", "--json", "--stats", "--rate"], backend: ApplyTests.loaded(rules)) as? [String: Any])
        let services = try #require(document["services"] as? [[String: Any]])
        #expect(services.count == 300 && services.allSatisfy { ($0["real_servers"] as? [Any])?.count == 4 })
    }

    @Test func oneServiceTimeoutsDaemonsConnections() throws {
        let one = try #require(try Self.listing(["-L", "-t", "10.1.0.1:80", "-j"]) as? [String: Any])
        #expect((one["services"] as? [Any])?.count == 1)
        let timeouts = try #require(try Self.listing(["-L", "--timeout", "--json"]) as? [String: Any])
        #expect((timeouts["timeouts"] as? [String: Any])?["tcp_fin"] as? Int == 120)
        let daemons = try #require(try Self.listing(["-L", "--daemon", "--json"]) as? [String: Any])
        #expect(((daemons["daemons"] as? [[String: Any]])?.first)?["sync_id"] as? Int == 9)
        let backend = ApplyTests.loaded(Self.rules)
        backend.connectionLines = ["TCP 0A000001 9C40 0A010001 0050 0A020001 1F90 ESTABLISHED       899"]
        let connections = try #require(try Self.listing(["-Lc", "--json"], backend: backend) as? [String: Any])
        let first = try #require((connections["connections"] as? [[String: Any]])?.first)
        #expect((first["client"] as? [String: Any])?["port"] as? Int == 40000)
        #expect(first["expires"] as? Int == 899 && first["state"] as? String == "ESTABLISHED")
    }

    @Test func aFailedListingPrintsNoHalfDocument() {
        let result = ApplyTests.run(ApplyTests.loaded(Self.rules), ["-L", "-t", "10.9.9.9:80", "--json"])
        #expect(result.status == 1 && result.out.isEmpty && result.err == "No such service\n")
    }

    @Test func metricsPerRealServerAndPerService() {
        let backend = ApplyTests.loaded(Self.rules)
        let servers = ApplyTests.run(backend, ["-L", "--metrics"]).out
        #expect(servers.contains("# TYPE ipvsadm_backend_weight gauge\n"))
        #expect(servers.contains(
            "ipvsadm_backend_weight{local_address=\"10.1.0.1\",local_port=\"80\",local_mark=\"\",proto=\"TCP\",family=\"inet\","
                + "remote_address=\"10.2.0.1\",remote_port=\"8080\"} 3\n"))
        #expect(servers.contains(
            "ipvsadm_service_connections_total{local_address=\"\",local_port=\"0\",local_mark=\"7\",proto=\"FWM\",family=\"inet6\"} 0\n"))
        let services = ApplyTests.run(backend, ["-L", "--metrics=services"]).out
        #expect(!services.contains("remote_address"))
        #expect(services.contains("ipvsadm_service_backends{local_address=\"10.1.0.1\",local_port=\"80\",local_mark=\"\",proto=\"TCP\",family=\"inet\"} 1\n"))
        #expect(ApplyTests.run(backend, ["-L", "--metrics", "--json"]).err == "options conflicts in the list command\n")
    }
}
