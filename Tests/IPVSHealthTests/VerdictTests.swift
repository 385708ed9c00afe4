import IPVS
import IPVSAdm
import Testing
@testable import IPVSHealth

private let fourServers = """
    -A -t 10.0.0.1:80 -s wrr --check tcp,interval=1,timeout=1,rise=2,fall=3
    -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
    -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 2
    -a -t 10.0.0.1:80 -r 10.0.1.3:80 -g -w 3
    -a -t 10.0.0.1:80 -r 10.0.1.4:80 -g -w 4

    """

@Suite struct VerdictTests {
    @Test func downAfterFallFailuresThenBackAfterRiseSuccesses() throws {
        let harness = try Harness(rules: fourServers)
        try harness.start()
        harness.run(for: 3)
        #expect(harness.state("10.0.1.1:80") == .up)
        harness.failing = ["10.0.1.1"]
        harness.run(for: 1.5)
        #expect(harness.state("10.0.1.1:80") == .falling)
        #expect(harness.weight("10.0.1.1:80") == 1)
        harness.run(for: 1)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.weight("10.0.1.1:80") == 0)
        #expect(harness.log.filter { $0.contains("down after") } == [
            "TCP 10.0.0.1:80 -> 10.0.1.1:80 down after 3 failures (connection refused): weight 1 -> 0"
        ])
        harness.failing = []
        harness.run(for: 1)
        #expect(harness.state("10.0.1.1:80") == .rising)
        harness.run(for: 1)
        #expect(harness.state("10.0.1.1:80") == .up)
        #expect(harness.weight("10.0.1.1:80") == 1)
        #expect(harness.log.last == "TCP 10.0.0.1:80 -> 10.0.1.1:80 up after 2 successes (connected): weight 0 -> 1")
        // One line per transition, never one per check.
        #expect(harness.log.count == 2)
    }

    @Test func checksAreSpreadOverTheInterval() throws {
        var rules = "-A -t 10.0.0.1:80 -s rr --check tcp,interval=1\n"
        for i in 1...200 { rules += "-a -t 10.0.0.1:80 -r 10.0.\(i / 250).\(i % 250 + 1):80 -g -w 1\n" }
        let harness = try Harness(rules: rules)
        try harness.start()
        harness.run(for: 2.95)
        // Spread over the second, started in turns of the loop that take what is due within
        // 20 ms: 200 servers 5 ms apart make 40 turns of 5 checks.
        let times = harness.prober.started.map(\.time).filter { $0 < 1000.97 }
        let turns = Dictionary(grouping: times, by: { $0 })
        #expect(turns.count >= 35 && turns.count <= 45)
        #expect(turns.values.allSatisfy { $0.count <= 5 })
        // Each server again a second later, never early by more than 20 ms.
        #expect(harness.prober.checks(of: "10.0.0.2").count == 3)
    }

    /// A result that wakes the loop just before the next check is due (within its 20 ms batch
    /// window) does not start that check early: a batch starts when one of its checks is due.
    /// 50 servers 200 ms apart whose checks never answer (timeout 190 ms).
    @Test func aWakeBetweenBatchesStartsNothingEarly() throws {
        var rules = "-A -t 10.0.0.1:80 -s rr --check tcp,interval=10,timeout=0.19\n"
        for i in 1...50 { rules += "-a -t 10.0.0.1:80 -r 10.0.1.\(i):80 -g -w 1\n" }
        let harness = try Harness(rules: rules)
        harness.prober.outcome = { _, _ in nil }
        try harness.start()
        harness.run(for: 5)
        let times = harness.prober.started.map(\.time)
        #expect(times.count == 25)
        for time in times {
            let slot = (time - 1000) / 0.2
            #expect(abs(slot - slot.rounded()) < 1e-6, "started at \(time)")
        }
    }

    @Test func retryIntervalWhileFailing() throws {
        let harness = try Harness(rules: """
            -A -t 10.0.0.1:80 -s rr --check tcp,interval=10,retry_interval=1,fall=3,threshold=1
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1

            """)
        harness.failing = ["10.0.1.1"]
        try harness.start()
        harness.run(for: 2.5)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.prober.checks(of: "10.0.1.1") == [1000, 1001, 1002])
        harness.run(for: 10)
        #expect(harness.prober.checks(of: "10.0.1.1").count == 4)
    }

    @Test func thresholdHoldsTheLatestDownIn() throws {
        let harness = try Harness(rules: fourServers)
        try harness.start()
        harness.run(for: 2)
        harness.failing = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
        harness.run(for: 5)
        let states = ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80", "10.0.1.4:80"].map { harness.state($0) }
        #expect(states.filter { $0 == .down }.count == 2)
        #expect(states.filter { $0 == .held }.count == 1)
        #expect(harness.weight("10.0.1.4:80") == 4)
        let held = ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"].first { harness.state($0) == .held }!
        #expect(harness.weight(held) != 0)
        #expect(harness.log.filter { $0.contains("held in by the threshold") }.count == 1)
        // Two of the three come back: the held one goes out in their place... no: with one
        // server back there is room for the held one to go out.
        harness.failing = ["10.0.1.2", "10.0.1.3"]
        harness.run(for: 3)
        #expect(harness.state("10.0.1.1:80") == .up)
        #expect(harness.weight("10.0.1.2:80") == 0)
        #expect(harness.weight("10.0.1.3:80") == 0)
    }

    @Test func rampClimbsOncePerSecond() throws {
        let harness = try Harness(rules: """
            -A -t 10.0.0.1:80 -s wrr --check tcp,interval=1,rise=1,fall=1,ramp=4
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 5
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 5

            """)
        try harness.start()
        harness.failing = ["10.0.1.1"]
        harness.run(for: 1.5)
        #expect(harness.weight("10.0.1.1:80") == 0)
        harness.failing = []
        var weights: [Int32] = []
        for _ in 0..<7 {
            harness.run(for: 1)
            weights.append(harness.weight("10.0.1.1:80")!)
        }
        #expect(weights.first == 1)
        #expect(weights.last == 5)
        #expect(weights == weights.sorted())
        #expect(Set(weights).count == 5)
        #expect(harness.state("10.0.1.1:80") == .up)
    }

    @Test func flappingNeverChangesTheWeight() throws {
        let harness = try Harness(rules: fourServers)
        try harness.start()
        var flip = false
        harness.prober.outcome = { target, _ in
            guard target.address.text == "10.0.1.1" else { return ProbeResult(ok: true, message: "connected", duration: 0) }
            flip.toggle()
            return ProbeResult(ok: flip, message: flip ? "connected" : "connection refused", duration: 0)
        }
        var changes = 0
        var last = harness.weight("10.0.1.1:80")
        for _ in 0..<60 {
            harness.run(for: 1)
            let weight = harness.weight("10.0.1.1:80")
            if weight != last { changes += 1 }
            last = weight
        }
        #expect(changes == 0)
        #expect(harness.log.isEmpty)
    }

    @Test func flappingTwoDownOneUpChangesAtMostAsRiseAndFallAllow() throws {
        let harness = try Harness(rules: fourServers)
        try harness.start()
        var count = 0
        // fail, fail, fail, ok, ok, ok: down once per 6 checks, up once per 6.
        harness.prober.outcome = { target, _ in
            guard target.address.text == "10.0.1.1" else { return ProbeResult(ok: true, message: "connected", duration: 0) }
            count += 1
            let ok = count % 6 >= 3
            return ProbeResult(ok: ok, message: ok ? "connected" : "connection refused", duration: 0)
        }
        var changes = 0
        var last = harness.weight("10.0.1.1:80")
        for _ in 0..<60 {
            harness.run(for: 1)
            let weight = harness.weight("10.0.1.1:80")
            if weight != last { changes += 1 }
            last = weight
        }
        // 60 checks: at most one change per 3 failures plus one per 2 successes after them.
        #expect(changes <= 20)
        #expect(changes >= 18)
    }

    @Test func sorryServerWhenEveryServerIsOut() throws {
        let harness = try Harness(rules: """
            -A -t 10.0.0.1:80 -s rr --check tcp,interval=1,rise=1,fall=1,threshold=1,sorry=10.0.9.9
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 1

            """)
        try harness.start()
        harness.failing = ["10.0.1.1", "10.0.1.2"]
        harness.run(for: 2)
        #expect(harness.weight("10.0.9.9:80") == 1)
        #expect(harness.stateFile?.records.contains { $0.sorry && $0.server == "10.0.9.9:80" } == true)
        harness.failing = ["10.0.1.1"]
        harness.run(for: 2)
        #expect(harness.weight("10.0.9.9:80") == nil)
        #expect(harness.weight("10.0.1.2:80") == 1)
    }
}
