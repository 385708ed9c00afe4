import IPVS
@testable import IPVSAdm
import IPVSTestSupport
import Testing

/// `--apply` compares every field the kernel returns for a service or real server, or ignores
/// it on purpose (`ApplyComparison.fields`, mirrored by Docs/Applying.md): a field nobody
/// classified fails here.
@Suite struct ApplyComparisonTests {
    /// One change of one field of an entry: `setUp` (on both sides) puts the entry where the
    /// field is used, `change` (on the desired side only) changes that field alone.
    struct Change<Entry> {
        var field: String
        var setUp: (inout Entry) -> Void = { _ in }
        var change: (inout Entry) -> Void
    }

    static func toggle(_ flag: ServiceFlags) -> (inout VirtualService) -> Void {
        { service in
            if service.flags.contains(flag) { service.flags.remove(flag) } else { service.flags.insert(flag) }
        }
    }

    static func tunnel(_ type: TunnelType) -> (inout Destination) -> Void {
        { d in
            d.forwarding = .tunnel
            d.tunnelType = type
            if type == .gue { d.tunnelPort = 6080 }
        }
    }

    /// A change of every field of a service (of every flag bit).
    static var serviceChanges: [Change<VirtualService>] {
        [
            Change(field: "VirtualService.key") { s in s.key = .firewallMark(77, family: s.key.family) },
            Change(field: "VirtualService.scheduler") { s in s.scheduler = s.scheduler == "rr" ? "wrr" : "rr" },
            Change(field: "VirtualService.flags", change: toggle(.persistent)),
            Change(field: "VirtualService.flags", change: toggle(.onePacket)),
            Change(field: "VirtualService.flags", change: toggle(.sched1)),
            Change(field: "VirtualService.flags", change: toggle(.sched2)),
            Change(field: "VirtualService.flags", change: toggle(.sched3)),
            Change(field: "VirtualService.flags.hashed", change: toggle(.hashed)),
            Change(field: "VirtualService.timeout") { s in s.timeout += 1 },
            Change(field: "VirtualService.netmask") { s in s.netmask = s.netmask == 64 ? 96 : 64 },
            Change(field: "VirtualService.persistenceEngine") { s in
                s.persistenceEngine = s.persistenceEngine.isEmpty ? "sip" : ""
            },
            Change(field: "VirtualService.stats") { s in s.stats.connections += 5 },
        ]
    }

    /// A change of every field of a real server, where the kernel uses it.
    static var destinationChanges: [Change<Destination>] {
        [
            Change(field: "Destination.address") { d in
                d.address = IPAddress(family: d.address.family, high: d.address.high ^ 0x0003_0000_0000_0000, low: d.address.low)
            },
            Change(field: "Destination.port") { d in d.port &+= 1 },
            Change(field: "Destination.forwarding") { d in
                d.forwarding = d.forwarding == .masquerading ? .directRouting : .masquerading
            },
            Change(field: "Destination.weight") { d in d.weight += 1 },
            Change(field: "Destination.upperThreshold") { d in d.upperThreshold += 1 },
            Change(field: "Destination.lowerThreshold") { d in d.lowerThreshold += 1 },
            Change(field: "Destination.tunnelType", setUp: tunnel(.ipip)) { d in d.tunnelType = .gre },
            Change(field: "Destination.tunnelType", setUp: tunnel(.gue)) { d in d.tunnelType = .ipip },
            Change(field: "Destination.tunnelPort", setUp: tunnel(.gue)) { d in d.tunnelPort += 1 },
            Change(field: "Destination.tunnelFlags", setUp: tunnel(.gue)) { d in d.tunnelFlags.formSymmetricDifference(.remoteChecksum) },
            Change(field: "Destination.tunnelFlags", setUp: tunnel(.gre)) { d in d.tunnelFlags.formSymmetricDifference(.checksum) },
            Change(field: "Destination.activeConnections") { d in d.activeConnections += 3 },
            Change(field: "Destination.inactiveConnections") { d in d.inactiveConnections += 3 },
            Change(field: "Destination.persistentConnections") { d in d.persistentConnections += 3 },
            Change(field: "Destination.stats") { d in d.stats.inBytes += 1000 },
        ]
    }

    /// Changes of tunnel settings the kernel keeps but does not use: no difference.
    static var unusedTunnelChanges: [Change<Destination>] {
        let direct: (inout Destination) -> Void = { d in d.forwarding = .directRouting }
        return [
            Change(field: "Destination.tunnelType", setUp: direct) { d in d.tunnelType = .gue },
            Change(field: "Destination.tunnelPort", setUp: direct) { d in d.tunnelPort = 6080 },
            Change(field: "Destination.tunnelFlags", setUp: direct) { d in d.tunnelFlags = [.checksum] },
            Change(field: "Destination.tunnelPort", setUp: tunnel(.ipip)) { d in d.tunnelPort = 6080 },
            Change(field: "Destination.tunnelFlags", setUp: tunnel(.ipip)) { d in d.tunnelFlags = [.checksum] },
            Change(field: "Destination.tunnelPort", setUp: tunnel(.gre)) { d in d.tunnelPort = 6080 },
        ]
    }

    static func field(_ name: String) -> ApplyComparison.Field? {
        ApplyComparison.fields.first { $0.name == name }
    }

    /// The kernel's reading of a random table (from the in-memory kernel, which keeps what
    /// the kernel keeps), with at least one real server, and the input lines of each entry.
    static func randomKernelTable(seed: Int) -> TableState {
        var random = ApplyTests.Random(state: UInt64(seed) &* 7919)
        while true {
            let backend = ApplyTests.loaded(ApplyTests.randomTable(&random))
            if var table = try? TableState.read(from: backend, complete: false),
               table.entries.contains(where: { !$0.destinations.isEmpty })
            {
                // Input line numbers, as a table read from input has them (either side may be one).
                for index in table.entries.indices {
                    table.entries[index].line = index + 1
                    table.entries[index].destinationLines = Array(repeating: index + 1, count: table.entries[index].destinations.count)
                }
                return table
            }
        }
    }

    enum Expected: Equatable { case nothing, edit, deletionAndAddition }

    static func expected(_ field: ApplyComparison.Field) -> Expected {
        switch field.treatment {
        case .key: return .deletionAndAddition
        case .edit, .editWhereUsed: return .edit
        case .ignored: return .nothing
        }
    }

    /// What the plan from `current` to `desired` does, when it differs in one entry.
    static func outcome(_ plan: ApplyPlan) -> Expected? {
        let steps = plan.steps.map(\.change)
        if steps.isEmpty { return .nothing }
        if steps.count == 1 {
            if case .updateService = steps[0] { return .edit }
            if case .updateDestination = steps[0] { return .edit }
        }
        let adds = steps.filter {
            if case .addService = $0 { return true }
            if case .addDestination = $0 { return true }
            return false
        }
        let removes = steps.filter {
            if case .deleteService = $0 { return true }
            if case .deleteDestination = $0 { return true }
            return false
        }
        return !adds.isEmpty && removes.count == 1 && adds.count + removes.count == steps.count
            ? .deletionAndAddition : nil
    }

    @Test(arguments: 0..<20)
    func everyFieldOfAServiceIsComparedOrIgnored(seed: Int) throws {
        let table = Self.randomKernelTable(seed: seed)
        var random = ApplyTests.Random(state: UInt64(seed))
        for change in Self.serviceChanges {
            let field = try #require(Self.field(change.field), "\(change.field) is not in ApplyComparison.fields")
            var current = table
            let index = random.below(current.entries.count)
            change.setUp(&current.entries[index].service)
            var desired = current
            change.change(&desired.entries[index].service)
            let plan = ApplyPlan(from: current, to: desired, drain: false)
            #expect(Self.outcome(plan) == Self.expected(field), "\(change.field): \(plan.text)")
            if Self.expected(field) == .edit {
                #expect(plan.steps.first?.line.hasPrefix("-E ") == true)
            }
        }
    }

    @Test(arguments: 0..<20)
    func everyFieldOfARealServerIsComparedOrIgnored(seed: Int) throws {
        let table = Self.randomKernelTable(seed: seed)
        var random = ApplyTests.Random(state: UInt64(seed))
        let withServers = table.entries.indices.filter { !table.entries[$0].destinations.isEmpty }
        // A random real server of the table, with and without the change.
        func changed(_ change: Change<Destination>) -> (current: TableState, desired: TableState) {
            var current = table
            let index = random.pick(withServers)
            let position = random.below(current.entries[index].destinations.count)
            change.setUp(&current.entries[index].destinations[position])
            var desired = current
            change.change(&desired.entries[index].destinations[position])
            return (current, desired)
        }
        for change in Self.destinationChanges {
            let field = try #require(Self.field(change.field), "\(change.field) is not in ApplyComparison.fields")
            let (current, desired) = changed(change)
            let plan = ApplyPlan(from: current, to: desired, drain: false)
            #expect(Self.outcome(plan) == Self.expected(field), "\(change.field): \(plan.text)")
            if Self.expected(field) == .edit {
                #expect(plan.steps.first?.line.hasPrefix("-e ") == true)
            }
        }
        for change in Self.unusedTunnelChanges {
            let (current, desired) = changed(change)
            // Either side may hold the unused value: the kernel's reading, or the input.
            #expect(ApplyPlan(from: current, to: desired, drain: false).steps.isEmpty, "\(change.field)")
            #expect(ApplyPlan(from: desired, to: current, drain: false).steps.isEmpty, "\(change.field)")
        }
    }

    /// Every stored property of the model is classified, and every classified field is
    /// changed by the tests above: a new field fails here until it is.
    @Test func everyStoredPropertyIsClassifiedAndChanged() {
        let service = VirtualService(key: .firewallMark(1, family: .inet))
        let destination = Destination(address: IPAddress(ipv4: 1), port: 0)
        let stored = Set(
            Mirror(reflecting: service).children.compactMap(\.label).map { "VirtualService." + $0 }
                + Mirror(reflecting: destination).children.compactMap(\.label).map { "Destination." + $0 })
        let classified = ApplyComparison.fields.map(\.name)
        #expect(Set(classified).count == classified.count, "a field classified twice")
        let topLevel = Set(classified.map { $0.split(separator: ".").prefix(2).joined(separator: ".") })
        #expect(stored.subtracting(topLevel).isEmpty, "not in ApplyComparison.fields: \(stored.subtracting(topLevel).sorted())")
        #expect(topLevel.subtracting(stored).isEmpty, "not in the model: \(topLevel.subtracting(stored).sorted())")
        let changed = Set(Self.serviceChanges.map(\.field) + Self.destinationChanges.map(\.field))
        #expect(changed == Set(classified))
    }

    /// Every attribute of the kernel's service and real-server replies is read into a
    /// classified field.
    @Test func everyKernelAttributeIsClassified() throws {
        let protocolText = try #require(Repository.text("Sources/IPVSNetlink/IPVSProtocol.swift"))
        func attributes(of enumName: String) -> Set<String> {
            guard let start = protocolText.firstRange(of: "enum \(enumName) {") else { return [] }
            let body = protocolText[start.upperBound...].prefix { $0 != "}" }
            return Set(body.split(separator: "\n").compactMap { line -> String? in
                guard let name = line.split(separator: " ").drop(while: { $0 != "let" }).dropFirst().first else {
                    return nil
                }
                return String(name.filter { $0 != "`" && $0 != ":" })
            })
        }
        func classified(_ prefix: String) -> Set<String> {
            Set(ApplyComparison.fields.filter { $0.name.hasPrefix(prefix) }.flatMap(\.attributes))
        }
        let service = attributes(of: "ServiceAttribute")
        let destination = attributes(of: "DestinationAttribute")
        #expect(service.count >= 12 && destination.count >= 15)
        #expect(classified("VirtualService.") == service)
        #expect(classified("Destination.") == destination)
    }

    /// Docs/Applying.md's table is `ApplyComparison.fields`, row for row.
    @Test func theDocumentListsTheSameFields() throws {
        let document = try #require(Repository.text("Docs/Applying.md"))
        let start = try #require(document.firstRange(of: "\n## What is compared\n"))
        var section = document[start.upperBound...]
        if let end = section.firstRange(of: "\n## ") { section = section[..<end.lowerBound] }
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map(String.init)
        let wanted = ApplyComparison.fields.map { field in
            "| `\(field.name)` | " + field.attributes.map { "`\($0)`" }.joined(separator: ", ") + " | \(field.rule) |"
        }
        #expect(rows == wanted)
    }

    /// What the kernel returns that the input cannot give (its own flag, counters, unused
    /// tunnel settings) is no difference: the same file applied twice plans nothing.
    @Test(arguments: 0..<20)
    func theKernelsOwnValuesPlanNothing(seed: Int) {
        // The input's table: no kernel flag, no counters.
        var desired = Self.randomKernelTable(seed: seed)
        for index in desired.entries.indices { desired.entries[index].service.flags.remove(.hashed) }
        var current = desired
        for index in current.entries.indices {
            current.entries[index].service.flags.insert(.hashed)
            current.entries[index].service.stats.connections = 9
            for position in current.entries[index].destinations.indices {
                var d = current.entries[index].destinations[position]
                d.activeConnections = 4
                d.inactiveConnections = 2
                d.persistentConnections = 1
                d.stats.outBytes = 77
                if d.forwarding != .tunnel {
                    d.tunnelType = .gue
                    d.tunnelPort = 4000
                    d.tunnelFlags = [.checksum]
                }
                current.entries[index].destinations[position] = d
            }
        }
        #expect(ApplyPlan(from: current, to: desired, drain: false).steps.isEmpty)
    }
}
