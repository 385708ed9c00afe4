/// How a command line ends when it cannot run normally.
///
/// ipvsadm ends the whole process on usage errors (`fail()`, `tryhelp_exit()`, `-h`, `-v`),
/// even in the middle of `-R`; popt's own errors only fail the current line.
/// Nothing here writes or exits: the runner turns these into output and a status.
enum Termination: Error {
    /// End the process now with this output and status.
    case exit(status: Int32, stdout: String = "", stderr: String = "")

    /// `fail(2, ...)`: the message and a newline on stderr, status 2.
    static func fail(_ message: String) -> Termination {
        .exit(status: 2, stderr: message + "\n")
    }

    /// `tryhelp_exit`: status 255.
    static func tryHelp(_ program: String) -> Termination {
        .exit(status: 255, stderr: "Try `\(program) -h' or '\(program) --help' for more information.\n")
    }
}

/// A popt error after the command: printed, and the line fails with status 255, but
/// `-R` goes on with the next line.
struct LineFailure: Error {
    let message: String
}
