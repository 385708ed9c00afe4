import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `--apply` with the health checker's state: a server it holds out keeps its weight.
@Suite struct HealthApplyTests {
    static let kernelRules = """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0
        -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1

        """
    /// The rules file: .1 to weight 5 (up: it takes it), .2 declared 2 (down: keeps 0), .3
    /// ramping (keeps the kernel's 1), .4 new and recorded down (the checker's 0).
    static let file = """
        -A -t 10.0.0.1:80 -s rr --check tcp
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2
        -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 4
        -a -t 10.0.0.1:80 -r 10.0.1.4:80 -m -w 1

        """

    static let state = HealthStateFile(
        pid: 7, heartbeat: 1_765_099_999, rules: "/etc/ipvsadm.rules",
        records: [
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.1:80", state: .up, declaredWeight: 3, weight: 3, since: 1),
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.2:80", state: .down, declaredWeight: 2, weight: 0, since: 1),
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.3:80", state: .ramping, declaredWeight: 4, weight: 1, since: 1),
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.4:80", state: .down, declaredWeight: 1, weight: 0, since: 1),
        ])

    static func setUp(state: HealthStateFile? = state, runDirectory: String? = nil) -> (InMemoryBackend, FakeHost) {
        let backend = InMemoryBackend()
        precondition(CLI.run(["-R"], on: backend, stdin: kernelRules).status == 0)
        let host = FakeHost()
        if let runDirectory { host.variables["IPVSADM_RUN_DIR"] = runDirectory }
        if let state {
            host.files["\(runDirectory ?? "/run/ipvsadm")/health-4026531840"] = Array(state.encode().utf8)
        }
        return (backend, host)
    }

    static let notes = """
        ipvsadm: --apply: -t 10.0.0.1:80 -r 10.0.1.2:80 is held out by ipvsadm-health (down): it keeps weight 0 (the kernel's), not the file's 2
        ipvsadm: --apply: -t 10.0.0.1:80 -r 10.0.1.3:80 is held out by ipvsadm-health (ramping): it keeps weight 1 (the kernel's), not the file's 4
        ipvsadm: --apply: -t 10.0.0.1:80 -r 10.0.1.4:80 is held out by ipvsadm-health (down): it keeps weight 0 (the checker's), not the file's 1

        """

    @Test func thePlanKeepsHeldOutWeightsAndSaysSo() {
        let (backend, host) = Self.setUp(runDirectory: "/tmp/run")
        let plan = CLI.run(["--apply", "--dry-run"], on: backend, stdin: Self.file, host: host)
        #expect(plan == Outcome(status: 0, stdout: """
            -a -t 10.0.0.1:80 -r 10.0.1.4:80 -m -w 0
            -e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5

            """, stderr: Self.notes))
    }

    @Test func theApplyKeepsThemAndVerifies() {
        let (backend, host) = Self.setUp()
        let outcome = CLI.run(["--apply"], on: backend, stdin: Self.file, host: host)
        #expect(outcome == Outcome(status: 0, stdout: "", stderr: Self.notes))
        #expect(CLI.run(["-Sn"], on: backend).stdout == """
            -A -t 10.0.0.1:80 -s rr
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0
            -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1
            -a -t 10.0.0.1:80 -r 10.0.1.4:80 -m -w 0

            """)
    }

    @Test func withoutAStateFileTheFileDecides() {
        let (backend, host) = Self.setUp(state: nil)
        let outcome = CLI.run(["--apply"], on: backend, stdin: Self.file, host: host)
        #expect(outcome == Outcome(status: 0, stdout: "", stderr: ""))
        #expect(CLI.run(["-Sn"], on: backend).stdout.contains("-r 10.0.1.2:80 -m -w 2\n"))
    }

    @Test func holdsOut() {
        func record(_ state: HealthStateName, _ declared: Int32, _ weight: Int32, sorry: Bool = false) -> HealthRecord {
            HealthRecord(service: "", server: "", state: state, declaredWeight: declared, weight: weight, since: 0, sorry: sorry)
        }
        #expect(!HealthView.holdsOut(record(.up, 2, 2)) && HealthView.holdsOut(record(.up, 2, 1)))
        #expect(!HealthView.holdsOut(record(.falling, 2, 2)) && !HealthView.holdsOut(record(.held, 2, 2)))
        #expect(!HealthView.holdsOut(record(.unchecked, 2, 2)))
        #expect(HealthView.holdsOut(record(.down, 2, 0)) && HealthView.holdsOut(record(.rising, 2, 0)))
        #expect(HealthView.holdsOut(record(.ramping, 2, 2)))
        #expect(!HealthView.holdsOut(record(.up, 1, 1, sorry: true)))
    }
}
