/// How a command line ends when it cannot run to its normal end: ipvsadm's `fail()` and
/// `tryhelp_exit()`, `-h` and `-v` after other words, popt's errors, a listing the kernel
/// refused. Nothing here writes or exits: the runner turns these into output and a status.
enum Termination: Error {
    /// The whole process ends with this output and status, even in the middle of `-R`.
    case process(status: Int32, stdout: String = "", stderr: String = "")
    /// popt refused an option after the command: its message is printed, the line fails with
    /// status 255, and `-R` goes on with the next line.
    case line(message: String)

    /// `fail(2, ...)`: the message and a newline on stderr, status 2.
    static func fail(_ message: String) -> Termination {
        .process(status: 2, stderr: message + "\n")
    }

    /// `tryhelp_exit`: status 255.
    static func tryHelp(_ program: String) -> Termination {
        .process(status: 255, stderr: "Try `\(program) -h' or '\(program) --help' for more information.\n")
    }
}
