import IPVS
import IPVSAdm

/// What one ipvsadm invocation printed, and its exit status.
public struct Outcome: Equatable, CustomStringConvertible, Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var description: String { "status \(status)\n  stdout \(stdout.debugDescription)\n  stderr \(stderr.debugDescription)" }
}

/// Runs the CLI as `main` does, with the world injected: output into buffers, the hosts of
/// `HostsResolver`, a clock whose sleeps pass at once, files and locks in memory (`FakeHost`),
/// and every network namespace (`--netns`) the one kernel given.
public enum CLI {
    public static let program = "ipvsadm"

    /// One invocation against `backend`; `opened` is told the network namespace it asked for
    /// (`--netns`), when it got as far as opening the kernel. `stdout` may be a sink that fails.
    public static func run(
        _ arguments: [String], on backend: any IPVSBackend, stdin: any InputSource = TextSource(""),
        stdout: BufferSink = BufferSink(), resolver: any NameResolver = HostsResolver.shared,
        clock: any Clock = FakeClock(), host: FakeHost = FakeHost(), opened: (String?) -> Void = { _ in }
    ) -> Outcome {
        let stderr = BufferSink()
        let status = IPVSAdm.run(
            program: program, arguments: arguments, stdin: stdin, stdout: stdout, stderr: stderr, resolver: resolver,
            clock: clock, host: host,
            openBackend: { (namespace) throws(IPVSError) in
                opened(namespace)
                return backend
            })
        return Outcome(status: status, stdout: stdout.text, stderr: stderr.text)
    }

    /// The same with `stdin` as text.
    public static func run(
        _ arguments: [String], on backend: any IPVSBackend, stdin: String, resolver: any NameResolver = HostsResolver.shared,
        clock: any Clock = FakeClock(), host: FakeHost = FakeHost()
    ) -> Outcome {
        run(arguments, on: backend, stdin: TextSource(stdin), resolver: resolver, clock: clock, host: host)
    }
}
