import Glibc
import IPVS
import IPVSAdm
import Testing
@testable import IPVSHealth

private let twoServers = """
    -A -t 10.0.0.1:80 -s wrr --check tcp,interval=1,timeout=1,rise=2,fall=3
    -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
    -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 2

    """

@Suite struct DaemonTests {
    @Test func reloadKeepsTheStateOfUnchangedServers() throws {
        let harness = try Harness(rules: twoServers)
        try harness.start()
        harness.failing = ["10.0.1.1"]
        harness.run(for: 4)
        #expect(harness.state("10.0.1.1:80") == .down)
        // Same service, server and check: still down (the weight stays 0), counting afresh
        // nothing. A third server starts as start= says.
        harness.setRules(twoServers + "-a -t 10.0.0.1:80 -r 10.0.1.3:80 -g -w 1\n")
        try harness.backend.apply(.addDestination(Destination(address: IPAddress(ipv4: 0x0a00_0103), port: 80, weight: 1), to: VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80))))
        harness.prober.signals = [SIGHUP]
        harness.run(for: 0.5)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.weight("10.0.1.1:80") == 0)
        #expect(harness.state("10.0.1.3:80") == .up)
        let reloading = try #require(harness.manager.messages.firstIndex { $0.hasPrefix("RELOADING=1") })
        #expect(harness.manager.messages[reloading...].contains { $0.hasPrefix("READY=1") })
        // A changed check is a new server: it starts per start= (up), but its kernel weight 0
        // with a declared weight above 0 starts it down.
        harness.setRules(twoServers.replacing("-w 1\n", with: "-w 1 --check tcp,port=81\n"))
        harness.prober.signals = [SIGHUP]
        harness.run(for: 0.5)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.state("10.0.1.3:80") == nil)
        #expect(!harness.prober.forgotten.isEmpty)
    }

    @Test func aNewWeightKeepsTheStateAndRenewsTheCheck() throws {
        let harness = try Harness(rules: twoServers)
        harness.failing = ["10.0.1.1"]
        try harness.start()
        harness.run(for: 4)
        #expect(harness.state("10.0.1.1:80") == .down)
        let id = try #require(harness.daemon.servers.first?.id)
        harness.setRules(twoServers.replacing("-r 10.0.1.1:80 -g -w 1", with: "-r 10.0.1.1:80 -g -w 3"))
        harness.prober.signals = [SIGHUP]
        harness.run(for: 0.1)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.daemon.servers.first?.id == id)
        #expect(harness.daemon.servers.first?.declaredWeight == 3)
        // The prober's cache (made with IPVS_WEIGHT=1) is dropped.
        #expect(harness.prober.forgotten == [id])
        harness.failing = []
        harness.run(for: 2.5)
        #expect(harness.weight("10.0.1.1:80") == 3)
    }

    @Test func badReloadKeepsThePreviousDeclarations() throws {
        let harness = try Harness(rules: twoServers)
        try harness.start()
        harness.setRules("-A -t 10.0.0.1:80 --check tcp,intervall=1\n")
        harness.prober.signals = [SIGHUP]
        harness.run(for: 1)
        #expect(harness.daemon.servers.count == 2)
        #expect(harness.log.contains { $0.hasPrefix("reload refused") && $0.contains("line 1") })
    }

    @Test func badDeclarationsAtStartChangeNothing() throws {
        let harness = try Harness(rules: twoServers)
        harness.setRules("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 --check tcp,intervall=1\n")
        #expect(throws: HealthStartError.self) { try harness.start() }
        do throws(HealthStartError) {
            try harness.start()
        } catch {
            #expect(error.message.hasPrefix("/etc/ipvsadm.rules: line 2: "))
        }
        #expect(harness.host.files.isEmpty)
        #expect(harness.manager.messages.isEmpty)
    }

    @Test func aRestartNeverBringsADeadServerBack() throws {
        let first = try Harness(rules: twoServers)
        try first.start()
        first.failing = ["10.0.1.1"]
        first.run(for: 4)
        #expect(first.weight("10.0.1.1:80") == 0)
        let state = try #require(first.host.text(Harness.statePath))
        #expect(first.stateFile?.records.first?.state == .down)

        // --apply put the declared weight back (it should not, but a restart must not trust it).
        let second = try Harness(rules: twoServers, state: state)
        second.failing = ["10.0.1.1"]
        try second.start()
        #expect(second.state("10.0.1.1:80") == .down)
        second.run(for: 0.1)
        #expect(second.weight("10.0.1.1:80") == 0)
        #expect(second.log.contains { $0.contains("starts down (recorded down)") })
        // A server the kernel has at weight 0 while its declared weight is above 0 starts down
        // too, state file or not.
        let third = try Harness(rules: twoServers, kernel: twoServers.replacing("-w 1", with: "-w 0"))
        try third.start()
        #expect(third.state("10.0.1.1:80") == .down)
        third.run(for: 0.5)
        #expect(third.state("10.0.1.1:80") == .rising)
        third.run(for: 1)
        #expect(third.weight("10.0.1.1:80") == 1)
    }

    @Test func startDownWaitsForRiseSuccesses() throws {
        let harness = try Harness(rules: """
            -A -t 10.0.0.1:80 -s wrr --check tcp,interval=1,rise=3,start=down,threshold=1
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 2

            """)
        try harness.start()
        harness.run(for: 0.1)
        #expect(harness.weight("10.0.1.1:80") == 0)
        #expect(harness.weight("10.0.1.2:80") == 0)
        #expect(harness.log.filter { $0.contains("starts down (start=down), needs 3 successes") }.count == 2)
        harness.run(for: 2.5)
        #expect(harness.weight("10.0.1.1:80") == 1)
        #expect(harness.weight("10.0.1.2:80") == 2)
    }

    @Test func aRestartResumesARamp() throws {
        let rules = """
            -A -t 10.0.0.1:80 -s wrr --check tcp,interval=1,ramp=10,rise=1,fall=1
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 11
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 1

            """
        let first = try Harness(rules: rules)
        first.failing = ["10.0.1.1"]
        try first.start()
        first.run(for: 1.5)
        first.failing = []
        first.run(for: 5)
        let weight = try #require(first.weight("10.0.1.1:80"))
        #expect(weight > 1 && weight < 11)
        #expect(first.state("10.0.1.1:80") == .ramping)
        first.daemon.writeState()
        let state = try #require(first.host.text(Harness.statePath))
        let second = try Harness(rules: rules, kernel: rules.replacing("-w 11", with: "-w \(weight)"), state: state)
        try second.start()
        #expect(second.state("10.0.1.1:80") == .ramping)
        second.run(for: 1.5)
        let resumed = try #require(second.weight("10.0.1.1:80"))
        #expect(resumed >= weight && resumed <= weight + 2)
        second.run(for: 10)
        #expect(second.weight("10.0.1.1:80") == 11)
        #expect(second.state("10.0.1.1:80") == .up)
    }

    @Test func theStateFileIsWrittenAtTransitionsAndEveryFiveSeconds() throws {
        let harness = try Harness(rules: twoServers)
        try harness.start()
        harness.run(for: 0.5)
        let first = try #require(harness.stateFile)
        #expect(first.records.count == 2)
        #expect(first.rules == "/etc/ipvsadm.rules")
        harness.run(for: 6)
        let second = try #require(harness.stateFile)
        #expect(second.heartbeat > first.heartbeat + 4)
        let record = try #require(second.records.first)
        #expect(record.service == "TCP 10.0.0.1:80")
        #expect(record.server == "10.0.1.1:80")
        #expect(record.state == .up)
        #expect(record.ok == true)
        #expect(record.message == "connected")
        #expect(record.check == "tcp")
    }

    @Test func aHeldLockDelaysTheChange() throws {
        let harness = try Harness(rules: twoServers)
        try harness.start()
        harness.host.lockHeldElsewhere = true
        harness.failing = ["10.0.1.1"]
        harness.run(for: 4)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.weight("10.0.1.1:80") == 1)
        harness.host.lockHeldElsewhere = false
        harness.run(for: 0.5)
        #expect(harness.weight("10.0.1.1:80") == 0)
        #expect(harness.host.lockPaths.dropFirst().allSatisfy { $0 == "/run/test/lock-4026531840" })
        // Only the one-checker lock stays held.
        #expect(harness.host.heldLocks == [Harness.statePath + ".lock"])
    }

    @Test func oneCheckerPerTable() throws {
        let harness = try Harness(rules: twoServers)
        harness.host.lockHeldElsewhere = true
        do throws(HealthStartError) {
            try harness.start()
            Issue.record("a second checker started")
        } catch {
            #expect(error.message == "another ipvsadm-health checks this table (/run/test/health-4026531840.lock is locked)")
        }
        #expect(harness.manager.messages.isEmpty)
    }

    @Test func aServerMissingFromTheKernelIsNotTouched() throws {
        let harness = try Harness(rules: twoServers, kernel: """
            -A -t 10.0.0.1:80 -s wrr
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 2

            """)
        harness.failing = ["10.0.1.1"]
        try harness.start()
        harness.run(for: 5)
        #expect(harness.state("10.0.1.1:80") == .down)
        #expect(harness.weight("10.0.1.1:80") == nil)
        #expect(harness.log.filter { $0.contains("not in the kernel's table") }.count == 1)
    }

    @Test func otherFieldsAreKeptAsTheKernelHasThem() throws {
        let harness = try Harness(rules: twoServers, kernel: """
            -A -t 10.0.0.1:80 -s wrr
            -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1 -x 100 -y 10
            -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 2

            """)
        harness.failing = ["10.0.1.1"]
        try harness.start()
        harness.run(for: 4)
        let service = try harness.backend.services()[0]
        let destination = try #require(try harness.backend.destinations(of: service).first { $0.port == 80 && $0.address == IPAddress(ipv4: 0x0a00_0101) })
        #expect(destination.weight == 0)
        #expect(destination.upperThreshold == 100)
        #expect(destination.lowerThreshold == 10)
    }

    @Test func termLeavesTheWeights() throws {
        let harness = try Harness(rules: twoServers)
        try harness.start()
        harness.failing = ["10.0.1.1"]
        harness.run(for: 4)
        harness.prober.signals = [SIGTERM]
        var status: Int32?
        while status == nil { status = harness.daemon.runOnce() }
        #expect(status == 0)
        #expect(harness.weight("10.0.1.1:80") == 0)
        #expect(harness.manager.messages.last == "STOPPING=1")
    }

    @Test func theWatchdogIsPingedOnlyWhenChecksGoOutOnTime() throws {
        let harness = try Harness(rules: twoServers, watchdog: 10)
        try harness.start()
        harness.run(for: 12)
        let pings = harness.manager.messages.filter { $0 == "WATCHDOG=1" }.count
        #expect(pings >= 2)
        // A starved loop: the clock jumps 8 s between two turns.
        harness.clock.monotonic += 8
        harness.manager.messages.removeAll()
        _ = harness.daemon.runOnce()
        #expect(!harness.manager.messages.contains("WATCHDOG=1"))
    }

    @Test func theWatchdogStopsWhenChecksNeverEnd() throws {
        let harness = try Harness(rules: twoServers, watchdog: 10)
        try harness.start()
        harness.run(for: 6)
        harness.prober.lost = ["10.0.1.1"]
        // Lost at its next check (6 s); overdue 5 s past its timeout.
        harness.run(for: 7)
        harness.manager.messages.removeAll()
        harness.run(for: 12)
        #expect(!harness.manager.messages.contains("WATCHDOG=1"))
        #expect(harness.log.contains { $0.contains("far past their timeout") })
    }

    @Test func commandLine() throws {
        #expect(try HealthCommandLine.parse(["--rules", "/tmp/r", "--netns", "blue"]).get()
            == HealthCommandLine(mode: .run, rules: "/tmp/r", namespace: "blue"))
        #expect(try HealthCommandLine.parse(["--check-config", "--rules=/tmp/r"]).get().mode == .checkConfig)
        #expect(throws: HealthCommandLine.UsageError.self) { try HealthCommandLine.parse(["--bogus"]).get() }
        #expect(throws: HealthCommandLine.UsageError.self) { try HealthCommandLine.parse(["--rules"]).get() }
    }

    @Test func aRulesFileOthersCanWriteIsRefused() throws {
        let path = "/tmp/ipvsadm-health-test-\(getpid()).rules"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(write(fd, "-A -t 10.0.0.1:80\n", 18) == 18)
        close(fd)
        chmod(path, 0o644)
        #expect(try HealthDaemon.readRulesFile(path) == "-A -t 10.0.0.1:80\n")
        chmod(path, 0o664)
        #expect(throws: HealthStartError.self) { try HealthDaemon.readRulesFile(path) }
        chmod(path, 0o646)
        #expect(throws: HealthStartError.self) { try HealthDaemon.readRulesFile(path) }
        if geteuid() == 0 {
            chmod(path, 0o644)
            chown(path, 1, 1)
            #expect(throws: HealthStartError.self) { try HealthDaemon.readRulesFile(path) }
        }
    }
}
