import IPVS
import IPVSAdm

/// The checker's engine, without I/O of its own: the servers of a rules file, when each is
/// checked, what a result does to its verdict (rise, fall, threshold, ramp, sorry server), and
/// the kernel's weights brought to the verdicts under the table lock. The daemon's loop
/// (`HealthDaemon`) feeds it time and results; tests feed it a fake clock and fake results.
public final class HealthMonitor {
    /// One virtual service of the rules file.
    final class ServiceEntry {
        let service: VirtualService
        let text: String
        var policy: ServiceHealthPolicy
        var members: [CheckedServer] = []
        /// The sorry server is in the kernel because the checker added it.
        var sorryInstalled = false
        var sorryWanted = false
        var sorryPending = false

        init(service: VirtualService, text: String, policy: ServiceHealthPolicy) {
            self.service = service
            self.text = text
            self.policy = policy
        }
    }

    let backend: any IPVSBackend
    let clock: any HealthClock
    let host: any Host
    let prober: any Prober
    let log: (String) -> Void
    /// `$IPVSADM_RUN_DIR/lock-<netns inode>`; nil: no lock can be named (changes go on without).
    let lockPath: String?

    var services: [ServiceEntry] = []
    public private(set) var servers: [CheckedServer] = []
    private var byID: [Int: CheckedServer] = [:]
    private var heap = DueHeap()
    private var nextID = 0
    /// Something the state file shows changed since it was last written.
    public internal(set) var changed = false
    /// A weight or sorry server waits for the kernel (lock busy, or a refused change).
    public private(set) var kernelPending = false
    /// The latest a check was started after its due time, since the last `takeLateness`.
    private var lateness: Double = 0
    private var nextRampStep: Double = 0
    /// Some server is ramping (kept, not searched for: the loop asks at every turn).
    private var ramping = false
    private var lockFailureLogged = false

    public init(
        backend: any IPVSBackend, clock: any HealthClock, host: any Host, prober: any Prober, lockPath: String?,
        log: @escaping (String) -> Void
    ) {
        self.backend = backend
        self.clock = clock
        self.host = host
        self.prober = prober
        self.lockPath = lockPath
        self.log = log
    }

    public var servicesCount: Int { services.count }

    // MARK: Loading

    /// Takes the declarations (at start, and at each reload). A server with the same service,
    /// address, port and check as before keeps its state; the others start from `previous`
    /// (the state file a restarted checker finds), the kernel's weight, and `start=`.
    public func load(_ declarations: HealthDeclarations, previous: HealthStateFile? = nil) {
        let now = clock.monotonic
        let wall = clock.wall
        var kept: [String: CheckedServer] = [:]
        for server in servers { kept[CheckedServer.key(server.serviceText, server.serverText)] = server }
        var recorded: [String: HealthRecord] = [:]
        var recordedSorry: [String: HealthRecord] = [:]
        for record in previous?.records ?? [] {
            if record.sorry {
                recordedSorry[record.service] = record
            } else {
                recorded[CheckedServer.key(record.service, record.server)] = record
            }
        }
        let kernel = readKernel(declarations)
        let oldServices = Dictionary(services.map { ($0.text, $0) }, uniquingKeysWith: { a, _ in a })

        var newServices: [ServiceEntry] = []
        var newServers: [CheckedServer] = []
        var fresh: [CheckedServer] = []
        for declared in declarations.services {
            let text = HealthRecord.serviceText(declared.service.key)
            let entry = ServiceEntry(service: declared.service, text: text, policy: declared.policy)
            if let old = oldServices[text] {
                entry.sorryInstalled = old.sorryInstalled
            } else if recordedSorry[text] != nil {
                entry.sorryInstalled = true
            }
            let kernelServers = kernel[text]
            for server in declared.servers {
                let serverText = HealthRecord.serverText(server.destination.address, port: server.destination.port)
                let key = CheckedServer.key(text, serverText)
                let kernelWeight = kernelServers?[serverText]
                if let old = kept[key], old.spec == server.check {
                    kept[key] = nil
                    old.redeclare(server.destination, service: declared.service)
                    if old.staleProbe && !old.running {
                        prober.forget(id: old.id)
                        old.staleProbe = false
                    }
                    old.line = server.line
                    old.kernelWeight = kernelWeight
                    if kernelWeight != nil { old.missingLogged = false }
                    entry.members.append(old)
                    newServers.append(old)
                    continue
                }
                let checked = CheckedServer(
                    id: nextID, destination: server.destination, spec: server.check, line: server.line,
                    service: declared.service, serviceText: text, serverText: serverText, since: wall)
                nextID += 1
                checked.kernelWeight = kernelWeight
                start(checked, record: recorded[key], now: now)
                entry.members.append(checked)
                newServers.append(checked)
                fresh.append(checked)
            }
            newServices.append(entry)
        }
        // Servers no longer declared (or with another check) are no longer checked or touched.
        for server in kept.values { prober.forget(id: server.id) }
        // A sorry server of a service that is gone stays as it is: the rules no longer name it.
        services = newServices
        servers = newServers
        byID = Dictionary(uniqueKeysWithValues: servers.map { ($0.id, $0) })

        // The schedule: kept servers keep theirs; new ones are spread over their interval so
        // that a thousand servers do not all fire in the same millisecond.
        heap.removeAll()
        let freshIDs = Set(fresh.map(\.id))
        for server in servers where server.spec != nil && !server.running && !freshIDs.contains(server.id) {
            heap.push(due: server.nextDue, id: server.id)
        }
        let count = fresh.count
        for (index, server) in fresh.enumerated() where server.spec != nil {
            server.nextDue = now + server.interval * Double(index) / Double(max(count, 1))
            heap.push(due: server.nextDue, id: server.id)
        }
        for server in servers where server.kernelWeight == nil && server.spec != nil && !server.missingLogged {
            server.missingLogged = true
            log("\(server.label) is not in the kernel's table: its weight is not changed")
        }
        for entry in services { rebalance(entry, now: now) }
        for server in servers where !server.up || server.pending { setPending(server, now: now) }
        for entry in services { updateSorry(entry) }
        changed = true
        refreshPending()
    }

    /// A new server's first verdict: a server recorded down (or held at weight 0 by the kernel
    /// while declared above 0) starts down, so a restart never puts a dead server back.
    private func start(_ server: CheckedServer, record: HealthRecord?, now: Double) {
        guard let spec = server.spec else { return }
        let declared = server.declaredWeight
        var reason: String?
        if let record, record.state != .unchecked {
            server.since = record.since
            server.checked = record.checked
            server.ok = record.ok
            server.duration = record.duration
            server.message = record.message
            switch record.state {
            case .down, .rising, .held:
                server.up = false
                reason = "recorded \(record.state.rawValue)"
            case .ramping:
                server.up = true
                if spec.ramp > 0, let weight = server.kernelWeight, weight < declared {
                    server.rampStart = now - CheckedServer.rampElapsed(declared: declared, weight: weight, ramp: spec.ramp)
                    ramping = true
                }
            case .up, .falling, .unchecked:
                server.up = true
            }
        }
        if server.up, declared > 0, server.kernelWeight == 0 {
            server.up = false
            server.rampStart = nil
            reason = "weight 0 in the kernel"
        }
        if record == nil && spec.startDown && reason == nil { reason = "start=down" }
        server.verdictChanged = now - 1e6 + Double(server.id) * 1e-6
        if !server.up, let reason {
            log("\(server.label) starts down (\(reason)), needs \(spec.rise) successes")
        }
    }

    /// The kernel's weight of every declared server: [service text: [server text: weight]].
    private func readKernel(_ declarations: HealthDeclarations) -> [String: [String: Int32]] {
        var table: [String: [String: Int32]] = [:]
        let present: Set<ServiceKey>
        do {
            present = Set(try backend.services().map(\.key))
        } catch {
            log("cannot read the kernel's table: \(error.message)")
            return table
        }
        for declared in declarations.services where present.contains(declared.service.key) {
            var weights: [String: Int32] = [:]
            do {
                for destination in try backend.destinations(of: declared.service) {
                    weights[HealthRecord.serverText(destination.address, port: destination.port)] = destination.weight
                }
            } catch {
                log("cannot read the real servers of \(HealthRecord.serviceText(declared.service.key)): \(error.message)")
            }
            table[HealthRecord.serviceText(declared.service.key)] = weights
        }
        return table
    }

    // MARK: The schedule

    /// Checks due this close after `now` start with those due, at most 2 % of their interval
    /// early (a check never runs more often than declared): a thousand servers checked every
    /// second wake the loop about 50 times a second, not a thousand.
    static let batch = 0.02

    /// When a check is due by `now`: starts it and every check due within its batch window
    /// after `now`; returns the monotonic time of the next one. Nothing starts early without
    /// one that is due: a loop woken by replies between two batches starts no sliver of the
    /// next one (the SYNs of a batch leave in one system call).
    @discardableResult
    public func dispatch(now: Double) -> Double? {
        guard let first = heap.top, first.due <= now else { return heap.top?.due }
        while let top = heap.top {
            guard let server = byID[top.id] else {
                heap.pop()
                continue
            }
            guard top.due <= now + server.batchWindow else { break }
            heap.pop()
            guard let target = server.target, !server.running else { continue }
            lateness = max(lateness, now - top.due)
            server.running = true
            server.startedDue = top.due
            server.startedAt = now
            prober.start(target, now: now)
        }
        return heap.top?.due
    }


    /// Checks running well past their timeout: a prober that lost them (the watchdog's other
    /// evidence; every kind of check ends by its timeout).
    public func overdueChecks(now: Double) -> Int {
        servers.reduce(0) { count, server in
            guard server.running, let spec = server.spec else { return count }
            return now - server.startedAt > spec.timeout + 5 ? count + 1 : count
        }
    }

    /// The latest start after a due time since the last call (the watchdog's evidence that
    /// checks go out on time), then forgets it.
    public func takeLateness() -> Double {
        defer { lateness = 0 }
        return lateness
    }

    /// The next time `tick` has work: the next check, the next ramp step.
    public var nextWake: Double? {
        switch (heap.top?.due, ramping) {
        case (let due?, true): return min(due, nextRampStep)
        case (let due?, false): return due
        case (nil, true): return nextRampStep
        case (nil, false): return nil
        }
    }

    // MARK: Results

    /// A check ended: its verdict, and the service's threshold and sorry server. `now` and
    /// `wall` are the two clocks read once for a batch of results.
    public func complete(id: Int, result: ProbeResult, now: Double, wall: Double) {
        guard let server = byID[id], server.isChecked else { return }
        server.running = false
        if server.staleProbe {
            prober.forget(id: server.id)
            server.staleProbe = false
        }
        server.checked = wall
        server.ok = result.ok
        server.duration = result.duration
        // A changed message or count (falling, rising) waits for the heartbeat: the state file
        // is rewritten at once for verdicts only.
        server.message = result.message
        if result.ok == server.up {
            server.streak = 0
        } else {
            server.streak += 1
            let needed = server.up ? server.fall : server.rise
            if server.streak >= needed, let spec = server.spec {
                verdict(server, up: !server.up, spec: spec, now: now, wall: wall)
            }
        }
        server.nextDue = max(server.startedDue + server.interval, now)
        heap.push(due: server.nextDue, id: server.id)
    }

    private func verdict(_ server: CheckedServer, up: Bool, spec: CheckSpec, now: Double, wall: Double) {
        let count = server.streak
        let old = server.kernelWeight
        server.up = up
        server.streak = 0
        server.since = wall
        server.verdictChanged = now
        changed = true
        guard let entry = services.first(where: { $0.members.contains { $0 === server } }) else { return }
        if up {
            let wasHeld = server.held
            server.held = false
            server.rampStart = spec.ramp > 0 && !wasHeld && server.declaredWeight > 1 ? now : nil
            if server.rampStart != nil {
                ramping = true
                if nextRampStep <= now { nextRampStep = now + 1 }
            }
            rebalance(entry, now: now, quiet: server)
            let weight = server.wantedWeight(now: now)
            var line = "\(server.label) up after \(count) \(count == 1 ? "success" : "successes") (\(server.message))"
            if wasHeld {
                line += ": was held in, weight stays \(weight)"
            } else {
                line += ": weight \(old.map(String.init) ?? "-") -> \(weight)"
                if server.rampStart != nil { line += ", ramping to \(server.declaredWeight) over \(format(spec.ramp)) s" }
            }
            log(line)
            setPending(server, now: now)
        } else {
            server.rampStart = nil
            rebalance(entry, now: now, quiet: server)
            let reason = "\(server.label) down after \(count) \(count == 1 ? "failure" : "failures") (\(server.message))"
            if server.held {
                log(reason + ": held in by the threshold (\(heldText(entry))), weight stays \(old.map(String.init) ?? "-")")
            } else {
                log(reason + ": weight \(old.map(String.init) ?? "-") -> \(server.wantedWeight(now: now))")
            }
            setPending(server, now: now)
        }
        updateSorry(entry)
        refreshPending()
    }

    private func heldText(_ entry: ServiceEntry) -> String {
        let counted = entry.members.filter(\.counted)
        let out = counted.filter { !$0.up && !$0.held }.count
        return "\(out) of \(counted.count) out, threshold \(format(entry.policy.threshold))"
    }

    /// Never more than `threshold` of the service's checked servers (declared weight > 0) out:
    /// the latest to go down are held in; when room opens, the longest held go out.
    private func rebalance(_ entry: ServiceEntry, now: Double, quiet: CheckedServer? = nil) {
        let counted = entry.members.filter(\.counted)
        let limit = Int((entry.policy.threshold * Double(counted.count) + 1e-9).rounded(.down))
        var out = counted.filter { !$0.up && !$0.held }
        var held = counted.filter { !$0.up && $0.held }
        for server in entry.members where server.up || !server.counted { server.held = false }
        if out.count > limit {
            out.sort { $0.verdictChanged > $1.verdictChanged }
            for server in out.prefix(out.count - limit) {
                server.held = true
                changed = true
                setPending(server, now: now)
                if server !== quiet {
                    log("\(server.label) held in by the threshold (\(heldText(entry))): weight \(server.wantedWeight(now: now))")
                }
            }
        } else if out.count < limit && !held.isEmpty {
            held.sort { $0.verdictChanged < $1.verdictChanged }
            for server in held.prefix(limit - out.count) {
                server.held = false
                changed = true
                let old = server.kernelWeight
                setPending(server, now: now)
                if server !== quiet {
                    log("\(server.label) down, no longer held in (\(heldText(entry))): weight \(old.map(String.init) ?? "-") -> 0")
                }
            }
        }
    }

    /// The sorry server is wanted when every checked server with a weight is out.
    private func updateSorry(_ entry: ServiceEntry) {
        guard entry.policy.sorry != nil else { return }
        let withWeight = entry.members.filter { $0.destination.weight > 0 }
        let wanted = !withWeight.isEmpty && withWeight.allSatisfy { $0.counted && !$0.up && !$0.held }
        if wanted != entry.sorryWanted || wanted != entry.sorryInstalled {
            entry.sorryWanted = wanted
            entry.sorryPending = wanted != entry.sorryInstalled
        }
    }

    private func setPending(_ server: CheckedServer, now: Double) {
        guard server.spec != nil, server.declaredWeight > 0 else { return }
        server.pending = server.kernelWeight != nil && server.kernelWeight != server.wantedWeight(now: now)
    }

    private func refreshPending() {
        kernelPending = servers.contains(where: \.pending) || services.contains(where: \.sorryPending)
    }

    // MARK: Ramps

    /// Moves ramping weights on, at most once a second.
    public func stepRamps(now: Double) {
        guard ramping, now >= nextRampStep else { return }
        var any = false
        for server in servers where server.rampStart != nil {
            any = true
            guard let spec = server.spec, let rampStart = server.rampStart else { continue }
            if now - rampStart >= spec.ramp {
                server.rampStart = nil
                changed = true
                log("\(server.label) ramp done: weight \(server.declaredWeight)")
            }
            setPending(server, now: now)
        }
        nextRampStep = now + 1
        ramping = servers.contains { $0.rampStart != nil }
        if any { refreshPending() }
    }

    // MARK: The kernel

    /// Brings the kernel's weights (and sorry servers) to the verdicts, under the table lock,
    /// each destination edited with every other field as the kernel lists it. When the lock is
    /// held by an --apply or -R, leaves everything for the next tick.
    public func syncKernel() {
        guard kernelPending else { return }
        var lock: (any LockFile)?
        if let lockPath {
            do {
                let file = try host.openLockFile(lockPath)
                guard file.tryLock() else {
                    file.release()
                    return
                }
                lock = file
                lockFailureLogged = false
            } catch {
                if !lockFailureLogged {
                    lockFailureLogged = true
                    log("warning: going on without the table lock (\(lockPath): \(error.text))")
                }
            }
        }
        defer { lock?.release() }
        let now = clock.monotonic
        for entry in services where entry.sorryPending || entry.members.contains(where: \.pending) {
            let listed: [Destination]
            do {
                listed = try backend.destinations(of: entry.service)
            } catch {
                log("cannot read the real servers of \(entry.text): \(error.message)")
                continue
            }
            for server in entry.members where server.pending {
                guard let index = listed.firstIndex(where: { $0.address == server.destination.address && $0.port == server.destination.port }) else {
                    server.pending = false
                    server.kernelWeight = nil
                    if !server.missingLogged {
                        server.missingLogged = true
                        log("\(server.label) is not in the kernel's table: its weight is not changed")
                    }
                    continue
                }
                let wanted = server.wantedWeight(now: now)
                var destination = listed[index]
                if destination.weight != wanted {
                    destination.weight = wanted
                    do {
                        try backend.apply(.updateDestination(destination, in: entry.service))
                    } catch {
                        if !server.failureLogged {
                            server.failureLogged = true
                            log("\(server.label): cannot set weight \(wanted): \(error.message)")
                        }
                        continue
                    }
                }
                if server.failureLogged {
                    server.failureLogged = false
                    log("\(server.label): weight \(wanted) set")
                }
                server.kernelWeight = wanted
                server.pending = false
                changed = true
            }
            if entry.sorryPending, let sorry = entry.policy.sorry {
                let port = sorry.port ?? entry.service.key.port
                let present = listed.first { $0.address == sorry.address && $0.port == port }
                let text = HealthRecord.serverText(sorry.address, port: port)
                do {
                    if entry.sorryWanted {
                        if present == nil {
                            let method = listed.first?.forwarding ?? entry.members.first?.destination.forwarding ?? .directRouting
                            try backend.apply(.addDestination(Destination(address: sorry.address, port: port, forwarding: method, weight: 1), to: entry.service))
                            log("\(entry.text): every server is out, sorry server \(text) added")
                        }
                        entry.sorryInstalled = true
                    } else {
                        if let present {
                            try backend.apply(.deleteDestination(present, from: entry.service))
                            log("\(entry.text): a server is back, sorry server \(text) removed")
                        }
                        entry.sorryInstalled = false
                    }
                    entry.sorryPending = false
                    changed = true
                } catch {
                    log("\(entry.text): cannot \(entry.sorryWanted ? "add" : "remove") sorry server \(text): \(error.message)")
                }
            }
        }
        refreshPending()
    }

    // MARK: The state file

    /// Every declared server's record, and the sorry servers the checker added.
    public func records() -> [HealthRecord] {
        let now = clock.monotonic
        var records: [HealthRecord] = []
        records.reserveCapacity(servers.count)
        for entry in services {
            for server in entry.members { records.append(server.record(at: now)) }
            if entry.sorryInstalled, let sorry = entry.policy.sorry {
                let port = sorry.port ?? entry.service.key.port
                records.append(HealthRecord(
                    service: entry.text, server: HealthRecord.serverText(sorry.address, port: port), state: .up,
                    declaredWeight: 0, weight: 1, since: clock.wall, sorry: true))
            }
        }
        return records
    }

    public func server(service: String, server: String) -> CheckedServer? {
        servers.first { $0.serviceText == service && $0.serverText == server }
    }
}

extension CheckedServer {
    static func key(_ service: String, _ server: String) -> String { service + "\t" + server }
}

func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

/// The checks' due times, earliest first: a binary heap of (due, server id). Each checked
/// server has one entry while it waits, none while its check runs.
struct DueHeap {
    private var items: [(due: Double, id: Int)] = []

    var top: (due: Double, id: Int)? { items.first }
    var count: Int { items.count }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(due: Double, id: Int) {
        items.append((due, id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && items[left].due < items[smallest].due { smallest = left }
            if right < items.count && items[right].due < items[smallest].due { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
