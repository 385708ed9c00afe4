import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// `--scope`, `--owner`, `--allow-empty`, the table lock and the verification of `--apply`
/// (Docs/Applying.md), against the in-memory kernel and an in-memory host.
@Suite struct ScopedApplyTests {
    @discardableResult
    static func run(_ backend: InMemoryBackend, _ arguments: [String], stdin: String = "", host: FakeHost = FakeHost())
        -> Outcome
    {
        CLI.run(arguments, on: backend, stdin: TextSource(stdin), host: host)
    }

    static func loaded(_ rules: String) -> InMemoryBackend {
        let backend = InMemoryBackend()
        let result = run(backend, ["-R"], stdin: rules)
        precondition(result.status == 0 && result.stderr.isEmpty, "could not load: \(result.stderr)")
        return backend
    }

    static func save(_ backend: InMemoryBackend, _ options: [String] = []) -> String {
        run(backend, ["-Sn"] + options).stdout
    }

    /// Another agent's services (keepalived's, say), and ours in 10.1.0.0/24 and fwmarks 100-199.
    static let theirs = """
        -A -t 192.168.3.1:80 -s rr
        -a -t 192.168.3.1:80 -r 10.9.0.1:80 -m -w 1
        -A -f 7 -s wlc
        -A -t [2001:db8:1::1]:443 -s sh

        """
    static let ours = """
        -A -t 10.1.0.1:80 -s rr
        -a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1
        -A -f 100 -s wlc

        """
    static let wanted = """
        -A -t 10.1.0.2:80 -s wrr
        -a -t 10.1.0.2:80 -r 10.2.0.3:80 -m -w 2
        -A -f 150 -s rr

        """

    /// The lines of a save that `scope` covers / does not.
    static func lines(_ save: String, where keep: (Substring) -> Bool) -> [Substring] {
        save.split(separator: "\n").filter(keep)
    }
    static func isOurs(_ line: Substring) -> Bool { line.contains(" 10.1.0.") || line.contains(" -f 1") }

    // MARK: Scope

    @Test func aScopedApplyTouchesNothingOutsideIt() {
        let backend = Self.loaded(Self.theirs + Self.ours)
        let before = Self.save(backend)
        let scope = ["--scope", "10.1.0.0/24", "--scope", "fwmark:100-199"]
        let plan = Self.run(backend, ["--apply", "--dry-run"] + scope, stdin: Self.wanted)
        #expect(plan.status == 0 && plan.stderr.isEmpty, "\(plan)")
        #expect(!plan.stdout.contains("192.168.3.1") && !plan.stdout.contains("-f 7") && !plan.stdout.contains("2001"))
        let result = Self.run(backend, ["--apply"] + scope, stdin: Self.wanted)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        let after = Self.save(backend)
        #expect(Self.lines(after) { !Self.isOurs($0) } == Self.lines(before) { !Self.isOurs($0) })
        #expect(Self.lines(after, where: Self.isOurs) == Self.lines(Self.save(Self.loaded(Self.wanted))) { _ in true })
        // -S and -L of the scope show only it.
        #expect(Self.save(backend, scope) == Self.save(Self.loaded(Self.wanted)))
        let listing = Self.run(backend, ["-Ln"] + scope).stdout
        #expect(listing.contains("10.1.0.2:80") && !listing.contains("192.168.3.1"))
    }

    @Test(arguments: [
        ("192.168.3.1", ["-A -t 192.168.3.1:80 -s rr", "-a -t 192.168.3.1:80 -r 10.9.0.1:80 -m -w 1"]),
        ("192.168.0.0/16", ["-A -t 192.168.3.1:80 -s rr", "-a -t 192.168.3.1:80 -r 10.9.0.1:80 -m -w 1"]),
        ("2001:db8:1::/48", ["-A -t [2001:db8:1::1]:443 -s sh"]),
        ("fwmark:7", ["-A -f 7 -s wlc"]),
        ("fwmark:0x5-0x8", ["-A -f 7 -s wlc"]),
        ("0.0.0.0/0", ["-A -t 192.168.3.1:80 -s rr", "-a -t 192.168.3.1:80 -r 10.9.0.1:80 -m -w 1",
                       "-A -t 10.1.0.1:80 -s rr", "-a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1"]),
    ])
    func scopeForms(scope: String, saved: [String]) {
        let backend = Self.loaded(Self.theirs + Self.ours)
        #expect(Self.save(backend, ["--scope", scope]).split(separator: "\n").map(String.init) == saved)
    }

    @Test(arguments: ["10.1.0.0/33", "10.1.0.0/", "10.1.0", "fwmark:", "fwmark:9-3", "fwmark:x", "2001:db8::/129", "any"])
    func aBadScopeIsRefusedNamingIt(scope: String) {
        let backend = Self.loaded(Self.ours)
        let before = Self.save(backend)
        let result = Self.run(backend, ["--apply", "--scope", scope], stdin: Self.wanted)
        #expect(result.status == 2)
        #expect(result.stderr.contains("`\(scope)'"), "\(result)")
        #expect(Self.save(backend) == before)
    }

    @Test func anInputServiceOutsideTheScopeIsRefused() {
        let backend = Self.loaded(Self.ours)
        let before = Self.save(backend)
        let result = Self.run(backend, ["--apply", "--scope", "10.1.0.0/24"], stdin: Self.wanted)
        #expect(result.status == 2)
        #expect(result.stderr == "line 3: the service -f 150 is outside the --scope given; nothing was changed\n")
        #expect(Self.save(backend) == before)
    }

    @Test func aScopeListsTheTableOfServicesOnly() {
        let result = Self.run(Self.loaded(Self.ours), ["-Lnc", "--scope", "10.1.0.0/24"])
        #expect(result.status == 2 && result.stderr == "options conflicts in the list command\n", "\(result)")
    }

    // MARK: Owner

    static let record = "/var/lib/ipvsadm/owners/default/rules"

    @Test func theOwnerRecordIsWrittenAfterASuccessOnly() {
        let host = FakeHost()
        let backend = Self.loaded(Self.theirs)
        #expect(Self.run(backend, ["--apply", "--dry-run", "--owner", "rules"], stdin: Self.ours, host: host).status == 0)
        #expect(host.files.isEmpty, "a dry run wrote the record")
        let result = Self.run(backend, ["--apply", "--owner", "rules"], stdin: Self.ours, host: host)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        #expect(host.text(Self.record) == "-t 10.1.0.1:80\n-f 100\n")
        // A refused apply leaves it as it was.
        backend.refusal = { _ in .noSuchDevice }
        #expect(Self.run(backend, ["--apply", "--owner", "rules"], stdin: Self.wanted, host: host).status == 255)
        #expect(host.text(Self.record) == "-t 10.1.0.1:80\n-f 100\n")
    }

    @Test func aServiceRemovedFromTheFileGoesAndOthersStay() {
        let host = FakeHost()
        let backend = Self.loaded(Self.theirs)
        #expect(Self.run(backend, ["--apply", "--owner", "rules"], stdin: Self.ours, host: host).status == 0)
        let before = Self.save(backend)
        // The file drops -f 100 and adds 10.1.0.2: -f 100 is the record's, so it is deleted.
        let result = Self.run(backend, ["--apply", "--owner", "rules"], stdin: Self.wanted, host: host)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        let after = Self.save(backend)
        #expect(Self.lines(after) { !Self.isOurs($0) } == Self.lines(before) { !Self.isOurs($0) })
        #expect(Self.lines(after, where: Self.isOurs) == Self.lines(Self.save(Self.loaded(Self.wanted))) { _ in true })
        #expect(host.text(Self.record) == "-t 10.1.0.2:80\n-f 150\n")
        // -S --owner: the services of the record.
        #expect(Self.run(backend, ["-Sn", "--owner", "rules"], host: host).stdout == Self.save(Self.loaded(Self.wanted)))
    }

    @Test func withoutARecordOnlyWhatTheFileNamesIsInScope() {
        let backend = Self.loaded(Self.theirs + Self.ours)
        let plan = Self.run(backend, ["--apply", "--dry-run", "--owner", "rules"], stdin: Self.wanted).stdout
        #expect(plan == "-A -t 10.1.0.2:80 -s wrr\n-a -t 10.1.0.2:80 -r 10.2.0.3:80 -m -w 2\n-A -f 150 -s rr\n")
        #expect(Self.save(backend, ["--owner", "rules"]) == "")
    }

    @Test func aStaleRecordIgnoresWhatIsGoneAndOwnsWhatIsThere() {
        let host = FakeHost()
        host.files[Self.record] = Array("-t 10.1.0.1:80\n-u 10.7.0.1:53\n# a comment\nnot a key\n".utf8)
        let backend = Self.loaded(Self.theirs + Self.ours)
        let plan = Self.run(backend, ["--apply", "--dry-run", "--owner", "rules"], stdin: "-A -f 100 -s wlc\n", host: host)
        #expect(plan.status == 0 && plan.stdout == "-D -t 10.1.0.1:80\n", "\(plan)")
    }

    @Test func theRecordIsPerNamespace() {
        let host = FakeHost()
        let backend = InMemoryBackend()
        host.variables["IPVSADM_STATE_DIR"] = "/state"
        #expect(Self.run(backend, ["--netns", "blue", "--apply", "--owner", "a"], stdin: Self.ours, host: host).status == 0)
        #expect(Self.run(backend, ["--apply", "--owner", "b", "--netns", "/proc/1/ns/net"], stdin: Self.ours, host: host).status == 0)
        #expect(Set(host.files.keys) == ["/state/owners/blue/a", "/state/owners/%proc%1%ns%net/b"])
    }

    @Test(arguments: ["", "../x", "a/b", "..", "a b"])
    func aBadOwnerNameIsRefused(name: String) {
        let result = Self.run(Self.loaded(Self.ours), ["--apply", "--owner", name], stdin: Self.wanted)
        #expect(result.status == 2 && result.stderr.contains("invalid owner name"), "\(result)")
    }

    @Test func aRecordThatCannotBeWrittenIsReported() {
        let host = FakeHost()
        host.writeFailure = .noSpace
        let result = Self.run(InMemoryBackend(), ["--apply", "--owner", "rules"], stdin: Self.ours, host: host)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("ipvsadm: the table was applied, but the ownership record \(Self.record)"))
    }

    // MARK: Never an accidental flush

    /// An empty file, comments only, a truncated file that lost its -A lines (its -a lines
    /// are refused as ipvsadm refuses a real server of no service; its --set alone is an
    /// input without services).
    @Test(arguments: ["", "# only a comment\n\n", "--set 0 0 0\n", "-a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1\n"])
    func anInputWithoutServicesIsRefused(input: String) {
        let backend = Self.loaded(Self.theirs + Self.ours)
        let before = Self.save(backend)
        for dryRun in [[], ["--dry-run"]] {
            let result = Self.run(backend, ["--apply"] + dryRun, stdin: input)
            #expect(result.stdout == "")
            if input.hasPrefix("-a") {
                #expect(result.status == 255 && result.stderr.hasPrefix("line 1: "), "\(result)")
            } else {
                #expect(result.status == 2)
                #expect(result.stderr == "ipvsadm: --apply: the input has no -A line: it would delete all 5 services "
                    + "of the table; nothing was changed (--allow-empty applies an empty table)\n")
            }
        }
        #expect(Self.save(backend) == before)
    }

    @Test func anEmptyScopeIsRefusedUnlessMeant() {
        let backend = Self.loaded(Self.theirs + Self.ours)
        let scope = ["--scope", "10.1.0.0/24"]
        let refused = Self.run(backend, ["--apply"] + scope, stdin: "")
        #expect(refused.stderr.contains("it would delete all 1 service in the scope"), "\(refused)")
        #expect(Self.run(backend, ["--apply", "--allow-empty"] + scope, stdin: "").status == 0)
        #expect(Self.save(backend, scope) == "")
        #expect(Self.save(backend).contains("-f 100"))
    }

    // MARK: Lock

    @Test func applyAndRestoreTakeTheNamespacesLock() {
        let host = FakeHost()
        host.variables["IPVSADM_RUN_DIR"] = "/run/test"
        let backend = InMemoryBackend()
        #expect(Self.run(backend, ["--apply"], stdin: Self.ours, host: host).status == 0)
        #expect(Self.run(backend, ["-R"], stdin: Self.wanted, host: host).status == 0)
        #expect(Self.run(backend, ["--apply", "--dry-run"], stdin: Self.ours, host: host).status == 0)
        #expect(Self.run(backend, ["-A", "-t", "10.5.0.1:80"], host: host).status == 0)
        #expect(Self.run(backend, ["-Sn"], host: host).status == 0)
        #expect(host.lockPaths == ["/run/test/lock-4026531840", "/run/test/lock-4026531840"])
        #expect(host.heldLocks.isEmpty)
    }

    @Test(arguments: [["--apply"], ["-R"], ["--apply", "--lock-wait", "2"], ["-R", "--lock-wait", "0"]])
    func aHeldLockIsWaitedForThenStatus4(arguments: [String]) {
        let host = FakeHost()
        host.lockHeldElsewhere = true
        let backend = Self.loaded(Self.ours)
        let before = Self.save(backend)
        let clock = FakeClock()
        let result = CLI.run(arguments, on: backend, stdin: TextSource(Self.wanted), clock: clock, host: host)
        let wait = arguments.count == 3 ? arguments[2] : "30"
        #expect(result.status == 4)
        #expect(result.stderr == "ipvsadm: another --apply or -R is changing this table "
            + "(lock /run/ipvsadm/lock-4026531840 held for \(wait) s)\n")
        #expect(clock.now == Double(wait)!)
        #expect(Self.save(backend) == before)
    }

    @Test func withoutALockFileRestoreIsSilentAndApplyWarns() {
        let host = FakeHost()
        host.lockUnavailable = .notPermitted
        let backend = InMemoryBackend()
        let restored = Self.run(backend, ["-R"], stdin: Self.ours, host: host)
        #expect(restored == Outcome(status: 0, stdout: "", stderr: ""))
        let applied = Self.run(backend, ["--apply"], stdin: Self.wanted, host: host)
        #expect(applied.status == 0)
        #expect(applied.stderr == "ipvsadm: warning: going on without the table lock "
            + "(/run/ipvsadm/lock-4026531840: Operation not permitted)\n")
        #expect(Self.save(backend) == Self.save(Self.loaded(Self.wanted)))
    }

    // MARK: Verification

    @Test func anotherWritersChangeIsReportedAsThePlanThatUndoesIt() {
        let host = FakeHost()
        let backend = Self.loaded(Self.theirs)
        host.variables["IPVSADM_TEST_AFTER_APPLY"] = "edit"
        var commands: [String] = []
        host.commands = { command in
            commands.append(command)
            // keepalived or a person, between the apply and its verification: an in-scope
            // real server reweighted, an out-of-scope service added (not reported).
            try? backend.apply(.updateDestination(
                Destination(address: IPAddress(ipv4: 0x0a02_0001), port: 80, forwarding: .masquerading, weight: 9),
                in: VirtualService(key: .address(protocol: .tcp, address: IPAddress(ipv4: 0x0a01_0001), port: 80),
                                   scheduler: "rr")))
            try? backend.apply(.addService(VirtualService(
                key: .address(protocol: .tcp, address: IPAddress(ipv4: 0xc0a8_0309), port: 80), scheduler: "rr")))
            return 0
        }
        let result = Self.run(backend, ["--apply", "--owner", "rules"], stdin: Self.ours, host: host)
        #expect(commands == ["edit"])
        #expect(result.status == 3)
        #expect(result.stderr == "ipvsadm: the table changed while it was applied; to undo the change:\n"
            + "-e -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1\n")
        #expect(host.text(Self.record) == "-t 10.1.0.1:80\n-f 100\n")
        // The same drift, seen by a dry run: the plan that undoes it.
        #expect(Self.run(backend, ["--apply", "--dry-run", "--owner", "rules"], stdin: Self.ours, host: host).stdout
            == "-e -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1\n")
    }

    /// The kernel, and another writer that deletes a service of the scope once the first
    /// change has been made and the table is read again (the verification's read).
    final class RacingKernel: IPVSBackend {
        let kernel: InMemoryBackend
        let victim: VirtualService
        var changed = false
        var raced = false

        init(_ kernel: InMemoryBackend, deleting victim: VirtualService) {
            self.kernel = kernel
            self.victim = victim
        }

        func info() throws(IPVSError) -> IPVSInfo { try kernel.info() }
        func apply(_ modification: Modification) throws(IPVSError) {
            changed = true
            try kernel.apply(modification)
        }
        func services() throws(IPVSError) -> [VirtualService] {
            if changed && !raced {
                raced = true
                try kernel.apply(.deleteService(victim))
            }
            return try kernel.services()
        }
        func service(_ key: ServiceKey) throws(IPVSError) -> VirtualService { try kernel.service(key) }
        func destinations(of service: VirtualService) throws(IPVSError) -> [Destination] {
            try kernel.destinations(of: service)
        }
        func timeouts() throws(IPVSError) -> Timeouts { try kernel.timeouts() }
        func daemons() throws(IPVSError) -> [SyncDaemon] { try kernel.daemons() }
        func connectionTable() throws(Errno) -> String { try kernel.connectionTable() }
    }

    @Test func aServiceDeletedByAnotherWriterIsReportedOnceAndNotRetried() {
        let kernel = Self.loaded(Self.theirs)
        let racing = RacingKernel(kernel, deleting: VirtualService(key: .firewallMark(100, family: .inet)))
        let result = CLI.run(["--apply", "--scope", "fwmark:100-199", "--scope", "10.1.0.0/24"], on: racing,
                             stdin: TextSource(Self.ours))
        #expect(result.status == 3)
        #expect(result.stderr == "ipvsadm: the table changed while it was applied; to undo the change:\n"
            + "-A -f 100 -s wlc\n")
        #expect(!Self.save(kernel).contains("-f 100"), "the apply retried")
    }

    @Test func aDryRunOnAHandChangedTableShowsTheDriftAsThePlan() {
        let backend = Self.loaded(Self.ours)
        #expect(Self.run(backend, ["-e", "-t", "10.1.0.1:80", "-r", "10.2.0.1:80", "-m", "-w", "5"]).status == 0)
        #expect(Self.run(backend, ["-a", "-t", "10.1.0.1:80", "-r", "10.2.0.9:80", "-m"]).status == 0)
        #expect(Self.run(backend, ["-D", "-f", "100"]).status == 0)
        let plan = Self.run(backend, ["--apply", "--dry-run"], stdin: Self.ours)
        #expect(plan.stdout == """
            -A -f 100 -s wlc
            -e -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1
            -d -t 10.1.0.1:80 -r 10.2.0.9:80

            """, "\(plan)")
    }
}
