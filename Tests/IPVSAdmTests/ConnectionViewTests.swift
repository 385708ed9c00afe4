import Foundation
import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// `-Lc`'s filters and summary, judged against the unfiltered `-Lnc` listing of the same table
/// (the filtered listing is its lines that match, the summary its lines counted), and the
/// fast reading of the kernel's lines against the general one.
@Suite struct ConnectionViewTests {
    /// A table in the kernel's format: IPv4 and IPv6, TCP and UDP, a few states, persistence.
    static let lines: [String] = {
        var lines: [String] = []
        let states = ["ESTABLISHED", "SYN_RECV", "FIN_WAIT", "TIME_WAIT"]
        for i in 0..<120 {
            let client = String(format: "%08X", 0x0A00_0000 | UInt32(i % 7) << 8 | UInt32(i))
            let vip = i % 3 == 0 ? "AC100001" : "AC100002"
            let rip = String(format: "%08X", 0xAC11_0000 | UInt32(i % 4))
            let port = String(format: "%04X", 40000 + i)
            if i % 5 == 0 {
                lines.append("UDP \(client) \(port) \(vip) 0035 \(rip) 0035 UDP         \(String(format: "%7d", 100 + i))")
            } else {
                let pe = i % 11 == 0 ? " sip abc\(i)" : ""
                lines.append(
                    "TCP \(client) \(port) \(vip) 0050 \(rip) 1F90 \(states[i % 4].padding(toLength: 11, withPad: " ", startingAt: 0)) "
                        + String(format: "%7d", 10 + 7 * i) + pe)
            }
        }
        lines.append("TCP 2001:0db8:0000:0000:0000:0000:0000:0001 C350 2001:0db8:0000:0000:0000:0000:0000:0080 0050 2001:0db8:0000:0000:0000:0000:0001:0001 0050 ESTABLISHED     899")
        return lines
    }()

    private func run(_ arguments: [String], lines: [String] = Self.lines) -> Outcome {
        let backend = InMemoryBackend()
        backend.connectionLines = lines
        return CLI.run(arguments, on: backend)
    }

    /// The rows of the unfiltered listing, split into columns.
    private var rows: [[Substring]] {
        run(["-Lnc"]).stdout.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ") }
    }

    private func filtered(_ options: [String], keep: ([Substring]) -> Bool) {
        let all = run(["-Lnc"]).stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let expected = (all.prefix(2) + all.dropFirst(2).filter { !$0.isEmpty && keep($0.split(separator: " ")) })
            .joined(separator: "\n") + "\n"
        let result = run(["-Lnc"] + options)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout == expected, "\(options)")
        #expect(expected.split(separator: "\n").count > 2, "the filter selects something: \(options)")
        #expect(expected.split(separator: "\n").count < all.count - 1, "and leaves something out: \(options)")
    }

    @Test func filtersSelectTheLinesOfTheFullListing() {
        filtered(["--conn-state", "syn_recv"]) { $0[2] == "SYN_RECV" }
        filtered(["--conn-service", "172.16.0.1:80"]) { $0[4] == "172.16.0.1:80" }
        filtered(["--conn-service", "172.16.0.2"]) { $0[4].hasPrefix("172.16.0.2:") }
        filtered(["--conn-server", "172.17.0.3:8080"]) { $0[5] == "172.17.0.3:8080" }
        filtered(["--conn-server", "[2001:db8::1:1]:80"]) { $0[5] == "[2001:db8::1:1]:80" }
        filtered(["--conn-client", "10.0.3.0/24"]) { $0[3].hasPrefix("10.0.3.") }
        filtered(["--conn-client", "2001:db8::/32"]) { $0[3].hasPrefix("[2001:db8::") }
        filtered(["--conn-client", "10.0.2.9"]) { $0[3].hasPrefix("10.0.2.9:") }
        filtered(["--conn-state", "ESTABLISHED", "--conn-service", "172.16.0.2:80", "--conn-client", "10.0.0.0/22"]) {
            $0[2] == "ESTABLISHED" && $0[4] == "172.16.0.2:80" && ["0", "1", "2", "3"].contains($0[3].split(separator: ".")[2])
        }
    }

    @Test func filteredJSONHoldsTheSameConnections() throws {
        let result = run(["-Lc", "--json", "--conn-state", "FIN_WAIT"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let connections = try #require(document["connections"] as? [[String: Any]])
        #expect(connections.count == rows.filter { $0[2] == "FIN_WAIT" }.count)
        #expect(connections.allSatisfy { $0["state"] as? String == "FIN_WAIT" })
    }

    /// The groups, counted from the full listing's rows: service, real server, state.
    private func counted(_ rows: [[Substring]]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in rows { counts["\(row[0]) \(row[4]) \(row[5]) \(row[2])", default: 0] += 1 }
        return counts
    }

    @Test func summaryCountsTheListing() {
        for filter in [[], ["--conn-service", "172.16.0.1:80"]] {
            let result = run(["-Lnc", "--conn-summary"] + filter)
            #expect(result.status == 0 && result.stderr.isEmpty)
            let lines = result.stdout.split(separator: "\n")
            let groups = lines.dropFirst(2).map { $0.split(separator: " ") }
            var counts: [String: Int] = [:]
            for g in groups { counts["\(g[0]) \(g[1]) \(g[2]) \(g[3])"] = Int(g[4]) }
            let expected = counted(rows.filter { filter.isEmpty || $0[4] == "172.16.0.1:80" })
            #expect(counts == expected)
            let total = expected.values.reduce(0, +)
            #expect(lines.first == "IPVS connection summary: \(total) connections in \(expected.count) groups")
        }
    }

    @Test func summaryExpiriesAreTheExtremesOfTheGroup() {
        let result = run(["-Lnc", "--conn-summary", "--conn-state", "UDP"])
        let group = rows.filter { $0[2] == "UDP" && $0[4] == "172.16.0.1:53" && $0[5] == "172.17.0.1:53" }
        let expiries = group.map { String($0[1]) }.sorted()
        let line = result.stdout.split(separator: "\n").first { $0.contains("172.16.0.1:53") && $0.contains("172.17.0.1:53") }
        let words = line?.split(separator: " ") ?? []
        #expect(words.count == 7)
        #expect(words.suffix(2) == [Substring(expiries.first ?? ""), Substring(expiries.last ?? "")])
    }

    @Test func summaryAsJSON() throws {
        let result = run(["-Lc", "--json", "--conn-summary"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let summary = try #require(document["connection_summary"] as? [String: Any])
        #expect(summary["connections"] as? Int == Self.lines.count)
        let groups = try #require(summary["groups"] as? [[String: Any]])
        var counts: [String: Int] = [:]
        for g in groups {
            let virtual = try #require(g["virtual"] as? [String: Any])
            let destination = try #require(g["destination"] as? [String: Any])
            func end(_ e: [String: Any]) -> String {
                let address = e["address"] as? String ?? ""
                return (address.contains(":") ? "[\(address)]" : address) + ":\(e["port"] as? Int ?? -1)"
            }
            let key = "\((g["protocol"] as? String ?? "").uppercased()) \(end(virtual)) \(end(destination)) \(g["state"] as? String ?? "")"
            counts[key] = g["connections"] as? Int
            #expect((g["expires_soonest"] as? Int ?? 0) <= (g["expires_latest"] as? Int ?? -1))
        }
        #expect(counts == counted(rows))
    }

    @Test func kernelLinesReadFastAsTheGeneralReadingReadsThem() {
        // A non-ASCII twelfth word sends a line to the general reading; the first eleven are
        // the same, so both readings must list it the same.
        // Some lines with a tab, a double space or a short port among the six fixed-width
        // words after the protocol (read word by word, not at fixed places).
        var lines = Self.lines.map { $0 + (($0.split(separator: " ").count == 9) ? " x y" : "") }
        for index in stride(from: 1, to: lines.count, by: 9) {
            var words = lines[index].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            switch index % 3 {
            case 0: words[2] = "\t" + words[2]
            case 1: words[4] = " " + words[4]
            default: words[6] = String(words[6].dropFirst())
            }
            lines[index] = words.joined(separator: " ")
        }
        let general = lines.map { $0 + " \u{e9}" }
        for options in [["-Lnc"], ["-Lnc", "--persistent-conn"], ["-Lc", "--json"]] {
            let fast = run(options, lines: lines)
            #expect(fast.stdout == run(options, lines: general).stdout)
            #expect(fast.status == 0)
        }
    }

    @Test func theTableIsCutAsFgetsCutsItWhateverTheBlocks() {
        // Lines longer than fgets' 255 bytes come in pieces, each listed as a line.
        let lines = Self.lines + [Self.lines[1] + " " + String(repeating: "Z", count: 600), Self.lines[2]]
        func listing(_ blockSize: Int, _ options: [String]) -> Outcome {
            let backend = InMemoryBackend()
            backend.connectionLines = lines
            backend.connectionBlockSize = blockSize
            return CLI.run(options, on: backend)
        }
        for options in [["-Lnc"], ["-Lnc", "--conn-summary"]] {
            let whole = listing(.max, options)
            #expect(whole.status == 0)
            if options.count == 1 { #expect(whole.stdout.split(separator: "\n").count == 2 + lines.count + 2) }
            for size in [1, 2, 7, 254, 255, 256, 1000] {
                #expect(listing(size, options) == whole, "blocks of \(size)")
            }
        }
    }

    @Test(arguments: [
        (["--conn-state", "ESTABLISHED"], "options conflicts in the list command"),
        (["-c", "--conn-summary", "--persistent-conn"], "options conflicts in the list command"),
        (["-c", "--conn-service", "10.0.0.300"], "illegal connection service address[:port] `10.0.0.300' specified"),
        (["-c", "--conn-server", "10.0.0.1:99999"], "illegal connection real server address[:port] `10.0.0.1:99999' specified"),
        (["-c", "--conn-client", "10.0.0.0/33"], "illegal connection client prefix `10.0.0.0/33' specified"),
        (["-c", "--conn-state", ""], "illegal connection state `' specified"),
    ])
    func badViewsAreRefused(_ options: [String], _ message: String) {
        let result = run(["-Ln"] + options)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
