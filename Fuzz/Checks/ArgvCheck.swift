import IPVS

/// `argv`: the input is lines, each one argument vector (words split at spaces, empty words
/// kept; a NUL splits too, as no C argument holds one; an empty line is no argument at all).
/// They run one after the other against one kernel, so later lines meet the table earlier ones
/// built. For every line:
/// - the status is one of ipvsadm's: 0, 1 (a listing failed), 2 (a usage error), 255 (a
///   refused change, popt's errors, "Try ...");
/// - a line that fails leaves the kernel's state exactly as it was (services in order, real
///   servers, timeouts, daemons: compared as values, stricter than any listing);
/// - a line that succeeds prints nothing on stderr.
enum ArgvCheck {
    /// Lines read per input: a bound on the time one input takes.
    static let maximumLines = 48

    /// - Parameter kernel: makes the kernel the lines run against (tests pass a faulty one).
    static func run(_ input: [UInt8], kernel: () -> any IPVSBackend = Harness.kernel) throws(FuzzFailure) {
        let backend = kernel()
        for line in input.split(separator: 0x0a, omittingEmptySubsequences: false).prefix(maximumLines) {
            let arguments = words(line)
            let before = TableSnapshot(backend)
            let outcome = Harness.run(arguments, on: backend)
            let command = "ipvsadm " + arguments.map(quoted).joined(separator: " ")
            try expect([0, 1, 2, 255].contains(outcome.status), "\(command): \(outcome)")
            if outcome.status == 0 {
                try expect(outcome.stderr.isEmpty, "\(command) succeeded with a message: \(outcome)")
            } else {
                let after = TableSnapshot(backend)
                try expect(
                    after == before,
                    "\(command) failed (\(outcome)) but changed the table: \(after.difference(from: before))")
            }
        }
    }

    static func words(_ line: ArraySlice<UInt8>) -> [String] {
        if line.isEmpty { return [] }
        return line.split(omittingEmptySubsequences: false, whereSeparator: { $0 == 0x20 || $0 == 0 })
            .map { String(decoding: $0, as: UTF8.self) }
    }
}
