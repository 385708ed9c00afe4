import IPVS
import IPVSTestSupport
import IPVSAdm

/// `roundtrip`: the input, as `-R` input, builds a table (its errors do not matter). Then:
/// - `-Sn --complete` succeeds, and `-R` of that text into a fresh kernel succeeds silently;
/// - the fresh kernel saves to the very same bytes, or to the same lines in another order when
///   ipvsadm's order is not a total order on the table (see `sortsAsNumbers`);
/// - it holds the same table (order aside): a save loses nothing, except what the kernel
///   ignores (the netmask and timeout of a service without persistence, see `meaningful`);
/// - `-S --complete` with host and service names, restored into a third kernel, gives the
///   same `-Sn --complete` (names are read back with the same resolver; IPv6 addresses have
///   no names here, see `HostsResolver`).
enum RoundTripCheck {
    /// - Parameter kernel: makes the kernels the saves are restored into (tests pass a faulty
    ///   one); the table is built in `Harness.kernel()`.
    static func run(_ input: [UInt8], kernel: () -> any IPVSBackend = Harness.kernel) throws(FuzzFailure) {
        let original = Harness.kernel()
        _ = CLI.run(["-R"], on: original, stdin: TextSource(String(decoding: input, as: UTF8.self)))

        let saved = CLI.run(["-Sn", "--complete"], on: original)
        try expect(saved.status == 0 && saved.stderr.isEmpty, "ipvsadm -Sn --complete: \(saved)")
        let copy = kernel()
        let restored = CLI.run(["-R"], on: copy, stdin: TextSource(saved.stdout))
        try expect(
            restored == Outcome(status: 0, stdout: "", stderr: ""),
            "restoring the save failed: \(restored)\nthe save:\n\(saved.stdout)")
        let again = CLI.run(["-Sn", "--complete"], on: copy)
        let total = sortsAsNumbers(TableSnapshot(original))
        try expect(
            sameSave(again.stdout, saved.stdout, ordered: total),
            "the restored table saves differently:\n\(saved.stdout)became\n\(again.stdout)")
        let (before, after) = (meaningful(TableSnapshot(original)), meaningful(TableSnapshot(copy)))
        try expect(
            before == after,
            "the save lost something: \(after.difference(from: before))\nthe save:\n\(saved.stdout)")

        let names = HostsResolver(ipv6Names: false)
        let named = CLI.run(["-S", "--complete"], on: original, resolver: names)
        try expect(named.status == 0 && named.stderr.isEmpty, "ipvsadm -S --complete: \(named)")
        let third = kernel()
        let restoredNamed = CLI.run(["-R"], on: third, stdin: TextSource(named.stdout), resolver: names)
        try expect(
            restoredNamed == Outcome(status: 0, stdout: "", stderr: ""),
            "restoring the save with names failed: \(restoredNamed)\nthe save:\n\(named.stdout)")
        let numeric = CLI.run(["-Sn", "--complete"], on: third)
        try expect(
            sameSave(numeric.stdout, saved.stdout, ordered: total),
            "the save with names restores differently:\n\(named.stdout)restored as\n\(numeric.stdout)"
                + "instead of\n\(saved.stdout)")
    }

    /// Two saves are the same: byte for byte if `ordered`, else the same lines in any order.
    static func sameSave(_ a: String, _ b: String, ordered: Bool) -> Bool {
        if a == b { return true }
        if ordered { return false }
        return a.split(separator: "\n").sorted() == b.split(separator: "\n").sorted()
    }

    /// Whether ipvsadm's comparators order this table's services, and each service's real
    /// servers, as numbers do. They subtract 32-bit fields into an `int`, so two keys whose
    /// first differing field differs by more than 2^31 compare backwards (and a real server
    /// is compared by the first operand's family): then the order is not a total one, and
    /// what the merge sort makes of it depends on the order the kernel lists the table in,
    /// which a restore changes. ipvsadm 1.31 saves such a table in another order after a
    /// restore too (`Sources/IPVSAdm/Sorting.swift` reproduces it).
    static func sortsAsNumbers(_ table: TableSnapshot) -> Bool {
        func consistent(_ keys: [[UInt32]]) -> Bool {
            for a in keys {
                for b in keys {
                    guard let index = a.indices.first(where: { a[$0] != b[$0] }) else { continue }
                    let difference = Int64(a[index]) - Int64(b[index])
                    if difference > Int64(Int32.max) || difference < Int64(Int32.min) { return false }
                }
            }
            return true
        }
        func words(_ address: IPAddress) -> [UInt32] {
            let w = address.words
            return [w.0, w.1, w.2, w.3]
        }
        let services = table.services.map { service in
            [service.key.fwmark, UInt32(service.key.family.rawValue), UInt32(service.key.protocolNumber.rawValue)]
                + words(service.key.address) + [UInt32(service.key.port)]
        }
        guard consistent(services) else { return false }
        for destinations in table.destinations {
            if Set(destinations.map(\.address.family)).count > 1 { return false }
            guard consistent(destinations.map { words($0.address) + [UInt32($0.port)] }) else { return false }
        }
        return true
    }

    /// The table as far as the kernel acts on it, in a canonical order: without persistence a
    /// service's netmask and timeout mean nothing (`-L` and `-S` show them only with `-p`).
    static func meaningful(_ snapshot: TableSnapshot) -> TableSnapshot {
        var copy = snapshot.unordered
        copy.services = copy.services.map { service in
            var service = service
            if !service.flags.contains(.persistent) {
                service.timeout = 0
                service.netmask = service.key.family == .inet6 ? 128 : 0xffff_ffff
            }
            return service
        }
        return copy
    }
}
