import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// `--apply` against the in-memory kernel: the result is the desired table, by the fewest
/// changes, all or nothing. (The VM tests judge the same properties by the oracle.)
@Suite struct ApplyTests {
    /// Runs one command line; returns status, stdout, stderr.
    @discardableResult
    static func run(_ backend: InMemoryBackend, _ arguments: [String], stdin: String = "", clock: any Clock = FakeClock())
        -> (status: Int32, out: String, err: String)
    {
        let outcome = CLI.run(arguments, on: backend, stdin: stdin, clock: clock)
        return (outcome.status, outcome.stdout, outcome.stderr)
    }

    static func loaded(_ rules: String) -> InMemoryBackend {
        let backend = InMemoryBackend()
        let result = run(backend, ["-R"], stdin: rules)
        precondition(result.status == 0 && result.err.isEmpty, "could not load: \(result.err)")
        return backend
    }

    static func save(_ backend: InMemoryBackend) -> String { run(backend, ["-Sn", "--complete"]).out }

    // MARK: Random tables

    /// A deterministic generator (SplitMix64), so that a failing pair can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    /// A random table as `-R` input: services of every kind, each with real servers of every
    /// forwarding method and option. Keys come from small pools so that two tables overlap.
    static func randomTable(_ random: inout Random) -> String {
        var lines: [String] = []
        var used = Set<String>()
        for _ in 0..<random.below(8) {
            let service: String
            var inet6 = false
            switch random.below(5) {
            case 0: service = "-t 10.1.0.\(random.below(4) + 1):\(random.pick([80, 443]))"
            case 1: service = "-u 10.1.0.\(random.below(4) + 1):53"
            case 2: service = "-f \(random.below(4) + 1)"
            case 3:
                service = "-f \(random.below(4) + 1) -6"
                inet6 = true
            default:
                service = "-t [2001:db8::\(random.below(4) + 1)]:80"
                inet6 = true
            }
            guard used.insert(service).inserted else { continue }
            var options = " -s " + random.pick(["rr", "wrr", "wlc", "lc", "sh", "mh"])
            if random.chance(30) { options += " -p \(random.pick([60, 300, 360]))" }
            if random.chance(20) && !inet6 && options.contains(" -p ") { options += " -M 255.255.255.0" }
            if random.chance(20) { options += " -b " + random.pick(["flag-1", "flag-2", "flag-3", "flag-1,flag-3"]) }
            if random.chance(10) && service.hasPrefix("-u") { options += " -o" }
            lines.append("-A " + service + options)
            var servers = Set<String>()
            for _ in 0..<random.below(4) {
                let address = inet6 ? "2001:db8::1:\(random.below(6) + 1)" : "10.2.0.\(random.below(6) + 1)"
                let port = random.pick([80, 8080])
                var method = random.pick(["-g", "-m", "-i"])
                if service.hasPrefix("-f") && method == "-m" { method = "-g" }
                let target = method != "-m" ? address : inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
                guard servers.insert(address).inserted else { continue }
                var server = "-a " + service + " -r " + target + " " + method + " -w \(random.below(5))"
                if random.chance(30) {
                    let upper = random.below(1000) + 1
                    server += " -x \(upper) -y \(random.below(upper))"
                }
                if method == "-i" && random.chance(30) {
                    server += random.pick([" --tun-type gre --tun-csum", " --tun-type gue --tun-port 6080 --tun-nocsum"])
                }
                lines.append(server)
            }
        }
        if random.chance(30) { lines.insert("--set \(random.pick([900, 1800])) \(random.pick([120, 60])) 300", at: 0) }
        return lines.map { $0 + "\n" }.joined()
    }

    /// Keys of a `-Sn` text mapped to their lines: a service's options, a real server's.
    static func entries(_ save: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in save.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let command = words.first else { continue }
            if command == "-A" {
                let key = words.prefix { $0 != "-s" }.joined(separator: " ")
                result[key] = String(line)
            } else if command == "-a", let r = words.firstIndex(of: "-r") {
                result[words[..<(r + 2)].joined(separator: " ")] = String(line)
            }
        }
        return result
    }

    @Test(arguments: 0..<300)
    func randomPairsEndAsTheDesiredTable(seed: Int) {
        var random = Random(state: UInt64(seed))
        let a = Self.randomTable(&random)
        let b = Self.randomTable(&random)
        let backend = Self.loaded(a)
        let wanted = Self.save(Self.loaded(b)).split(separator: "\n").filter { !$0.hasPrefix("--set") }
        let before = Self.save(backend)

        // An empty B is meant here (its refusal is `EmptyInputTests`'s).
        let plan = Self.run(backend, ["--apply", "--dry-run", "--allow-empty"], stdin: b)
        #expect(plan.status == 0 && plan.err.isEmpty, "\(plan.err)")
        #expect(Self.save(backend) == before, "a dry run changed the table")

        // The plan, run through -R on a copy of A, gives B.
        let copy = Self.loaded(a)
        #expect(Self.run(copy, ["-R"], stdin: plan.out).err == "")

        let applied = Self.run(backend, ["--apply", "--allow-empty"], stdin: b)
        #expect(applied.status == 0 && applied.err.isEmpty, "\(applied.err)")
        let result = Self.save(backend)
        #expect(result.split(separator: "\n").filter { !$0.hasPrefix("--set") } == wanted, "A:\n\(a)B:\n\(b)")
        #expect(Self.save(copy) == result)

        // No more lines than entries that differ; B on B is empty.
        let old = Self.entries(before)
        let new = Self.entries(result)
        let differing = Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }.count
        let timeoutLine = plan.out.contains("--set ") ? 1 : 0
        #expect(plan.out.split(separator: "\n").count <= differing + timeoutLine, "plan:\n\(plan.out)\nbefore:\n\(before)\nafter:\n\(result)")
        #expect(Self.run(backend, ["--apply", "--dry-run", "--allow-empty"], stdin: b).out == "")
    }

    static let a = """
        -A -t 10.1.0.1:80 -s rr
        -a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1
        -a -t 10.1.0.1:80 -r 10.2.0.2:80 -m -w 1
        -A -t 10.1.0.2:80 -s wlc

        """

    static let b = """
        -A -t 10.1.0.1:80 -s wrr
        -a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 3
        -a -t 10.1.0.1:80 -r 10.2.0.3:80 -m -w 1
        -A -t 10.1.0.3:80 -s rr -p 300

        """

    @Test func thePlanIsValidRestoreInputInTheOrderItRuns() {
        let plan = Self.run(Self.loaded(Self.a), ["--apply", "--dry-run"], stdin: Self.b).out
        #expect(plan == """
            -a -t 10.1.0.1:80 -r 10.2.0.3:80 -m -w 1
            -A -t 10.1.0.3:80 -s rr -p 300
            -E -t 10.1.0.1:80 -s wrr
            -e -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 3
            -d -t 10.1.0.1:80 -r 10.2.0.2:80
            -D -t 10.1.0.2:80

            """)
    }

    @Test(arguments: 1...6)
    func aRefusalMidwayUndoesEverything(refuseAt: Int) {
        let backend = Self.loaded(Self.a)
        let before = Self.save(backend)
        var count = 0
        backend.refusal = { _ in
            count += 1
            return count == refuseAt ? .noMemory : nil
        }
        let result = Self.run(backend, ["--apply"], stdin: Self.b)
        backend.refusal = { _ in nil }
        #expect(result.status == 255)
        #expect(result.err.contains("Memory allocation problem"))
        #expect(Self.save(backend) == before)
    }

    @Test func aModuleTheKernelLacksIsRefusedAndUndone() {
        let backend = Self.loaded(Self.a)
        backend.schedulers = ["rr", "wlc"]
        let before = Self.save(backend)
        let result = Self.run(backend, ["--apply"], stdin: Self.b)
        #expect(result.status == 255)
        #expect(result.err.hasPrefix("line 1: Scheduler or persistence engine not found\n"))
        #expect(Self.save(backend) == before)
    }

    @Test(arguments: [
        ("-C\n", "line 1: --apply reads -A, -a, --set and --start-daemon lines only\n"),
        ("-A -t 10.1.0.9:80\n-D -t 10.1.0.9:80\n", "line 2: --apply reads -A, -a, --set and --start-daemon lines only\n"),
        ("-A -t 10.1.0.9:80\n-A -t 10.1.0.9:80\n", "line 2: Service already exists\n"),
        ("-a -t 10.1.0.9:80 -r 10.2.0.1\n", "line 1: Service not defined\n"),
        ("-A -t 10.1.0.9\n", "line 1: Zero port specified for non-persistent service\n"),
        ("-A -t 10.1.0.9:80\n-a -t 10.1.0.9:80 -r 10.2.0.1 -x 5 -y 10\n", "line 2: Numerical result out of range\n"),
        ("# comment\n-A -t 10.1.0.9:80 --bogus\n", "line 2: --bogus: unknown option\n"),
    ])
    func inputErrorsNameTheirLineAndChangeNothing(input: String, message: String) {
        let backend = Self.loaded(Self.a)
        let before = Self.save(backend)
        let result = Self.run(backend, ["--apply"], stdin: input)
        #expect(result.status != 0)
        #expect(result.err == message)
        #expect(Self.save(backend) == before)
    }

    @Test func aCompleteStateManagesTimeoutsAndDaemons() {
        let backend = Self.loaded(Self.a + "--start-daemon backup --mcast-interface lo\n")
        let wanted = "--set 1800 60 300\n--start-daemon master --mcast-interface dummy0 --syncid 3\n" + Self.b
        #expect(Self.run(backend, ["--apply"], stdin: wanted).err == "")
        let saved = Self.save(backend)
        #expect(saved.hasPrefix("--set 1800 60 300\n--start-daemon master --mcast-interface dummy0 --syncid 3"))
        #expect(!saved.contains("backup"))
        #expect(Self.run(backend, ["--apply", "--dry-run"], stdin: wanted).out == "")
        // Without --set, timeouts and daemons are left alone.
        #expect(Self.run(backend, ["--apply", "--dry-run"], stdin: Self.b).out == "")
    }

    @Test func drainSetsWeightZeroFirstAndWaitsForTheConnections() {
        let backend = Self.loaded(Self.a)
        let service = VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a01_0001), port: 80))
        let leaving = Destination(address: IPAddress(ipv4: 0x0a02_0002), port: 80, forwarding: .masquerading)
        backend.setConnections(active: 3, inactive: 1, of: leaving, in: service)
        let clock = FakeClock()
        var weights: [Int32] = []
        clock.tick = {
            weights.append((try? backend.destinations(of: service))?.first { $0.address == leaving.address }?.weight ?? -1)
            if clock.now >= 4 { backend.setConnections(active: 0, inactive: 0, of: leaving, in: service) }
        }
        let plan = Self.run(backend, ["--apply", "--drain=30", "--dry-run"], stdin: Self.b).out
        #expect(plan.contains("-e -t 10.1.0.1:80 -r 10.2.0.2:80 -m -w 0\n"))
        let result = Self.run(backend, ["--apply", "--drain=30"], stdin: Self.b, clock: clock)
        #expect(result.status == 0 && result.err.isEmpty)
        // Waited while the connections lasted, with the real server at weight 0, then deleted it.
        #expect(clock.now == 4)
        #expect(weights == [0, 0, 0, 0])
        #expect(Self.save(backend) == Self.save(Self.loaded(Self.b)))
    }

    @Test func drainOfOneRealServerGivesUpWhenTimeIsUp() {
        let backend = Self.loaded(Self.a)
        let service = VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a01_0001), port: 80))
        let leaving = Destination(address: IPAddress(ipv4: 0x0a02_0001), port: 80, forwarding: .masquerading)
        backend.setConnections(active: 2, inactive: 0, of: leaving, in: service)
        let clock = FakeClock()
        let result = Self.run(backend, ["-d", "-t", "10.1.0.1:80", "-r", "10.2.0.1:80", "--drain", "5"], clock: clock)
        #expect(result.status == 0)
        #expect(clock.now == 5)
        #expect(result.err == "--drain: time is up: 2 active and 0 inactive connections on 1 real servers are cut\n")
        #expect(!Self.save(backend).contains("10.2.0.1"))
    }
}
