import Foundation
import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `--watch`: the model (rates from two snapshots, sort, filter, keys), its lines, and the
/// loop driven by a fake clock, a kernel whose counters grow, and a scripted terminal.
@Suite struct WatchTests {
    static let rules = """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 3
        -A -u 10.0.0.2:53 -s rr
        -a -u 10.0.0.2:53 -r 10.0.1.3:53 -g -w 2

        """

    /// The in-memory kernel, with every counter of every service and real server growing at
    /// each read of the table by `step` times its position (1, 2, ...): known rates.
    final class GrowingKernel: IPVSBackend {
        let inner: InMemoryBackend
        var reads = 0
        var deleteAfterReads: Int?

        init(_ inner: InMemoryBackend) { self.inner = inner }

        func info() throws(IPVSError) -> IPVSInfo { try inner.info() }
        func apply(_ modification: Modification) throws(IPVSError) { try inner.apply(modification) }
        func services() throws(IPVSError) -> [VirtualService] {
            reads += 1
            if let after = deleteAfterReads, reads > after, let first = try inner.services().first {
                try inner.apply(.deleteService(first))
            }
            return try inner.services().enumerated().map { index, service in
                var service = service
                service.stats = Self.stats(reads * 10 * (index + 1))
                return service
            }
        }
        func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService { try inner.service(key) }
        func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
            try inner.destinations(of: service).enumerated().map { index, d in
                var d = d
                d.stats = Self.stats(reads * (index + 1))
                d.activeConnections = UInt32(index + 5)
                return d
            }
        }
        func timeouts() throws(IPVSError) -> Timeouts { try inner.timeouts() }
        func daemons() throws(IPVSError) -> [SyncDaemon] { try inner.daemons() }
        func connectionTable() throws(Errno) -> String { try inner.connectionTable() }

        static func stats(_ n: Int) -> Statistics {
            var s = Statistics()
            s.connections = UInt64(n)
            s.inPackets = UInt64(n * 10)
            s.outPackets = 0
            s.inBytes = UInt64(n * 1000)
            s.connectionRate = 77
            return s
        }
    }

    /// Standard output that says it is a terminal, or not, and stops taking writes (a reader
    /// that went away) after `frames` flushes.
    final class Output: OutputSink {
        var text = ""
        var flushes = 0
        let frames: Int
        let isTerminal: Bool
        init(frames: Int, terminal: Bool = false) {
            self.frames = frames
            isTerminal = terminal
        }
        func write(utf8 bytes: UnsafeBufferPointer<UInt8>) { text += String(decoding: bytes, as: UTF8.self) }
        func flush() -> Errno? {
            flushes += 1
            return flushes >= frames ? .brokenPipe : nil
        }
    }

    /// A terminal that answers `nextKey` from a script (nil: the wait passed), and keeps what
    /// it was asked to draw.
    final class ScriptedTerminal: WatchTerminal {
        var keys: [WatchKey?]
        var size: (rows: Int, columns: Int) = (24, 80)
        var frames: [[WatchLine]] = []
        var waits: [Double] = []
        var stopped = false
        let clock: FakeClock
        init(_ keys: [WatchKey?], clock: FakeClock) {
            self.keys = keys
            self.clock = clock
        }
        func draw(_ lines: [WatchLine]) { frames.append(lines) }
        func nextKey(waitingUpTo seconds: Double) -> WatchKey? {
            waits.append(seconds)
            guard !keys.isEmpty else { return .character("q") }
            let key = keys.removeFirst()
            if key == nil { clock.sleep(seconds: seconds) }
            return key
        }
        func stop() { stopped = true }
    }

    static func run(
        _ arguments: [String], kernel: GrowingKernel, stdout: Output, clock: FakeClock = FakeClock(),
        host: FakeHost = FakeHost(), terminal: (() -> (any WatchTerminal)?)? = nil
    ) -> (status: Int32, err: String) {
        let stderr = BufferSink()
        let status = IPVSAdm.run(
            program: "ipvsadm", arguments: arguments, stdin: TextSource(""), stdout: stdout, stderr: stderr,
            resolver: HostsResolver.shared, clock: clock, host: host, terminal: terminal,
            openBackend: { _ throws(IPVSError) in kernel })
        return (status, stderr.text)
    }

    // MARK: The model

    @Test func ratesAreTheCountersDifferenceOverTheSeconds() throws {
        let rates = try #require(WatchRates(from: GrowingKernel.stats(10), to: GrowingKernel.stats(30), seconds: 2))
        #expect(rates.connections == 10 && rates.inPackets == 100 && rates.inBytes == 10_000 && rates.outBytes == 0)
        #expect(WatchRates(from: GrowingKernel.stats(30), to: GrowingKernel.stats(10), seconds: 2) == nil)  // zeroed
        #expect(WatchRates(from: GrowingKernel.stats(10), to: GrowingKernel.stats(30), seconds: 0) == nil)
    }

    @Test func keysSortFilterPauseAndQuit() {
        let a = ServiceKey.address(protocol: .tcp, address: IPAddress(ipv4: 1), port: 80)
        let b = ServiceKey.address(protocol: .udp, address: IPAddress(ipv4: 2), port: 53)
        var state = WatchState()
        #expect(state.handle(.character("c"), services: [a, b]) == .redraw && state.sort == .connections)
        #expect(state.handle(.character("r"), services: [a, b]) == .redraw && state.sort == .rate)
        #expect(state.handle(.character("w"), services: [a, b]) == .redraw && state.sort == .weight)
        #expect(state.handle(.character("a"), services: [a, b]) == .redraw && state.sort == .address)
        #expect(state.handle(.character("f"), services: [a, b]) == .redraw && state.filter == a)
        _ = state.handle(.character("f"), services: [a, b])
        #expect(state.filter == b)
        _ = state.handle(.character("f"), services: [a, b])
        #expect(state.filter == nil)
        _ = state.handle(.character("f"), services: [a, b])
        #expect(state.handle(.character("F"), services: [a, b]) == .redraw && state.filter == nil)
        #expect(state.handle(.character("p"), services: []) == .redraw && state.paused)
        #expect(state.handle(.character(" "), services: []) == .refresh && !state.paused)
        #expect(state.handle(.character("k"), services: []) == .redraw && state.kernelRates)
        #expect(state.handle(.resize, services: []) == .redraw)
        #expect(state.handle(.character("x"), services: []) == .nothing)
        #expect(state.handle(.character("q"), services: []) == .quit)
    }

    static func snapshot(_ kernel: GrowingKernel, at time: Double) throws -> WatchSnapshot {
        let services = try kernel.services()
        return WatchSnapshot(
            time: time,
            entries: try services.map { service in
                var sorted: [Destination] = []
                Sorting.forEach(try kernel.destinations(of: service), sorted: true) { sorted.append($0) }
                return WatchSnapshot.Entry(service: service, destinations: sorted)
            })
    }

    @Test func sortingOrdersServersWithinServices() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let first = try Self.snapshot(kernel, at: 0)
        let frame = WatchFrame(previous: first, current: try Self.snapshot(kernel, at: 2), health: nil)
        #expect(frame.elapsed == 2)
        #expect(frame.services[0].servers[0].rates?.connections == 1)  // 10.0.1.1: (2*2 - 1*2) / 2
        let web = ServiceKey.address(protocol: .tcp, address: IPAddress(ipv4: 0x0a00_0001), port: 80)
        func weights(_ state: WatchState) -> [Int32]? {
            state.arranged(frame).first { $0.service.key == web }?.servers.map(\.destination.weight)
        }
        var state = WatchState()
        #expect(weights(state) == [1, 3])
        state.sort = .weight
        #expect(weights(state) == [3, 1])
        state.sort = .rate  // 10.0.1.1's counters grow twice as fast (the kernel lists it second)
        #expect(weights(state) == [1, 3])
        state.sort = .weight
        state.filter = frame.services[1].service.key
        #expect(state.arranged(frame).map(\.service.key) == [frame.services[1].service.key])
    }

    @Test func linesFitEightyColumnsAndTheHeight() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let first = try Self.snapshot(kernel, at: 0)
        let frame = WatchFrame(previous: first, current: try Self.snapshot(kernel, at: 2), health: nil)
        let layout = WatchLayout(names: EndpointNames(numeric: true, resolver: HostsResolver.shared), interval: 2)
        let lines = layout.lines(frame, state: WatchState(), width: 80, height: 24, terminal: true)
        #expect(lines.allSatisfy { $0.text.count <= 80 })
        #expect(lines[0].text.contains("rates from exact counters over 2.00s"))
        #expect(lines.contains { $0.text.hasPrefix("TCP  10.0.0.1:80 rr") && $0.text.contains("Conn/s") == false })
        #expect(lines.contains { $0.text.contains("Conn/s") })
        let cut = layout.lines(frame, state: WatchState(), width: 40, height: 5, terminal: true)
        #expect(cut.count == 5 && cut.allSatisfy { $0.text.count <= 40 })
        #expect(cut.last?.text.hasPrefix("... ") == true)
        // Every column, when the width allows.
        let wide = layout.lines(frame, state: WatchState(), width: nil, height: nil, terminal: false)
        #expect(wide.contains { $0.text.contains("OutPkt/s") } && !wide.contains { $0.text.hasPrefix("keys:") })
    }

    @Test func formattedNumbers() {
        #expect(WatchLayout.rate(0.25) == "0.3" && WatchLayout.rate(99.94) == "99.9" && WatchLayout.rate(1234.4) == "1234")
        #expect(WatchLayout.rate(12_345) == "12.3K" && WatchLayout.rate(4_500_000) == "4.5M")
        #expect(WatchLayout.count(999_999) == "999999" && WatchLayout.count(1_200_000) == "1.2M")
    }

    // MARK: The command

    @Test func plainFramesOnePerIntervalWithRatesFromTheSecond() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let out = Output(frames: 3)
        let clock = FakeClock()
        let result = Self.run(["-Ln", "--watch=1"], kernel: kernel, stdout: out, clock: clock)
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        let frames = out.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(frames.count == 3)
        #expect(frames[0].contains("rates from the next refresh"))
        #expect(frames[1].contains("rates from exact counters over 1.00s"))
        #expect(clock.now == 2)
    }

    @Test func jsonFramesOnePerLine() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let out = Output(frames: 3)
        let result = Self.run(["--watch=0.5", "-n", "--json"], kernel: kernel, stdout: out)
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        let lines = out.text.split(separator: "\n")
        #expect(lines.count == 3)
        let documents = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(documents[0]["elapsed"] is NSNull)
        #expect(documents[1]["elapsed"] as? Double == 0.5)
        let services = try #require(documents[1]["services"] as? [[String: Any]])
        let server = try #require((services[0]["real_servers"] as? [[String: Any]])?.first { $0["address"] as? String == "10.0.1.1" })
        #expect((server["rates"] as? [String: Any])?["connections"] as? Double == 4)  // 2 per read / 0.5 s
        #expect((server["kernel_rates"] as? [String: Any])?["connections"] as? Int == 77)
        #expect((services[0]["rates"] as? [String: Any])?["connections"] as? Double == 20)
    }

    @Test func optionErrors() {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let zero = Self.run(["-L", "--watch=0"], kernel: kernel, stdout: Output(frames: 1))
        #expect(zero.status != 0 && zero.err.contains("invalid watch interval `0'"))
        let conflict = Self.run(["-L", "-c", "--watch"], kernel: kernel, stdout: Output(frames: 1))
        #expect(conflict.status != 0 && conflict.err.contains("options conflicts in the list command"))
        let other = Self.run(["-A", "-t", "10.9.9.9:80", "--watch"], kernel: kernel, stdout: Output(frames: 1))
        #expect(other.status != 0 && other.err.contains("Illegal 'watch' option"))
    }

    @Test func terminalKeysDriveTheView() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let clock = FakeClock()
        let terminal = ScriptedTerminal(
            [nil, .character("w"), .character("f"), .resize, .character("p"), .character("p"), .character("q")], clock: clock)
        let out = Output(frames: 100, terminal: true)
        let result = Self.run(["--watch", "-n"], kernel: kernel, stdout: out, clock: clock, terminal: { terminal })
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        #expect(terminal.stopped && out.text.isEmpty)
        #expect(terminal.waits.first == 2)
        let sorted = try #require(terminal.frames.first { $0[1].text == "sort: weight, all services" })
        let rows = sorted.map(\.text).filter { $0.hasPrefix("  -> 1") }
        #expect(rows.first?.hasPrefix("  -> 10.0.1.2:80") == true)
        let filtered = try #require(terminal.frames.first { $0[1].text == "sort: weight, only TCP 10.0.0.1:80" })
        #expect(!filtered.contains { $0.text.hasPrefix("UDP") })
        #expect(terminal.frames.contains { $0[0].text.contains("[PAUSED]") })
        // Three reads: the first, after the wait, and when unpaused.
        #expect(kernel.reads == 3)
    }

    @Test func aServiceDeletedUnderTheViewLeavesIt() throws {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        kernel.deleteAfterReads = 1
        let clock = FakeClock()
        let terminal = ScriptedTerminal([.character("f"), nil, nil], clock: clock)
        let result = Self.run(["--watch", "-n"], kernel: kernel, stdout: Output(frames: 100, terminal: true), clock: clock,
            terminal: { terminal })
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        let last = try #require(terminal.frames.last).map(\.text)
        #expect(last.contains("TCP 10.0.0.1:80 is not in the table (F: all services)"))
    }

    /// No terminal driver (or one that cannot start): plain frames even on a terminal.
    @Test func withoutATerminalDriverPlainFrames() {
        let kernel = GrowingKernel(ApplyTests.loaded(Self.rules))
        let out = Output(frames: 1, terminal: true)
        let result = Self.run(["--watch"], kernel: kernel, stdout: out, terminal: { nil })
        #expect(result.status == 0 && out.text.hasPrefix("ipvsadm --watch: every 2s"))
    }

    /// The checker's state: a Health column on the screen, `health` in the frames; `k` (and
    /// `--rate`) the kernel's estimator columns.
    @Test func healthAndKernelRates() throws {
        let kernel = GrowingKernel(HealthListingTests.backend())
        let host = HealthListingTests.host()
        let out = Output(frames: 2)
        let result = Self.run(["--watch", "-n", "--rate"], kernel: kernel, stdout: out, host: host)
        #expect(result.status == 0 && result.err.isEmpty, "\(result.err)")
        let lines = out.text.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("the kernel's rates (2s estimator)"))
        #expect(lines.contains { $0.contains("CPS") && $0.contains("Health") && !$0.contains("Conn/s") })
        #expect(lines.contains { $0.hasPrefix("  -> 10.0.1.2:80") && $0.hasSuffix("down") && $0.contains(" 77 ") })
        #expect(lines.contains { $0.hasPrefix("  -> 10.0.1.3:80") && $0.hasSuffix("-") })
        let json = Output(frames: 1)
        _ = Self.run(["--watch", "-n", "--json"], kernel: GrowingKernel(HealthListingTests.backend()), stdout: json, host: host)
        let frame = try #require(try JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: Any])
        let servers = try #require(((frame["services"] as? [[String: Any]])?.first)?["real_servers"] as? [[String: Any]])
        #expect(servers.first { $0["address"] as? String == "10.0.1.2" }?["health"] as? String == "down")
        #expect(servers.first { $0["address"] as? String == "10.0.1.3" }?["health"] == nil)
    }
}
