import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `-L --health`, and the checker's state in `--json` and `--metrics` (Docs/Health.md).
@Suite struct HealthListingTests {
    static let rules = """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0
        -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1
        -A -f 7 -6 -s wlc
        -a -f 7 -6 -r [2001:db8::1]:0 -g -w 1

        """

    static let statePath = "/run/ipvsadm/health-4026531840"

    static let state = HealthStateFile(
        pid: 4242, heartbeat: 1_765_099_998.5, rules: "/etc/ipvsadm.rules",
        records: [
            HealthRecord(
                service: "TCP 10.0.0.1:80", server: "10.0.1.1:80", state: .up, declaredWeight: 3, weight: 3,
                since: 1_765_099_000, checked: 1_765_099_998, ok: true, duration: 0.0015, check: "tcp"),
            HealthRecord(
                service: "TCP 10.0.0.1:80", server: "10.0.1.2:80", state: .down, declaredWeight: 2, weight: 0,
                since: 1_765_099_867, checked: 1_765_099_997.25, ok: false, duration: 3,
                message: "connection refused", check: "http"),
            HealthRecord(
                service: "FWM 7 IPv6", server: "[2001:db8::1]:0", state: .rising, declaredWeight: 1, weight: 1,
                since: 1_765_096_400, check: "tcp"),
        ])

    static func backend() -> InMemoryBackend {
        let backend = InMemoryBackend()
        precondition(CLI.run(["-R"], on: backend, stdin: rules).status == 0)
        return backend
    }

    static func host(state: HealthStateFile? = state, running: Bool = true) -> FakeHost {
        let host = FakeHost()
        host.time = 1_765_100_000
        if let state { host.files[statePath] = Array(state.encode().utf8) }
        if running { host.processes = [4242] }
        return host
    }

    @Test func ages() {
        #expect(HealthView.age(0) == "0s" && HealthView.age(59.9) == "59s" && HealthView.age(133) == "2m13s")
        #expect(HealthView.age(3600 + 120) == "1h02m" && HealthView.age(3 * 86400 + 4 * 3600) == "3d04h")
        #expect(HealthView.age(-5) == "0s")
    }

    @Test func textColumns() {
        let outcome = CLI.run(["-Ln", "--health"], on: Self.backend(), stdin: "", host: Self.host())
        #expect(outcome.stderr == "")
        #expect(outcome.stdout == """
            IP Virtual Server version 1.2.1 (size=4096)
            Health: ipvsadm-health pid 4242 running, state written 1s ago
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  State     Since    Result
            TCP  10.0.0.1:80 rr
              -> 10.0.1.1:80                  Masq    3      0          0          up        16m40s   ok
              -> 10.0.1.2:80                  Masq    0      0          0          down      2m13s    failed: connection refused
              -> 10.0.1.3:80                  Masq    1      0          0          -         -       
            FWM  7 IPv6 wlc
              -> [2001:db8::1]:0              Route   1      0          0          rising    1h00m    -

            """)
    }

    /// In every table form, the health columns of the title are over those of the rows.
    @Test(arguments: [[], ["--stats"], ["--rate"], ["--thresholds"], ["--persistent-conn"], ["--tun-info"]])
    func columnsAligned(_ options: [String]) {
        let outcome = CLI.run(["-Ln", "--health"] + options, on: Self.backend(), stdin: "", host: Self.host())
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        func column(of text: String, in line: String) -> Int? {
            line.range(of: text).map { line.distance(from: line.startIndex, to: $0.lowerBound) }
        }
        let title = column(of: " State     Since    Result", in: lines[3])
        #expect(title != nil)
        #expect(column(of: " up        16m40s   ok", in: lines[5]) == title)
        #expect(column(of: " down      2m13s    failed", in: lines[6]) == title)
    }

    @Test func textWithoutAChecker() {
        // Said on standard output: a listing that worked writes nothing on standard error.
        let outcome = CLI.run(["-Ln", "--health"], on: Self.backend(), stdin: "", host: Self.host(state: nil))
        #expect(outcome.stderr == "" && outcome.status == 0)
        #expect(outcome.stdout.split(separator: "\n")[1]
            == "Health: no checker state (/run/ipvsadm/health-4026531840): is ipvsadm-health running?")
        #expect(outcome.stdout.contains("  -> 10.0.1.1:80                  Masq    3      0          0          -         -       \n"))
        let dead = CLI.run(["-L", "-n", "-t", "10.0.0.1:80", "--health"], on: Self.backend(), stdin: "", host: Self.host(running: false))
        #expect(dead.stderr == "")
        #expect(dead.stdout.hasPrefix("Health: ipvsadm-health pid 4242 NOT RUNNING, state written 1s ago\nProt LocalAddress:Port"))
    }

    @Test func listingsWithoutHealthAreUnchanged() {
        let backend = Self.backend()
        for arguments in [["-Ln"], ["-Ln", "--stats"], ["-L", "-n", "-t", "10.0.0.1:80"]] {
            #expect(CLI.run(arguments, on: backend, stdin: "", host: Self.host())
                == CLI.run(arguments, on: backend, stdin: "", host: Self.host(state: nil)))
        }
        // JSON and metrics carry the health only when there is a state file.
        let json = CLI.run(["-Ln", "--json"], on: backend, stdin: "", host: Self.host(state: nil)).stdout
        #expect(!json.contains("health") && !json.contains("checker"))
        let metrics = CLI.run(["-Ln", "--metrics"], on: backend, stdin: "", host: Self.host(state: nil)).stdout
        #expect(!metrics.contains("ipvs_"))
    }

    @Test func json() {
        let outcome = CLI.run(["-Ln", "--json"], on: Self.backend(), stdin: "", host: Self.host())
        #expect(outcome.stdout.hasPrefix(
            #"{"version":"1.2.1","connection_table_size":4096,"checker":{"pid":4242,"heartbeat":1765099998.500,"running":true},"services":["#))
        #expect(outcome.stdout.contains(
            #""weight":0,"active_connections":0,"inactive_connections":0,"health":{"state":"down","since":1765099867.000,"checked":1765099997.250,"ok":false,"duration":3.000000,"message":"connection refused","check":"http","declared_weight":2}}"#))
        #expect(outcome.stdout.contains(
            #""weight":1,"active_connections":0,"inactive_connections":0,"health":{"state":"rising","since":1765096400.000,"message":"","check":"tcp","declared_weight":1}}"#))
        #expect(outcome.stdout.contains(#""address":"10.0.1.3","port":80,"forwarding":"masq","weight":1,"active_connections":0,"inactive_connections":0}"#))
    }

    @Test func metrics() {
        let text = CLI.run(["-Ln", "--metrics"], on: Self.backend(), stdin: "", host: Self.host()).stdout
        let labels = #"local_address="10.0.0.1",local_port="80",local_mark="",proto="TCP",family="inet""#
        #expect(text.contains("# TYPE ipvs_real_server_up gauge\n"
            + "ipvs_real_server_up{\(labels),remote_address=\"10.0.1.2\",remote_port=\"80\"} 0\n"
            + "ipvs_real_server_up{\(labels),remote_address=\"10.0.1.1\",remote_port=\"80\"} 1\n"
            + "ipvs_real_server_up{local_address=\"\",local_port=\"0\",local_mark=\"7\",proto=\"FWM\",family=\"inet6\",remote_address=\"2001:db8::1\",remote_port=\"0\"} 0\n"))
        #expect(text.contains("ipvs_health_check_timestamp_seconds{\(labels),remote_address=\"10.0.1.2\",remote_port=\"80\"} 1765099997.250\n"))
        #expect(text.contains("ipvs_health_check_duration_seconds{\(labels),remote_address=\"10.0.1.1\",remote_port=\"80\"} 0.001500\n"))
        #expect(text.hasSuffix("# TYPE ipvs_health_checker_heartbeat_timestamp_seconds gauge\n"
            + "ipvs_health_checker_heartbeat_timestamp_seconds 1765099998.500\n"))
        let summed = CLI.run(["-Ln", "--metrics=services"], on: Self.backend(), stdin: "", host: Self.host()).stdout
        #expect(!summed.contains("ipvs_real_server_up") && summed.contains("ipvs_health_checker_heartbeat_timestamp_seconds 1765099998.500\n"))
    }

    @Test func healthConflictsWithOtherListings() {
        let outcome = CLI.run(["-Ln", "--health", "-c"], on: Self.backend(), stdin: "", host: Self.host())
        #expect(outcome.status == 2 && outcome.stderr == "options conflicts in the list command\n")
    }
}
