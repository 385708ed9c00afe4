import IPVS

/// The ipvsadm command line as a library: everything `main` does, with the world injected.
public enum IPVSAdm {
    /// Runs one ipvsadm invocation.
    ///
    /// - Parameters:
    ///   - program: `argv[0]`, used in messages exactly as ipvsadm uses it.
    ///   - arguments: the rest of `argv`.
    ///   - openBackend: connects to the kernel; called once, and not at all for `-h`/`-v`.
    /// - Returns: the process exit status. Output that could not be written (a full disk, a
    ///   closed descriptor) makes it non-zero, with a message: a save that lost rules must not
    ///   look like one that worked. A reader that stopped early (`ipvsadm -Ln | head`) is not
    ///   a failure, as for ipvsadm.
    public static func run(
        program: String, arguments: [String], stdin: any InputSource, stdout: any OutputSink,
        stderr: any OutputSink, resolver: any NameResolver, clock: any Clock = SystemClock(),
        openBackend: (_ namespace: String?) throws(IPVSError) -> any IPVSBackend
    ) -> Int32 {
        let status = runCommand(
            program: program, arguments: arguments, stdin: stdin, stdout: stdout, stderr: stderr, resolver: resolver,
            clock: clock, openBackend: openBackend)
        guard let failure = stdout.flush(), failure != .brokenPipe else { return status }
        stderr.write("Can't write standard output: \(failure.text)\n")
        _ = stderr.flush()
        return status == 0 ? 1 : status
    }

    private static func runCommand(
        program: String, arguments: [String], stdin: any InputSource, stdout: any OutputSink,
        stderr: any OutputSink, resolver: any NameResolver, clock: any Clock,
        openBackend: (_ namespace: String?) throws(IPVSError) -> any IPVSBackend
    ) -> Int32 {
        // -h and -v need no kernel (ipvsadm 1.31 initialises IPVS first and fails
        // without it; a deliberate deviation, see Docs/Compatibility.md).
        if let first = arguments.first, ["-h", "--help", "-v", "--version"].contains(first) {
            return finish(.process(status: 0, stdout: first.hasPrefix("-h") || first == "--help"
                ? Usage.help(program: program) : Usage.versionLine), stdout: stdout, stderr: stderr)
        }
        var arguments = arguments
        let namespace: String?
        do {
            namespace = try networkNamespace(&arguments)
        } catch {
            return finish(error, stdout: stdout, stderr: stderr)
        }
        let backend: any IPVSBackend
        let info: IPVSInfo
        do {
            backend = try openBackend(namespace)
            info = try backend.info()
        } catch where error.operation == .enterNetworkNamespace {
            stderr.write("Can't enter network namespace \(namespace ?? ""): \(error.errno.text)\n")
            return 2
        } catch {
            stderr.write("Can't initialize ipvs: \(error.message)\n"
                + "Are you sure that IP Virtual Server is built in the kernel or as module?\n")
            return 2
        }
        if info.version < 0x01_01_04 {
            stderr.write("Warning: IPVS version mismatch: \n"
                + "  Kernel compiled with IPVS version \(info.versionText)\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n")
        }
        let runner = Runner(
            program: program, backend: backend, info: info, resolver: resolver,
            stdin: stdin, stdout: stdout, stderr: stderr, clock: clock)
        do {
            // No arguments at all lists the table.
            let status = try runner.process(arguments.isEmpty ? ["-L"] : arguments)
            return status
        } catch {
            return finish(error, stdout: stdout, stderr: stderr)
        }
    }

    /// `--netns NAME|PATH`: after the command like any option, or before it as `ip -n` is
    /// typed (`ipvsadm --netns blue -Ln`); a leading one is taken out of `arguments`. It must
    /// be known before the kernel is reached: the socket is opened in that namespace.
    private static func networkNamespace(_ arguments: inout [String]) throws(Termination) -> String? {
        var leading: String?
        while let first = arguments.first, first == "--netns" || first.hasPrefix("--netns=") {
            if first == "--netns" {
                guard arguments.count >= 2 else { throw .process(status: 255, stderr: "--netns: missing argument\n") }
                leading = arguments[1]
                arguments.removeFirst(2)
            } else {
                leading = String(first.dropFirst("--netns=".count))
                arguments.removeFirst()
            }
        }
        // One after the command: found the way the parser will read it (popt's rules).
        var tokens = Tokenizer(arguments)
        var later: String?
        while let option = try? tokens.nextOption() {
            if option.spec.long == "netns" { later = option.argument }
        }
        if leading != nil && later != nil { throw .fail("multiple 'netns' options specified") }
        return leading ?? later
    }

    private static func finish(_ termination: Termination, stdout: any OutputSink, stderr: any OutputSink) -> Int32 {
        switch termination {
        case .process(let status, let out, let err):
            if !out.isEmpty { stdout.write(out) }
            if !err.isEmpty { stderr.write(err) }
            return status
        case .line(let message):
            // Only the runner's lines end this way, and it reports them itself.
            stderr.write(message + "\n")
            return 255
        }
    }
}
