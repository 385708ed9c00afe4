import IPVS

/// The ipvsadm command line as a library: everything `main` does, with the world injected.
public enum IPVSAdm {
    /// Runs one ipvsadm invocation.
    ///
    /// - Parameters:
    ///   - program: `argv[0]`, used in messages exactly as ipvsadm uses it.
    ///   - arguments: the rest of `argv`.
    ///   - host: files, environment and the table lock (`--apply`, `-R`, `--owner`).
    ///   - terminal: opens `--watch`'s full-screen view; nil (or a nil result) prints plain frames.
    ///   - openBackend: connects to the kernel; called once, and not at all for `-h`/`-v`.
    /// - Returns: the process exit status. Output that could not be written (a full disk, a
    ///   closed descriptor) makes it non-zero, with a message: a save that lost rules must not
    ///   look like one that worked. A reader that stopped early (`ipvsadm -Ln | head`) is not
    ///   a failure, as for ipvsadm.
    public static func run(
        program: String, arguments: [String], stdin: any InputSource, stdout: any OutputSink,
        stderr: any OutputSink, resolver: any NameResolver, clock: any Clock = SystemClock(),
        host: any Host = SystemHost(), terminal: (() -> (any WatchTerminal)?)? = nil,
        enterNamespace: (_ namespace: String) throws(IPVSError) -> Void = { _ in },
        openBackend: (_ namespace: String?) throws(IPVSError) -> any IPVSBackend
    ) -> Int32 {
        let status = runCommand(
            program: program, arguments: arguments, stdin: stdin, stdout: stdout, stderr: stderr, resolver: resolver,
            clock: clock, host: host, terminal: terminal, enterNamespace: enterNamespace, openBackend: openBackend)
        guard let failure = stdout.flush(), failure != .brokenPipe else { return status }
        stderr.write("Can't write standard output: \(failure.text)\n")
        _ = stderr.flush()
        return status == 0 ? 1 : status
    }

    private static func runCommand(
        program: String, arguments: [String], stdin: any InputSource, stdout: any OutputSink,
        stderr: any OutputSink, resolver: any NameResolver, clock: any Clock, host: any Host,
        terminal: (() -> (any WatchTerminal)?)?,
        enterNamespace: (_ namespace: String) throws(IPVSError) -> Void,
        openBackend: (_ namespace: String?) throws(IPVSError) -> any IPVSBackend
    ) -> Int32 {
        var arguments = arguments
        let namespace: String?
        do {
            namespace = try beforeKernel(&arguments, program: program)
        } catch {
            return finish(error, stdout: stdout, stderr: stderr)
        }
        // `--doctor`: its command line is checked before the kernel is reached (a real server
        // needs no IPVS at all, and a director without IPVS is a finding).
        var doctor: CommandEntry?
        if isDoctor(arguments) {
            let parser = Parser(program: program, resolver: resolver)
            do throws(Termination) {
                let entry = try parser.parse(Words(arguments))
                if DoctorRequest.isRealServer(entry) {
                    if let namespace {
                        do throws(IPVSError) {
                            try enterNamespace(namespace)
                        } catch {
                            stderr.write("Can't enter network namespace \(namespace): \(error.errno.text)\n")
                            return 255
                        }
                    }
                    return try Runner.realServerDoctor(
                        entry, host: host, parser: Parser(program: program, resolver: resolver, readsRules: true),
                        stdout: stdout)
                }
                doctor = entry
            } catch {
                return finish(DoctorRequest.usageStatus(error), stdout: stdout, stderr: stderr)
            }
        }
        let backend: any IPVSBackend
        let info: IPVSInfo
        do {
            backend = try openBackend(namespace)
            info = try backend.info()
        } catch where error.operation == .enterNetworkNamespace {
            stderr.write("Can't enter network namespace \(namespace ?? ""): \(error.errno.text)\n")
            return doctor == nil ? 2 : 255
        } catch {
            if let doctor {
                // A rules file that cannot be read or parsed is the first thing to say: the
                // module finding would hide it until IPVS is loaded.
                if let path = doctor.rulesFile {
                    do throws(Termination) {
                        _ = try DoctorRules.read(
                            path, host: host, parser: Parser(program: program, resolver: resolver, readsRules: true))
                    } catch {
                        return finish(DoctorRequest.usageStatus(error), stdout: stdout, stderr: stderr)
                    }
                }
                return Runner.missingIPVS(error, json: doctor.options.contains(.json), stdout: stdout)
            }
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
            stdin: stdin, stdout: stdout, stderr: stderr, clock: clock, host: host, namespace: namespace)
        runner.openTerminal = terminal
        do {
            // No arguments at all lists the table.
            let status = try runner.process(arguments.isEmpty ? ["-L"] : arguments)
            return status
        } catch {
            return finish(error, stdout: stdout, stderr: stderr)
        }
    }

    /// Reads, with the option table as the parser reads it, what must be settled before the
    /// kernel is reached:
    /// - `-h` or `-v` as the first word is answered at once: usage and version need no kernel
    ///   (ipvsadm 1.31 initialises IPVS first and fails without it; a deliberate deviation,
    ///   see Docs/Compatibility.md). Anywhere else they are the parser's.
    /// - `--netns NAME|PATH` names the namespace the socket is opened in: before the command,
    ///   as `ip -n` is typed (`ipvsadm --netns blue -Ln`; those words are taken out of
    ///   `arguments`, for the command to come first), or after it like any option.
    ///
    /// - Returns: the namespace, nil for the caller's.
    /// - Throws: `.process`: the answer to `-h`/`-v`, or an error in `--netns`.
    private static func beforeKernel(_ arguments: inout [String], program: String) throws(Termination) -> String? {
        var tokens = Tokenizer(arguments)
        var leading: String?
        var leadingWords = 0
        var later: String?
        // Whether every option read so far was a `--netns` at the start, each word whole.
        var beforeCommand = true
        while true {
            let option: Tokenizer.Option
            do {
                guard let next = try tokens.nextOption() else { break }
                option = next
            } catch {
                // A leading `--netns` without its name is popt's error; any other is left
                // to the parser, which reports it as ipvsadm does.
                if beforeCommand && tokens.leftovers.isEmpty, case .missingArgument(let row) = error,
                    case .option(column: .netns?, _) = optionTable[row].role
                {
                    throw .process(status: 255, stderr: "\(tokens.lastWord): \(error.text)\n")
                }
                break
            }
            let atStart = beforeCommand && tokens.leftovers.isEmpty && !tokens.isInBundle
            switch option.spec.role {
            case .help where atStart && tokens.wordsRead == 1:
                throw .process(status: 0, stdout: Usage.help(program: program))
            case .version where atStart && tokens.wordsRead == 1:
                throw .process(status: 0, stdout: Usage.versionLine)
            case .option(column: .netns?, _):
                if atStart {
                    leading = option.argument
                    leadingWords = tokens.wordsRead
                } else {
                    later = option.argument
                }
            default:
                beforeCommand = false
            }
        }
        if leading != nil && later != nil { throw .fail("multiple '\(OptionBit.netns.name)' options specified") }
        arguments.removeFirst(leadingWords)
        return leading ?? later
    }

    /// Whether the command (the first option) is `--doctor`.
    private static func isDoctor(_ arguments: [String]) -> Bool {
        var tokens = Tokenizer(arguments)
        guard let first = try? tokens.nextOption(), case .command(.doctor) = first.spec.role else { return false }
        return true
    }

    /// Writes how the process ends and gives its status. (popt's errors after the command,
    /// `.line`, never get here: the runner reports them as a failed line.)
    private static func finish(_ termination: Termination, stdout: any OutputSink, stderr: any OutputSink) -> Int32 {
        guard case .process(let status, let out, let err) = termination else {
            preconditionFailure("a popt error outside the runner")
        }
        if !out.isEmpty { stdout.write(out) }
        if !err.isEmpty { stderr.write(err) }
        return status
    }
}
