import IPVS

/// The fewest changes that turn the kernel's table into the desired one, in the order they
/// run, each with what undoes it and its line of `-R` input.
///
/// Entries are matched by key (protocol, address and port or fwmark; a real server's address
/// and port), and compared as values, field by field (`ApplyComparison`): an entry whose
/// settings are the same is not touched. Changed settings are edits (`-E`, `-e`); only what
/// the desired table lacks is deleted. The order makes before it breaks and keeps deletions
/// last: new services and real servers, then edits, then (with `--drain`) weight 0 for what
/// goes, then the deletions. So every change the kernel could refuse runs before the first
/// deletion, and a refusal is undone without recreating anything deleted (whose counters
/// could not come back).
struct ApplyPlan {
    struct Step {
        enum Phase: Int, Comparable {
            case add, edit, drain, remove
            static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
        }

        var phase: Phase
        var change: Modification
        /// Puts back what `change` altered, in order, once it was carried out.
        var undo: [Modification]
        /// `change` as a line of `-R` input.
        var line: String
        /// The input line `change` carries out; 0 for one of its own (a deletion, a drain).
        var inputLine: Int
    }

    private(set) var steps: [Step] = []
    /// The real servers that drain steps set to weight 0, with their services.
    private(set) var draining: [(service: VirtualService, destination: Destination)] = []

    init(from current: TableState, to desired: TableState, drain: Bool) {
        let rules = RuleRenderer(names: EndpointNames(numeric: true, resolver: NoNames()))
        var steps: [Step] = []
        func step(_ phase: Step.Phase, _ change: Modification, undo: [Modification], _ line: String, input: Int = 0) {
            steps.append(Step(phase: phase, change: change, undo: undo, line: line, inputLine: input))
        }
        func line(_ body: (inout TextBuffer) -> Void) -> String {
            var out = TextBuffer()
            body(&out)
            return String(decoding: out.bytes, as: UTF8.self)
        }
        func serviceLine(_ s: VirtualService, _ command: String, _ label: String) -> String {
            line { rules.append(s, command: command, label: label, into: &$0) }
        }
        func destinationLine(_ d: Destination, _ key: ServiceKey, _ command: String, _ label: String) -> String {
            line { rules.append(d, of: key, command: command, label: label, into: &$0) }
        }
        func drained(_ d: Destination, of service: VirtualService, _ label: String) {
            draining.append((service, d))
            guard d.weight != 0 else { return }
            var idle = d
            idle.weight = 0
            step(.drain, .updateDestination(idle, in: service), undo: [.updateDestination(d, in: service)],
                 destinationLine(idle, service.key, "-e", label))
        }

        // Timeouts: a field the input gives as 0 stays as it is (`--set` semantics).
        if let wanted = desired.timeouts, let old = current.timeouts {
            let new = Timeouts(
                tcp: wanted.tcp != 0 ? wanted.tcp : old.tcp, tcpFin: wanted.tcpFin != 0 ? wanted.tcpFin : old.tcpFin,
                udp: wanted.udp != 0 ? wanted.udp : old.udp)
            if new != old {
                step(.edit, .setTimeouts(new), undo: [.setTimeouts(old)], RuleRenderer.timeoutsLine(new),
                     input: desired.timeoutsLine)
            }
        }

        var currentIndex: [ServiceKey: Int] = [:]
        currentIndex.reserveCapacity(current.entries.count)
        for (index, entry) in current.entries.enumerated() { currentIndex[entry.service.key] = index }
        var kept = [Bool](repeating: false, count: current.entries.count)

        for entry in desired.entries {
            let service = entry.service
            // Made only for a line: most entries are unchanged and have none.
            lazy var label = rules.serviceOptions(service.key)
            guard let index = currentIndex[service.key] else {
                step(.add, .addService(service), undo: [.deleteService(service)], serviceLine(service, "-A", label),
                     input: entry.line)
                for (position, d) in entry.destinations.enumerated() {
                    step(.add, .addDestination(d, to: service), undo: [.deleteDestination(d, from: service)],
                         destinationLine(d, service.key, "-a", label), input: entry.destinationLines[position])
                }
                continue
            }
            kept[index] = true
            let old = current.entries[index]
            // Most entries are unchanged: a line is made only for a step.
            if !ApplyComparison.sameSettings(service, old.service) {
                step(.edit, .updateService(service), undo: [.updateService(old.service)], serviceLine(service, "-E", label),
                     input: entry.line)
            }
            var oldDestinations: [DestinationKey: Destination] = [:]
            oldDestinations.reserveCapacity(old.destinations.count)
            for d in old.destinations { oldDestinations[DestinationKey(d)] = d }
            for (position, d) in entry.destinations.enumerated() {
                let input = entry.destinationLines[position]
                guard let was = oldDestinations.removeValue(forKey: DestinationKey(d)) else {
                    step(.add, .addDestination(d, to: service), undo: [.deleteDestination(d, from: service)],
                         destinationLine(d, service.key, "-a", label), input: input)
                    continue
                }
                if !ApplyComparison.sameSettings(d, was) {
                    step(.edit, .updateDestination(d, in: service), undo: [.updateDestination(was, in: service)],
                         destinationLine(d, service.key, "-e", label), input: input)
                }
            }
            // What the desired table lacks, in the kernel's order.
            for d in old.destinations where oldDestinations[DestinationKey(d)] != nil {
                if drain { drained(d, of: old.service, label) }
                step(.remove, .deleteDestination(d, from: old.service), undo: [.addDestination(d, to: old.service)],
                     line { rules.appendDelete(d, of: service.key, label: label, into: &$0) })
            }
        }

        for (index, old) in current.entries.enumerated() where !kept[index] {
            let label = rules.serviceOptions(old.service.key)
            if drain { for d in old.destinations { drained(d, of: old.service, label) } }
            step(.remove, .deleteService(old.service),
                 undo: [.addService(old.service)] + old.destinations.reversed().map { .addDestination($0, to: old.service) },
                 "-D " + label + "\n")
        }

        if let wanted = desired.daemons, let running = current.daemons {
            for (position, daemon) in wanted.enumerated() {
                let input = desired.daemonLines[position]
                if let old = running.first(where: { $0.state == daemon.state }) {
                    guard !old.satisfies(daemon) else { continue }
                    step(.edit, .stopDaemon(old), undo: [.startDaemon(old)], RuleRenderer.stopDaemonLine(old), input: input)
                }
                step(.edit, .startDaemon(daemon), undo: [.stopDaemon(daemon)], RuleRenderer.daemonLine(daemon), input: input)
            }
            for old in running where !wanted.contains(where: { $0.state == old.state }) {
                step(.remove, .stopDaemon(old), undo: [.startDaemon(old)], RuleRenderer.stopDaemonLine(old))
            }
        }

        // Stable: within a phase, the order above (a service before its real servers).
        self.steps = steps.enumerated().sorted { a, b in
            a.element.phase != b.element.phase ? a.element.phase < b.element.phase : a.offset < b.offset
        }.map(\.element)
    }

    /// The plan as `-R` input, in the order it runs.
    var text: String { steps.map(\.line).joined() }
}

/// Plan lines are numeric: no name is ever looked up.
private final class NoNames: NameResolver {
    func ipv4Address(ofHost name: String) -> IPAddress? { nil }
    func hostName(of address: IPAddress) -> String? { nil }
    func port(ofService name: String, protocol: IPProtocolNumber) -> UInt16? { nil }
    func serviceName(ofPort port: UInt16, protocol: IPProtocolNumber) -> String? { nil }
}
