import IPVS
import IPVSTestSupport

/// `argv`: the input is lines, each one argument vector (words split at spaces, empty words
/// kept; a NUL splits too, as no C argument holds one; an empty line is no argument at all),
/// or, when it starts with `<`, a line of standard input for the next vector (`-R`,
/// `--apply`). The vectors run one after the other against one kernel, so later lines meet
/// the table earlier ones built. For every vector:
/// - the status is one of ipvsadm's: 0, 1 (a listing failed), 2 (a usage error), 255 (a
///   refused change, popt's errors, "Try ...");
/// - a command that fails leaves the kernel's state exactly as it was (services in order,
///   real servers, timeouts, daemons: compared as values, stricter than any listing); this
///   is also `--apply`'s all or nothing. `-R` is the exception: it carries out its input line
///   by line, and its status is its last line's (the `restore` target checks it);
/// - a command that succeeds prints nothing on stderr (`-R` aside again).
enum ArgvCheck {
    /// Lines read per input: a bound on the time one input takes.
    static let maximumLines = 64

    /// - Parameter kernel: makes the kernel the lines run against (tests pass a faulty one).
    static func run(_ input: [UInt8], kernel: () -> any IPVSBackend = Harness.kernel) throws(FuzzFailure) {
        let backend = kernel()
        var stdin = ""
        for line in input.split(separator: 0x0a, omittingEmptySubsequences: false).prefix(maximumLines) {
            if line.first == 0x3c {
                stdin += String(decoding: line.dropFirst(), as: UTF8.self) + "\n"
                continue
            }
            let arguments = words(line)
            let before = TableSnapshot(backend)
            let input = WatchedInput(stdin)
            stdin = ""
            let outcome = CLI.run(arguments, on: backend, stdin: input)
            let command = "ipvsadm " + arguments.map(quoted).joined(separator: " ")
            try expect([0, 1, 2, 255].contains(outcome.status), "\(command): \(outcome)")
            if input.wasRead && isRestore(arguments) { continue }
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

    /// Whether the command is `-R` (`--restore`, or `-R` first in a bundle), after any
    /// `--netns` given before it.
    static func isRestore(_ arguments: [String]) -> Bool {
        var rest = arguments[...]
        while let first = rest.first, first == "--netns" || first.hasPrefix("--netns=") {
            rest = rest.dropFirst(first == "--netns" ? 2 : 1)
        }
        guard let command = rest.first else { return false }
        return command == "--restore" || command.hasPrefix("-R")
    }
}
