import IPVS

/// `--apply`: make the kernel's table the one on standard input, by the fewest changes, all
/// or nothing; `--dry-run` prints the plan instead; `--drain` lets what goes finish first
/// (`Runner+Drain`).
extension Runner {
    /// The commands `--apply` input may hold: what `-S --complete` writes.
    private static let applyCommands: Set<Command> = [.add, .addDest, .timeout, .startDaemon]

    func apply(_ entry: CommandEntry) throws(Termination) -> Int32 {
        var desired = try readDesiredTable()
        let dryRun = entry.options.contains(.dryRun)
        var scope = TableScope(items: entry.scopes)
        let record = entry.owner.map(ownerRecord)
        // A service the input names outside the scope given would be ignored: refused instead.
        if record == nil && !scope.isWholeTable {
            let rules = RuleRenderer(names: EndpointNames(numeric: true, resolver: resolver))
            if let outside = desired.entries.first(where: { !scope.contains($0.service.key) }) {
                throw .process(
                    status: 2,
                    stderr: "line \(outside.line): the service \(rules.serviceOptions(outside.service.key)) is outside "
                        + "the --scope given; nothing was changed\n")
            }
        }
        // One writer at a time, from the first read of the table to its verification. A dry
        // run only reads.
        let lock = dryRun ? nil : try takeTableLock(wait: entry.lockWait, warnIfUnavailable: true)
        defer { lock?.release() }
        if let record {
            // What this file owns: what it names, and what an earlier apply of it left.
            var owned = Set(desired.entries.map(\.service.key))
            owned.formUnion(try record.read(from: host, parser: parser))
            scope.owned = owned
        }
        let current = try readTable(for: desired, scope: scope)
        keepHealthWeights(&desired, current: current)
        if desired.entries.isEmpty && !entry.options.contains(.allowEmpty) {
            let services = current.entries.count == 1 ? "service" : "services"
            throw .process(
                status: 2,
                stderr: "ipvsadm: --apply: the input has no -A line: it would delete all \(current.entries.count) "
                    + "\(services) \(scope.isWholeTable ? "of the table" : "in the scope"); nothing was changed "
                    + "(--allow-empty applies an empty table)\n")
        }
        let plan = ApplyPlan(from: current, to: desired, drain: entry.drainSeconds != nil)
        if dryRun {
            stdout.write(plan.text)
            return 0
        }
        let status = try carryOut(plan, drainSeconds: entry.drainSeconds)
        guard status == 0 else { return status }
        // The file's services are in the kernel now: recorded before anything else can fail.
        var recorded = true
        if let record {
            let text = OwnerRecord.text(desired.entries.map(\.service.key), resolver: resolver)
            do {
                try host.writeFileAtomically(record.path, contents: Array(text.utf8))
            } catch {
                stderr.write("ipvsadm: the table was applied, but the ownership record \(record.path) "
                    + "could not be written: \(error.text)\n")
                recorded = false
            }
        }
        // Nothing changed: the read the plan came from is the verification (a reload of an
        // unchanged file reads the table once).
        let verified = plan.steps.isEmpty ? 0 : try verify(desired, scope: scope)
        return verified == 0 && !recorded ? 1 : verified
    }

    /// `--owner NAME`'s record in this namespace.
    func ownerRecord(_ owner: String) -> OwnerRecord {
        OwnerRecord(owner: owner, namespace: namespace, stateDirectory: host.environment("IPVSADM_STATE_DIR"))
    }

    /// The kernel's table as `desired` is compared with it: the services of `scope`, and the
    /// timeouts and daemons when `desired` manages them. With a scope, only the daemons the
    /// input names are managed (another agent's sync daemon is not stopped).
    private func readTable(for desired: TableState, scope: TableScope) throws(Termination) -> TableState {
        var current: TableState
        do {
            current = try TableState.read(
                from: backend, complete: desired.timeouts != nil || desired.daemons != nil, scope: scope)
        } catch {
            throw .process(status: 1, stderr: error.message + "\n")
        }
        if !scope.isWholeTable, let wanted = desired.daemons {
            current.daemons = current.daemons?.filter { daemon in wanted.contains { $0.state == daemon.state } }
        }
        return current
    }

    /// Re-reads the scoped table after the apply and compares it with the desired one (the
    /// plan's comparison). A difference is another writer's change: reported as the plan that
    /// undoes it, status 3; never retried.
    private func verify(_ desired: TableState, scope: TableScope) throws(Termination) -> Int32 {
        // Test only (Docs/Applying.md): a command run between applying and verifying.
        if let hook = host.environment("IPVSADM_TEST_AFTER_APPLY"), !hook.isEmpty { _ = host.runCommand(hook) }
        let drift = ApplyPlan(from: try readTable(for: desired, scope: scope), to: desired, drain: false)
        guard !drift.steps.isEmpty else { return 0 }
        stderr.write("ipvsadm: the table changed while it was applied; to undo the change:\n" + drift.text)
        return 3
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
        let parser = rulesParser
        var checks = CheckReader()
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
            // Health checks are the checker's (ipvsadm-health): checked here, not programmed.
            if parsed.check != nil || checks.hasDeclarations {
                do throws(HealthDeclarationError) {
                    try checks.read(parsed, line: number)
                } catch {
                    throw refuse(error.message, status: 2)
                }
            }
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
