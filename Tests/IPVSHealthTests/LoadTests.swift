import Glibc
import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing
@testable import IPVSHealth

/// The daemon's loop with the real checks, 1000 TCP servers on the loopback interface checked
/// every second, against the in-memory kernel: CPU seconds per second of checking. Only with
/// IPVSADM_HEALTH_LOAD=SECONDS (a measurement, not a test of behaviour); the TCP check's mode
/// from IPVSADM_HEALTH_LOAD_MODE (syn, the default, or connect).
@Suite struct LoadTests {
    @Test(.enabled(if: getenv("IPVSADM_HEALTH_LOAD") != nil)) func thousandTCPServersEverySecond() throws {
        let seconds = Double(String(cString: getenv("IPVSADM_HEALTH_LOAD"))) ?? 10
        var listeners: [Int32] = []
        let mode = getenv("IPVSADM_HEALTH_LOAD_MODE").map { String(cString: $0) } ?? "syn"
        var rules = "-A -t 10.0.0.1:80 -s rr --check tcp,interval=1,timeout=1,mode=\(mode)\n"
        for _ in 0..<1000 {
            let (fd, port) = SystemProberTests.listener()
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            listeners.append(fd)
            rules += "-a -t 10.0.0.1:80 -r 127.0.0.1:\(port) -m -w 1\n"
        }
        defer { listeners.forEach { close($0) } }
        let backend = InMemoryBackend()
        let table = try HealthDeclarations.read(text: rules)
        for service in table.services {
            try backend.apply(.addService(service.service))
            for server in service.servers { try backend.apply(.addDestination(server.destination, to: service.service)) }
        }
        let clock = SystemHealthClock()
        let host = FakeHost()
        var lines: [String] = []
        let daemon = HealthDaemon(
            rulesPath: "/rules", backend: backend, prober: SystemProber(clock: clock, signals: []), clock: clock,
            host: host, manager: NoServiceManager(), log: { lines.append($0) }, readRules: { _ in rules })
        try daemon.start()
        // Accept and close what the checks connect, so the backlogs never fill (counted in the
        // figures: the servers' side of a connect).
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let userBefore = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let systemBefore = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        let end = clock.monotonic + seconds
        var turns = 0
        while clock.monotonic < end {
            _ = daemon.runOnce()
            turns += 1
            // Connections only: a SYN check leaves nothing to accept.
            if mode == "connect" && turns % 64 == 0 {
                for fd in listeners {
                    while true {
                        let client = accept(fd, nil, nil)
                        if client < 0 { break }
                        close(client)
                    }
                }
            }
        }
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 - userBefore
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6 - systemBefore
        let down = daemon.servers.filter { !$0.up }.count
        print("load (\(mode)): \(seconds) s, \(turns) turns, CPU user \(user / seconds) s/s, system \(system / seconds) s/s, \(down) down, \(lines.count) log lines")
        #expect(down == 0)
    }
}
