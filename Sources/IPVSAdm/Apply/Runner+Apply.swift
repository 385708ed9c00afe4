import IPVS

/// `--apply`: make the kernel's table the one on standard input, by the fewest changes, all
/// or nothing; `--dry-run` prints the plan instead; `--drain` lets what goes finish first
/// (`Runner+Drain`).
extension Runner {
    /// The commands `--apply` input may hold: what `-S --complete` writes.
    private static let applyCommands: Set<Command> = [.add, .addDest, .timeout, .startDaemon]

    func apply(_ entry: CommandEntry) throws(Termination) -> Int32 {
        let desired = try readDesiredTable()
        let current: TableState
        do {
            current = try TableState.read(from: backend, complete: desired.timeouts != nil || desired.daemons != nil)
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
        let plan = ApplyPlan(from: current, to: desired, drain: entry.drainSeconds != nil)
        if entry.options.contains(.dryRun) {
            stdout.write(plan.text)
            return 0
        }
        return try carryOut(plan, drainSeconds: entry.drainSeconds)
    }

    /// Reads and checks every line before anything changes. Each line is parsed as `-R`
    /// parses it and carried out on an empty in-memory table with the kernel's rules, so a
    /// line `-R` would refuse (a usage error, a real server of a service not defined, a
    /// duplicate, a lower threshold above the upper one) is refused here with ipvsadm's
    /// message, naming the line. What only the kernel knows (which scheduler modules exist,
    /// which real-server addresses it accepts, which interfaces exist) it finds out while applying.
    /// Lines starting with `#` are comments, as in the rules files the wrappers write.
    private func readDesiredTable() throws(Termination) -> TableState {
        let validator = InMemoryBackend()
        validator.schedulers = nil
        validator.persistenceEngines = nil
        validator.interfaces = nil
        var state = TableState()
        var position: [ServiceKey: Int] = [:]
        try forEachInputLine { words, number throws(Termination) in
            func refuse(_ message: String, status: Int32) -> Termination {
                .process(status: status, stderr: "line \(number): " + message + "\n")
            }
            if words.byte(0, 0) == UInt8(ascii: "#") { return }
            let parsed: CommandEntry
            do throws(Termination) {
                parsed = try parser.parse(words)
            } catch {
                switch error {
                case .line(let message): throw refuse(message, status: 255)
                case .process(let status, let out, let err):
                    // -h and -v print on stdout: not a line of a table either.
                    guard out.isEmpty, !err.isEmpty else { throw refuse(Runner.onlyTableLines, status: 2) }
                    throw refuse(String(err.dropLast()), status: status)
                }
            }
            if parsed.namespace != nil { throw refuse(Runner.namespaceInInput, status: 2) }
            guard Runner.applyCommands.contains(parsed.command), let change = modification(for: parsed) else {
                throw refuse(Runner.onlyTableLines, status: 2)
            }
            do throws(IPVSError) {
                try validator.apply(change)
            } catch {
                throw refuse(error.message, status: 255)
            }
            switch change {
            case .addService(let service):
                position[service.key] = state.entries.count
                state.entries.append(TableState.Entry(service: service, destinations: [], line: number))
            case .addDestination(let destination, let service):
                // The validator refused a real server of a service not defined above.
                guard let index = position[service.key] else { break }
                state.entries[index].destinations.append(destination)
                state.entries[index].destinationLines.append(number)
            case .setTimeouts(let timeouts):
                state.timeouts = timeouts
                state.timeoutsLine = number
            case .startDaemon(let daemon):
                state.daemons = (state.daemons ?? []) + [daemon]
                state.daemonLines.append(number)
            default:
                break
            }
        }
        // A complete state (it has `--set`) also says which daemons run: maybe none.
        if state.timeouts != nil && state.daemons == nil { state.daemons = [] }
        return state
    }

    private static let onlyTableLines = "--apply reads -A, -a, --set and --start-daemon lines only"

    /// Runs the plan: every change but the deletions (pipelined), then the wait of `--drain`,
    /// then the deletions. On the first refusal, undoes what was done, in reverse order.
    private func carryOut(_ plan: ApplyPlan, drainSeconds: UInt32?) throws(Termination) -> Int32 {
        var done: [ApplyPlan.Step] = []
        if let failure = run(plan.steps.filter { $0.phase != .remove }, done: &done) {
            return rollBack(done, after: failure)
        }
        if let seconds = drainSeconds, !plan.draining.isEmpty { waitForConnections(plan.draining, seconds: seconds) }
        if let failure = run(plan.steps.filter { $0.phase == .remove }, done: &done) {
            return rollBack(done, after: failure)
        }
        return 0
    }

    /// Carries out steps, many per system call; appends each one the kernel did to `done`.
    /// Returns the first refusal.
    private func run(_ steps: [ApplyPlan.Step], done: inout [ApplyPlan.Step]) -> (ApplyPlan.Step, IPVSError)? {
        guard !steps.isEmpty else { return nil }
        var failure: (ApplyPlan.Step, IPVSError)?
        for (step, result) in zip(steps, backend.perform(steps.map(\.change))) {
            if let error = result {
                if failure == nil { failure = (step, error) }
            } else {
                done.append(step)
            }
        }
        return failure
    }

    /// Reports the refusal, undoes `done` in reverse order, and says how that went.
    private func rollBack(_ done: [ApplyPlan.Step], after failure: (step: ApplyPlan.Step, error: IPVSError)) -> Int32 {
        let what = failure.step.inputLine > 0
            ? "line \(failure.step.inputLine)" : String(failure.step.line.dropLast())
        stderr.write(what + ": " + failure.error.message + "\n")
        let undo = done.reversed().flatMap(\.undo)
        let failed = backend.perform(undo).compactMap { $0 }
        if let first = failed.first {
            stderr.write("--apply: \(failed.count) of \(undo.count) undo steps failed (\(first.message)); "
                + "the table is not as it was\n")
        } else if !done.isEmpty {
            stderr.write("--apply: \(done.count) changes undone; the table is as it was\n")
        }
        return 255
    }
}
