import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `--check` declarations (Docs/Health.md): the word, its resolution per server, a rules file
/// read for the checker, and `-R`/`--apply`/the command line with them.
@Suite struct HealthDeclarationTests {
    static func error(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as HealthDeclarationError {
            return error.text
        } catch {
            return "\(error)"
        }
    }

    static func parseError(_ word: String) -> String? { error { _ = try CheckDeclaration.parse(word) } }

    // MARK: The word

    @Test func kindAndKeysInOrderPercentDecoded() throws {
        let declaration = try CheckDeclaration.parse("http,path=/a%20b%2Cc,status=200|301,body=x%3Dy%25,host=h=1")
        #expect(declaration.kind == .http)
        #expect(declaration.settings.map(\.key) == ["path", "status", "body", "host"])
        #expect(declaration.settings.map(\.value) == ["/a b,c", "200|301", "x=y%", "h=1"])
        #expect(try CheckDeclaration.parse("none") == CheckDeclaration(kind: CheckDeclaration.Kind.none, settings: []))
        let keysOnly = try CheckDeclaration.parse("port=22,interval=1")
        #expect(keysOnly.kind == nil && keysOnly.settings.count == 2)
    }

    @Test func errorsNameTheKey() {
        #expect(Self.parseError("tcp,intervall=5") == "--check: unknown key 'intervall'")
        #expect(Self.parseError("htp") == "--check: unknown check kind 'htp' (tcp, http, https, misc, none)")
        #expect(Self.parseError("") == "--check: empty declaration")
        #expect(Self.parseError("tcp,,rise=2") == "--check: empty item in 'tcp,,rise=2'")
        #expect(Self.parseError("tcp,rise") == "--check: 'rise' is not KEY=VALUE")
        #expect(Self.parseError("tcp,interval=5,delay_loop=3") == "--check: 'interval' given twice")
        #expect(Self.parseError("tcp,path=/x") == "--check: key 'path' does not apply to tcp checks")
        #expect(Self.parseError("http,verify=yes") == "--check: key 'verify' does not apply to http checks")
        #expect(Self.parseError("none,rise=2") == "--check: key 'rise' does not apply to none checks")
        #expect(Self.parseError("tcp,interval=0") == "--check: interval=0: seconds from 0.01 to 86400")
        #expect(Self.parseError("tcp,timeout=-1") == "--check: timeout=-1: seconds from 0.01 to 86400")
        #expect(Self.parseError("tcp,rise=0") == "--check: rise=0: a count from 1 to 1000")
        #expect(Self.parseError("tcp,port=65536") == "--check: port=65536: a port from 1 to 65535")
        #expect(Self.parseError("tcp,connect_ip=1.2.3") == "--check: connect_ip=1.2.3: an IPv4 or IPv6 address")
        #expect(Self.parseError("tcp,via=rs") == "--check: via=rs: the only path is 'vip'")
        #expect(Self.parseError("http,status=99") != nil)
        #expect(Self.parseError("http,status=300-200") != nil)
        #expect(Self.parseError("http,path=%zz") == "--check: path: bad percent escape or byte in '%zz'")
        #expect(Self.parseError("tcp,threshold=1.5") == "--check: threshold=1.5: a fraction from 0 to 1")
        #expect(Self.parseError("tcp,sorry=10.0.0.1:0") != nil)
        #expect(Self.parseError("tcp,start=maybe") == "--check: start=maybe: up or down")
        #expect(Self.parseError("interval=1e3") != nil)
    }

    // MARK: Resolution

    @Test func defaults() throws {
        let spec = try #require(try CheckSpec.resolve(service: CheckDeclaration.parse("tcp"), server: nil))
        #expect(spec == CheckSpec(kind: .tcp))
        #expect(spec.interval == 5 && spec.timeout == 3 && spec.rise == 2 && spec.fall == 3 && spec.retryInterval == nil)
        #expect(spec.port == nil && spec.address == nil && !spec.viaVIP && spec.ramp == 0 && !spec.startDown)
        let http = try #require(try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("http")))
        #expect(http.path == "/" && http.statuses == [200...200] && !http.verifyTLS)
    }

    @Test func keepalivedAliases() throws {
        let spec = try #require(try CheckSpec.resolve(
            service: CheckDeclaration.parse(
                "tcp,delay_loop=2,connect_timeout=1.5,nb_get_retry=3,delay_before_retry=0.5,connect_port=22,connect_ip=10.0.0.9"),
            server: nil))
        #expect(spec.interval == 2 && spec.timeout == 1.5 && spec.fall == 4 && spec.retryInterval == 0.5)
        #expect(spec.port == 22 && spec.address == IPAddress.parse("10.0.0.9", with: IPAddress.parseIPv4Strict))
        #expect(try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("tcp,retry=0"))?.fall == 1)
    }

    @Test func serverOverlaysItsService() throws {
        let service = try CheckDeclaration.parse("http,path=/health,interval=1,threshold=0.3")
        let plain = try #require(try CheckSpec.resolve(service: service, server: nil))
        #expect(plain.kind == .http && plain.path == "/health" && plain.interval == 1)
        let keys = try #require(try CheckSpec.resolve(service: service, server: CheckDeclaration.parse("path=/x,rise=5")))
        #expect(keys.kind == .http && keys.path == "/x" && keys.interval == 1 && keys.rise == 5)
        // Another kind: the service's keys that do not apply to it are dropped.
        let tcp = try #require(try CheckSpec.resolve(service: service, server: CheckDeclaration.parse("tcp,port=22")))
        #expect(tcp.kind == .tcp && tcp.port == 22 && tcp.interval == 1 && tcp.path == "/")
        #expect(try CheckSpec.resolve(service: service, server: CheckDeclaration.parse("none")) == nil)
        #expect(try CheckSpec.resolve(service: nil, server: nil) == nil)
        #expect(try CheckSpec.resolve(service: CheckDeclaration.parse("none"), server: nil) == nil)
        let fromNone = try CheckSpec.resolve(service: CheckDeclaration.parse("none"), server: CheckDeclaration.parse("tcp"))
        #expect(fromNone?.kind == .tcp)
    }

    @Test func resolutionErrors() {
        #expect(Self.error {
            _ = try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("rise=3"))
        } == "--check: no check kind (tcp, http, https, misc or none) for this server or its service")
        #expect(Self.error {
            _ = try CheckSpec.resolve(service: CheckDeclaration.parse("tcp"), server: CheckDeclaration.parse("path=/x"))
        } == "--check: key 'path' does not apply to tcp checks")
        #expect(Self.error {
            _ = try CheckSpec.resolve(service: CheckDeclaration.parse("tcp"), server: CheckDeclaration.parse("threshold=0.2"))
        } == "--check: 'threshold' belongs on the service's -A line")
        #expect(Self.error { _ = try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("misc")) }
            == "--check: a misc check needs command=PROGRAM")
        #expect(Self.error {
            _ = try CheckSpec.resolve(service: CheckDeclaration.parse("none"), server: CheckDeclaration.parse("rise=2"))
        } == "--check: key 'rise' does not apply to none checks")
    }

    @Test func miscAndHTTPS() throws {
        let misc = try #require(try CheckSpec.resolve(
            service: nil, server: CheckDeclaration.parse("misc,command=/usr/bin/check%20--fast,shell=yes,timeout=10")))
        #expect(misc.command == "/usr/bin/check --fast" && misc.shell && misc.timeout == 10)
        let https = try #require(try CheckSpec.resolve(
            service: nil, server: CheckDeclaration.parse("https,host=www.example.org,verify=yes,status=200-204|301,body=OK")))
        #expect(https.host == "www.example.org" && https.verifyTLS && https.statuses == [200...204, 301...301])
        #expect(https.body == "OK")
        let ramped = try #require(try CheckSpec.resolve(
            service: nil, server: CheckDeclaration.parse("tcp,ramp=30,start=down,via=vip,address=2001:db8::1")))
        #expect(ramped.ramp == 30 && ramped.startDown && ramped.viaVIP && ramped.address?.family == .inet6)
    }

    /// `mode=`: how a TCP check asks, SYN by default; TCP checks only.
    @Test func tcpMode() throws {
        #expect(try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("tcp"))?.tcpMode == .syn)
        #expect(try CheckSpec.resolve(service: nil, server: CheckDeclaration.parse("tcp,mode=connect"))?.tcpMode == .connect)
        #expect(try CheckSpec.resolve(
            service: CheckDeclaration.parse("tcp,mode=connect"), server: CheckDeclaration.parse("port=22"))?.tcpMode == .connect)
        // A server's http check drops the service's TCP mode.
        #expect(try CheckSpec.resolve(
            service: CheckDeclaration.parse("tcp,mode=connect"), server: CheckDeclaration.parse("http"))?.kind == .http)
        #expect(Self.parseError("tcp,mode=ack") == "--check: mode=ack: syn or connect")
        #expect(Self.parseError("http,mode=syn") == "--check: key 'mode' does not apply to http checks")
    }

    /// The declarations of the VM's feature test (Tests/Features/run.py, health), every pair.
    @Test func everyPairOfTheFeatureTestResolves() throws {
        let services = [
            "tcp,interval=2,fall=3", "http,path=/health%20x,status=200-299|301", "none",
            "misc,command=/bin/true%20x,timeout=1", "tcp,threshold=0.3,sorry=10.9.9.9:80",
            "https,host=www.example.org,verify=yes,delay_loop=6,nb_get_retry=2",
        ]
        let servers = ["tcp,port=22", "none", "http,path=/", "misc,command=/bin/check,shell=yes"]
        for service in services {
            _ = try ServiceHealthPolicy.resolve(CheckDeclaration.parse(service))
            _ = try CheckSpec.resolve(service: CheckDeclaration.parse(service), server: nil)
            for server in servers {
                _ = try CheckSpec.resolve(service: CheckDeclaration.parse(service), server: CheckDeclaration.parse(server))
            }
        }
    }

    @Test func servicePolicy() throws {
        #expect(try ServiceHealthPolicy.resolve(nil) == ServiceHealthPolicy())
        let policy = try ServiceHealthPolicy.resolve(CheckDeclaration.parse("http,threshold=0.25,sorry=10.0.0.9:8080"))
        #expect(policy.threshold == 0.25)
        #expect(policy.sorry?.address == IPAddress.parse("10.0.0.9", with: IPAddress.parseIPv4Strict))
        #expect(policy.sorry?.port == 8080)
        let v6 = try ServiceHealthPolicy.resolve(CheckDeclaration.parse("tcp,sorry=[2001:db8::9]:80"))
        #expect(v6.sorry?.address.family == .inet6 && v6.sorry?.port == 80)
        let bare = try ServiceHealthPolicy.resolve(CheckDeclaration.parse("none,sorry=2001:db8::9"))
        #expect(bare.sorry?.port == nil)
    }

    // MARK: A rules file

    static let rules = """
        # the example of Docs/Health.md
        -A -t 192.168.56.185:80 -s rr --check http,path=/health,status=200,interval=1,timeout=1,rise=2,fall=3,threshold=0.5
        -a -t 192.168.56.185:80 -r 192.168.56.183:80 -g -w 1
        -a -t 192.168.56.185:80 -r 192.168.56.184:80 -g -w 2 --check tcp,port=22

        ipvsadm -a -t 192.168.56.185:80 -r 192.168.56.186:80 -g -w 1 --check none
        --add-service --udp-service=[2001:db8::1]:53 --check=tcp
        -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m
        -A -f 7
        -a -f 7 -r 10.0.0.1:0 -w 0
        --set 10 20 30
        """

    @Test func readsTheTableAndEachServersCheck() throws {
        let read = try HealthDeclarations.read(text: Self.rules, resolver: HostsResolver.shared)
        #expect(read.services.map(\.line) == [2, 7, 9])
        let web = read.services[0]
        #expect(HealthRecord.serviceText(web.service.key) == "TCP 192.168.56.185:80")
        #expect(web.service.scheduler == "rr" && web.policy.threshold == 0.5)
        #expect(web.servers.map(\.line) == [3, 4, 6])
        #expect(web.servers.map { HealthRecord.serverText($0.destination.address, port: $0.destination.port) }
            == ["192.168.56.183:80", "192.168.56.184:80", "192.168.56.186:80"])
        #expect(web.servers.map(\.destination.weight) == [1, 2, 1])
        #expect(web.servers[0].check?.kind == .http && web.servers[0].check?.path == "/health")
        #expect(web.servers[1].check?.kind == .tcp && web.servers[1].check?.port == 22)
        #expect(web.servers[1].check?.interval == 1)
        #expect(web.servers[2].check == nil)
        let dns = read.services[1]
        #expect(HealthRecord.serviceText(dns.service.key) == "UDP [2001:db8::1]:53")
        #expect(dns.servers.first?.destination.port == 53 && dns.servers.first?.check?.kind == .tcp)
        #expect(HealthRecord.serviceText(read.services[2].service.key) == "FWM 7")
        #expect(read.services[2].servers.first?.check == nil)
    }

    @Test func readErrorsNameTheLine() {
        func readError(_ text: String) -> String? {
            Self.error { _ = try HealthDeclarations.read(text: text, resolver: HostsResolver.shared) }
        }
        #expect(readError("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 --check tcp,intervall=5\n")
            == "line 2: --check: unknown key 'intervall'")
        #expect(readError("\n-A -t 10.0.0.1:80 --check misc\n") == "line 2: --check: a misc check needs command=PROGRAM")
        #expect(readError("-A -t 10.0.0.1:80 -w 2\n") == "line 1: Illegal 'weight' option with the 'add-service' command")
        #expect(readError("-a -t 10.0.0.1:80 -r 10.0.0.2\n") == "line 1: Service not defined")
        #expect(readError("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 --check threshold=0.1\n")
            == "line 2: --check: 'threshold' belongs on the service's -A line")
        #expect(readError("-E -t 10.0.0.1:80 --check tcp\n")
            == "line 1: Illegal 'check' option with the 'edit-service' command")
        #expect(readError("-A -t 10.0.0.1:80 --check\n") != nil)
        #expect(readError("-A -t 10.0.0.1:80\r\n-a -t 10.0.0.1:80 -r 10.0.0.2 --check tcp,rise=0\r\n")
            == "line 2: --check: rise=0: a count from 1 to 1000")
    }

    /// What `--apply` programs, the checker reads: random tables (every kind of service and
    /// real server) with random declarations, read by `HealthDeclarations.read` and applied
    /// to an empty kernel, give the same services, real servers and weights; and each
    /// declaration's `word` reads back as it.
    @Test func theCheckerReadsTheTableApplyPrograms() throws {
        let services = ["tcp", "http,path=/h%20x,interval=1", "none", "misc,command=/bin/true", "https,threshold=0.2"]
        let servers = ["tcp,port=22", "none", "rise=4", "http,status=200|301"]
        var random = ApplyTests.Random(state: 20)
        var compared = 0
        for round in 0..<40 {
            var lines: [String] = []
            for line in ApplyTests.randomTable(&random).split(separator: "\n") {
                if line.hasPrefix("-A ") && random.chance(60) {
                    lines.append(line + " --check " + random.pick(services))
                } else if line.hasPrefix("-a ") && random.chance(30) {
                    lines.append(line + " --check " + random.pick(servers))
                } else {
                    lines.append(String(line))
                }
            }
            let text = lines.joined(separator: "\n") + "\n"
            let backend = InMemoryBackend()
            let applied = CLI.run(["--apply", "--allow-empty"], on: backend, stdin: text)
            let read: HealthDeclarations
            do throws(HealthDeclarationError) {
                read = try HealthDeclarations.read(text: text, resolver: HostsResolver.shared)
            } catch {
                // `rise=4` under a service without a kind (or `none`) is refused by both.
                #expect(applied.status == 2 && applied.stderr == error.text + "\n", "round \(round): \(text)")
                continue
            }
            #expect(applied.status == 0 && applied.stderr == "", "round \(round): \(applied)\n\(text)")
            let programmed = try backend.services().map { service in
                try [HealthRecord.serviceText(service.key) + " " + service.scheduler]
                    + backend.destinations(of: service).map { HealthRecord.serverText($0.address, port: $0.port) + " w\($0.weight)" }
                    .sorted()
            }.sorted { $0[0] < $1[0] }
            let declared = read.services.map { service in
                [HealthRecord.serviceText(service.service.key) + " " + service.service.scheduler]
                    + service.servers.map { HealthRecord.serverText($0.destination.address, port: $0.destination.port)
                        + " w\($0.destination.weight)" }.sorted()
            }.sorted { $0[0] < $1[0] }
            #expect(programmed == declared, "round \(round): \(text)")
            if !declared.isEmpty { compared += 1 }
        }
        #expect(compared >= 20)
        for word in services + servers + ["misc,command=/bin/a%2Cb%20c%25,shell=yes", "http,body=%3D%09x"] {
            let declaration = try CheckDeclaration.parse(word)
            #expect(try CheckDeclaration.parse(declaration.word) == declaration, "\(word) -> \(declaration.word)")
        }
        #expect(try CheckDeclaration.parse("misc,command=/bin/a%2Cb").word == "misc,command=/bin/a%2Cb")
    }

    // MARK: State file

    static let state = HealthStateFile(
        pid: 123, heartbeat: 1_765_100_000.25, rules: "/etc/ipvsadm rules",
        records: [
            HealthRecord(
                service: "TCP 192.168.56.185:80", server: "192.168.56.183:80", state: .down, declaredWeight: 1, weight: 0,
                since: 1_765_099_990, checked: 1_765_100_000.1, ok: false, duration: 0.0012,
                message: "connection refused\t50%=x", check: "http"),
            HealthRecord(
                service: "FWM 7 IPv6", server: "[2001:db8::1]:80", state: .unchecked, declaredWeight: 2, weight: 2,
                since: 0),
            HealthRecord(
                service: "TCP 192.168.56.185:80", server: "192.168.56.190:80", state: .up, declaredWeight: 1, weight: 1,
                since: 5, sorry: true),
        ])

    @Test func stateFileText() {
        let lines = Self.state.encode().split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "ipvsadm-health 1\tpid=123\theartbeat=1765100000.250\trules=/etc/ipvsadm%20rules")
        #expect(lines[1] == "server\tservice=TCP%20192.168.56.185:80\tserver=192.168.56.183:80\tstate=down\tdeclared=1"
            + "\tweight=0\tsince=1765099990.000\tchecked=1765100000.100\tok=0\tduration=0.001200"
            + "\tmessage=connection%20refused%0950%25%3Dx\tcheck=http")
        #expect(lines[2] == "server\tservice=FWM%207%20IPv6\tserver=[2001:db8::1]:80\tstate=unchecked\tdeclared=2"
            + "\tweight=2\tsince=0.000\tmessage=\tcheck=")
        #expect(lines[3].hasPrefix("sorry\t"))
    }

    /// Fixed-point numbers as the state file, --json and --metrics write them.
    @Test func fixedPoint() {
        #expect(HealthStateFile.fixed(0, 3) == "0.000")
        #expect(HealthStateFile.fixed(1_765_100_000.25, 3) == "1765100000.250")
        #expect(HealthStateFile.fixed(0.0012, 6) == "0.001200")
        #expect(HealthStateFile.fixed(-1.5, 3) == "-1.500")
        #expect(HealthStateFile.fixed(-0.0004, 3) == "0.000")
        #expect(HealthStateFile.fixed(0.0009996, 3) == "0.001")
        #expect(HealthStateFile.fixed(12.6, 0) == "13")
        #expect(HealthStateFile.fixed(.nan, 3) == "0")
        #expect(HealthStateFile.fixed(-.infinity, 6) == "0")
        #expect(HealthStateFile.fixed(1e20, 3) == String(1e20))
        let negative = HealthStateFile(pid: -2, heartbeat: 0, rules: "", records: [])
        #expect(negative.encode() == "ipvsadm-health 1\tpid=-2\theartbeat=0.000\trules=\n")
    }

    @Test func stateFileRoundTrip() {
        #expect(HealthStateFile.decode(Self.state.encode()) == Self.state)
        let empty = HealthStateFile(pid: 1, heartbeat: 0, rules: "", records: [])
        #expect(HealthStateFile.decode(empty.encode()) == empty)
    }

    @Test func stateFileDecodeTolerance() {
        #expect(HealthStateFile.decode("") == nil)
        #expect(HealthStateFile.decode("ipvsadm-health 2\tpid=1\theartbeat=1\n") == nil)
        #expect(HealthStateFile.decode("something else\n") == nil)
        #expect(HealthStateFile.decode("ipvsadm-health 1\theartbeat=1\n") == nil)
        let text = "ipvsadm-health 1\tpid=9\theartbeat=2.5\tfuture=yes\n"
            + "server\tservice=FWM%201\tserver=1.2.3.4:0\tstate=up\tdeclared=3\tweight=3\tsince=1\tcolour=blue\n"
            + "server\tservice=FWM%201\tserver=1.2.3.5:0\tstate=sleeping\n"
            + "server\tserver=1.2.3.6:0\tstate=up\n"
            + "newkind\tx=y\n"
        let decoded = HealthStateFile.decode(text)
        #expect(decoded?.pid == 9 && decoded?.heartbeat == 2.5 && decoded?.records.count == 1)
        #expect(decoded?.record(service: "FWM 1", server: "1.2.3.4:0")?.declaredWeight == 3)
        #expect(decoded?.records.first?.checked == nil && decoded?.records.first?.ok == nil)
    }

    @Test func serviceAndServerTexts() {
        let v4 = IPAddress.parse("10.0.0.1", with: IPAddress.parseIPv4Strict)!
        let v6 = IPAddress.parse("2001:db8::1", with: IPAddress.parseIPv6)!
        #expect(HealthRecord.serviceText(.address(protocol: .tcp, address: v4, port: 80)) == "TCP 10.0.0.1:80")
        #expect(HealthRecord.serviceText(.address(protocol: .udp, address: v6, port: 53)) == "UDP [2001:db8::1]:53")
        #expect(HealthRecord.serviceText(.address(protocol: .sctp, address: v4, port: 9)) == "SCTP 10.0.0.1:9")
        #expect(HealthRecord.serviceText(.firewallMark(7, family: .inet)) == "FWM 7")
        #expect(HealthRecord.serviceText(.firewallMark(7, family: .inet6)) == "FWM 7 IPv6")
        #expect(HealthRecord.serverText(v6, port: 80) == "[2001:db8::1]:80")
    }

    // MARK: The command line, -R and --apply

    static let checkedRules = """
        -A -t 10.0.0.1:80 -s rr --check http,path=/health
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3 --check tcp,port=22
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1

        """
    static let plainRules = """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1

        """

    static func saved(_ backend: InMemoryBackend) -> String { CLI.run(["-Sn"], on: backend).stdout }

    @Test func restoreProgramsTheTableWithoutTheChecks() {
        let checked = InMemoryBackend()
        #expect(CLI.run(["-R"], on: checked, stdin: Self.checkedRules) == Outcome(status: 0, stdout: "", stderr: ""))
        let plain = InMemoryBackend()
        #expect(CLI.run(["-R"], on: plain, stdin: Self.plainRules).status == 0)
        #expect(Self.saved(checked) == Self.saved(plain) && !Self.saved(plain).isEmpty)
    }

    @Test func restoreStopsAtAMalformedCheck() {
        let backend = InMemoryBackend()
        let input = "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m --check tcp,intervall=5\n-A -t 10.0.0.2:80\n"
        #expect(CLI.run(["-R"], on: backend, stdin: input)
            == Outcome(status: 2, stdout: "", stderr: "line 2: --check: unknown key 'intervall'\n"))
        #expect(Self.saved(backend) == "-A -t 10.0.0.1:80 -s wlc\n")
    }

    @Test func applyProgramsTheTableWithoutTheChecks() {
        let applied = InMemoryBackend()
        #expect(CLI.run(["--apply"], on: applied, stdin: Self.checkedRules).status == 0)
        let plain = InMemoryBackend()
        #expect(CLI.run(["-R"], on: plain, stdin: Self.plainRules).status == 0)
        #expect(Self.saved(applied) == Self.saved(plain))
    }

    @Test func applyRefusesAMalformedCheckBeforeAnyChange() {
        let backend = InMemoryBackend()
        let input = "-A -t 10.0.0.1:80 --check http,status=600\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m\n"
        let outcome = CLI.run(["--apply"], on: backend, stdin: input)
        #expect(outcome.status == 2)
        #expect(outcome.stderr
            == "line 1: --check: status=600: a status (100-599), a range N-M, or several joined by '|'\n")
        #expect(Self.saved(backend) == "")
        let orphan = CLI.run(["--apply"], on: backend, stdin: "-A -t 10.0.0.1:80 --check tcp\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m --check path=/\n")
        #expect(orphan.stderr == "line 2: --check: key 'path' does not apply to tcp checks\n")
    }

    @Test func onTheCommandLineItIsAnError() {
        let backend = InMemoryBackend()
        for arguments in [
            ["-A", "-t", "10.0.0.1:80", "--check", "tcp"], ["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1", "--check=tcp"],
            ["-A", "-t", "10.0.0.1:80", "--check", "bogus"],
        ] {
            #expect(CLI.run(arguments, on: backend) == Outcome(
                status: 2, stdout: "",
                stderr: "ipvsadm: --check is read from a rules file (ipvsadm -R, --apply, ipvsadm-health)\n"))
        }
        #expect(Self.saved(backend) == "")
    }
}
