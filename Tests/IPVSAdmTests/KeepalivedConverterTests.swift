import IPVS
import IPVSAdm
import IPVSTestSupport
import Testing

/// `ipvsadm-health --convert-keepalived` (Docs/Health.md, "Coming from keepalived"): the seeds'
/// keepalived.conf and the fixtures in Tests/Health/keepalived/ convert to rules that our `-R`
/// loads (without their checks, as /sbin/ipvsadm does) and whose checks carry keepalived's
/// settings; bad input is refused with its line.
@Suite struct KeepalivedConverterTests {
    static let fixtures = ["seed-002", "seed-004", "http", "misc", "fwmark-tun", "mixed"]

    static func fixture(_ name: String) -> String {
        guard let text = Repository.text("Tests/Health/keepalived/\(name).conf") else {
            fatalError("missing fixture Tests/Health/keepalived/\(name).conf")
        }
        return text
    }

    static func convert(_ text: String) -> KeepalivedConverter.Conversion? {
        do {
            return try KeepalivedConverter.convert(text)
        } catch {
            Issue.record("conversion failed: \(error)")
            return nil
        }
    }

    static func failure(_ text: String) -> KeepalivedConverter.Failure? {
        do {
            let conversion = try KeepalivedConverter.convert(text)
            Issue.record("converted, expected an error:\n\(conversion.rules)")
            return nil
        } catch {
            return error
        }
    }

    /// The table `-R` builds from the rules without their checks, as `-Sn` prints it.
    static func loaded(_ rules: String) -> Outcome {
        let backend = InMemoryBackend()
        let restored = CLI.run(["-R"], on: backend, stdin: KeepalivedConverter.withoutChecks(rules))
        if restored.status != 0 || !restored.stderr.isEmpty { return restored }
        return CLI.run(["-Sn"], on: backend)
    }

    /// The `--check` word of each rules line that has one, by the line's first words.
    static func checks(_ rules: String) -> [String: String] {
        var found: [String: String] = [:]
        for line in rules.split(separator: "\n") where !line.hasPrefix("#") {
            let words = line.split(separator: " ").map(String.init)
            guard let index = words.firstIndex(of: "--check"), index + 1 < words.count else { continue }
            let key = words.prefix(words.firstIndex(of: "-r").map { $0 + 2 } ?? 3).joined(separator: " ")
            found[key] = words[index + 1]
        }
        return found
    }

    @Test("every fixture converts to rules our -R loads once the checks are removed", arguments: fixtures)
    func fixturesLoad(_ name: String) {
        guard let conversion = Self.convert(Self.fixture(name)) else { return }
        let listing = Self.loaded(conversion.rules)
        #expect(listing.status == 0 && listing.stderr.isEmpty, "\(name): \(listing)\n\(conversion.rules)")
        for warning in conversion.warnings {
            #expect(warning.hasPrefix("line "), "\(name): a warning without its line: \(warning)")
            #expect(conversion.rules.contains("# \(warning)\n"))
        }
        // The warnings come first, as comments: the rules follow them.
        let lines = conversion.rules.split(separator: "\n")
        #expect(lines.prefix(conversion.warnings.count).allSatisfy { $0.hasPrefix("# ") })
        #expect(lines.dropFirst(conversion.warnings.count).allSatisfy { $0.hasPrefix("-A ") || $0.hasPrefix("-a ") })
    }

    @Test("every fixture's rules are read back with their checks, and loaded by our -R as they are", arguments: fixtures)
    func fixturesReadBack(_ name: String) throws {
        guard let conversion = Self.convert(Self.fixture(name)) else { return }
        let declarations = try HealthDeclarations.read(text: conversion.rules, resolver: HostsResolver.shared)
        let services = conversion.rules.split(separator: "\n").filter { $0.hasPrefix("-A ") }
        let servers = conversion.rules.split(separator: "\n").filter { $0.hasPrefix("-a ") }
        #expect(declarations.services.count == services.count)
        #expect(declarations.services.map(\.servers.count).reduce(0, +) == servers.count)
        // Our -R takes --check (not comments: -R has none).
        let backend = InMemoryBackend()
        let rules = conversion.rules.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        let restored = CLI.run(["-R"], on: backend, stdin: rules)
        #expect(restored == Outcome(status: 0, stdout: "", stderr: ""), "\(name): \(restored)")
        #expect(CLI.run(["-Sn"], on: backend).stdout == Self.loaded(conversion.rules).stdout)
    }

    @Test func seed002ReadBack() throws {
        guard let conversion = Self.convert(Self.fixture("seed-002")) else { return }
        let declarations = try HealthDeclarations.read(text: conversion.rules, resolver: HostsResolver.shared)
        try #require(declarations.services.count == 1)
        let service = declarations.services[0]
        #expect(service.policy.threshold == 1)
        #expect(service.servers.count == 2)
        for server in service.servers {
            var expected = CheckSpec(kind: .tcp)
            (expected.interval, expected.timeout, expected.rise, expected.fall, expected.retryInterval) = (6, 10, 1, 4, 3)
            #expect(server.check == expected)
            #expect(server.destination.weight == 1)
            #expect(server.destination.forwarding == .directRouting)
        }
    }

    @Test func miscReadBack() throws {
        guard let conversion = Self.convert(Self.fixture("misc")) else { return }
        let declarations = try HealthDeclarations.read(text: conversion.rules, resolver: HostsResolver.shared)
        let checks = declarations.services.first?.servers.map(\.check) ?? []
        try #require(checks.count == 3)
        #expect(checks[0]?.command == "/usr/local/bin/check-dns 10.0.1.1 example.org")
        #expect(checks[0]?.timeout == 3 && checks[0]?.interval == 10 && checks[0]?.fall == 1)
        #expect(checks[1]?.command == "/usr/local/bin/check-dns 'two words'" && checks[1]?.shell == true)
        #expect(checks[1]?.timeout == 10)
        #expect(checks[2] == nil)
    }

    @Test func seed002() {
        guard let conversion = Self.convert(Self.fixture("seed-002")) else { return }
        #expect(conversion.warnings.isEmpty)
        #expect(
            conversion.rules == """
                -A -t 192.168.0.38:80 -s rr --check tcp,interval=6,timeout=10,rise=1,fall=4,retry_interval=3,threshold=1
                -a -t 192.168.0.38:80 -r 192.168.0.18:80 -g -w 1
                -a -t 192.168.0.38:80 -r 192.168.0.28:80 -g -w 1

                """)
        // persistence_timeout 0 is no persistence.
        #expect(
            Self.loaded(conversion.rules).stdout == """
                -A -t 192.168.0.38:80 -s rr
                -a -t 192.168.0.38:80 -r 192.168.0.18:80 -g -w 1
                -a -t 192.168.0.38:80 -r 192.168.0.28:80 -g -w 1

                """)
    }

    @Test func seed004() {
        guard let conversion = Self.convert(Self.fixture("seed-004")) else { return }
        // global_defs and vrrp_instance are not tables: skipped without a word.
        #expect(conversion.warnings.isEmpty)
        // No connect_port: the real server's port; persistence_timeout 50 is -p 50.
        #expect(
            conversion.rules == """
                -A -t 10.96.33.230:80 -s rr -p 50 --check tcp,interval=6,timeout=3,rise=1,fall=4,retry_interval=3,threshold=1
                -a -t 10.96.33.230:80 -r 10.96.33.246:80 -g -w 1
                -a -t 10.96.33.230:80 -r 10.96.33.249:80 -g -w 1

                """)
    }

    @Test func httpAndSSL() {
        guard let conversion = Self.convert(Self.fixture("http")) else { return }
        let checks = Self.checks(conversion.rules)
        // Shared by both servers: on the -A line; the first url only; status_code's list.
        #expect(
            checks["-A -t 192.168.56.185:80"]
                == "http,interval=2,timeout=2,rise=1,fall=3,retry_interval=1,path=/health,status=200|301-302,"
                + "host=www.example.org,threshold=1,sorry=192.168.56.190:80")
        #expect(checks["-a -t 192.168.56.185:80 -r 192.168.56.183:80"] == nil)
        #expect(checks["-a -t 192.168.56.185:80 -r 192.168.56.184:80"] == "port=8080")
        // SSL_GET: https; defaults retry 0 → fall 1, delay_before_retry 3; 200-299; a real
        // server's virtualhost; alpha → start=down; a blank in the path percent-encoded.
        #expect(
            checks["-A -t 192.168.56.185:443"]
                == "https,interval=5,timeout=1.5,rise=1,fall=1,retry_interval=3,path=/health%20check,status=200-299,threshold=1")
        #expect(checks["-a -t 192.168.56.185:443 -r 192.168.56.183:443"] == "host=secure.example.org")
        #expect(checks["-a -t 192.168.56.185:443 -r 192.168.56.184:443"] == "start=down")
        #expect(conversion.warnings == [
            "line 11: quorum: quorum is not supported (see threshold= for a depool limit)",
            "line 30: digest: comparing the page's MD5 is not supported (status_code and body= are)",
            "line 32: url: one URL per check: only the first (line 27) is carried over",
        ])
        // persistence_timeout without a value: 6 minutes; persistence_granularity: -M.
        #expect(Self.loaded(conversion.rules).stdout.contains("-A -t 192.168.56.185:443 -s lc -p 360 -M 255.255.255.0\n"))
    }

    @Test func miscChecks() {
        guard let conversion = Self.convert(Self.fixture("misc")) else { return }
        let checks = Self.checks(conversion.rules)
        // MISC_CHECK: retry 0 by default, misc_timeout or else delay_loop as the timeout. Each
        // server has its own command: the kind goes with it on the -a lines (a misc check
        // without a command is no check).
        #expect(checks["-A -u 10.0.0.10:53"] == "interval=10,rise=1,fall=1,retry_interval=1,threshold=1")
        #expect(
            checks["-a -u 10.0.0.10:53 -r 10.0.1.1:5353"]
                == "misc,timeout=3,command=/usr/local/bin/check-dns%2010.0.1.1%20example.org")
        // Single quotes group words for keepalived: only a shell reads them the same way.
        #expect(
            checks["-a -u 10.0.0.10:53 -r 10.0.1.2:5353"]
                == "misc,timeout=10,command=/usr/local/bin/check-dns%20'two%20words',shell=yes")
        // A real server without a checker is always in service.
        #expect(checks["-a -u 10.0.0.10:53 -r 10.0.1.3:5353"] == "none")
        #expect(conversion.warnings.count == 1 && conversion.warnings[0].hasPrefix("line 24: misc_dynamic"))
        let listing = Self.loaded(conversion.rules).stdout
        #expect(listing.hasPrefix("-A -u 10.0.0.10:53 -s sh -o -b sh-fallback,sh-port\n"), "\(listing)")
        #expect(listing.contains("-a -u 10.0.0.10:53 -r 10.0.1.1:5353 -m -w 10 -x 100 -y 10\n"))
    }

    @Test func fwmarkTunnelsIPv6AndSCTP() {
        guard let conversion = Self.convert(Self.fixture("fwmark-tun")) else { return }
        #expect(conversion.warnings.isEmpty)
        let checks = Self.checks(conversion.rules)
        #expect(checks["-A -f 7"] == "tcp,interval=3,timeout=2,rise=1,fall=2,retry_interval=1,port=443,threshold=1")
        // keepalived's defaults when nothing is said: delay_loop 60, connect_timeout 5, retry 1.
        #expect(checks["-A -t [2001:db8::10]:80"] == "tcp,interval=60,timeout=5,rise=1,fall=2,retry_interval=1,threshold=1")
        #expect(checks["-a -t [2001:db8::10]:80 -r [2001:db8::1:1]:8080"] == "address=2001:db8::1:99")
        let rules = conversion.rules
        #expect(rules.contains("-a -f 7 -r 10.20.1.2:0 -i --tun-type gue --tun-port 6080 --tun-csum -w 5\n"))
        #expect(rules.contains("-A --sctp-service 10.20.0.1:3868 -s rr\n"))
        // No check on any server of a service: no --check at all.
        #expect(rules.contains("-a --sctp-service 10.20.0.1:3868 -r 10.20.2.1:3868 -g -w 1\n"))
        let listing = Self.loaded(rules)
        #expect(listing.stdout.contains("-A -f 7 -s wlc -p 600\n"), "\(listing)")
        #expect(listing.stdout.contains("-a -t [2001:db8::10]:80 -r [2001:db8::1:2]:8080 -m -w 1\n"), "\(listing)")
    }

    @Test func defaultsOfKeepalived() {
        // lvs_method NAT by default (ipvsadm's -a would mean DR), weight 1, scheduler left to
        // ipvsadm's default (wlc, as keepalived's); no protocol: UDP (keepalived gives the
        // kernel protocol 0, which it reads as UDP; Tests/Health/convert.sh saw it in the VM).
        let text = """
            virtual_server 10.0.0.1 80 {
                real_server 10.0.1.1 8080 {
                    TCP_CHECK {
                    }
                }
            }
            """
        guard let conversion = Self.convert(text) else { return }
        #expect(
            conversion.rules == """
                # line 1: virtual_server without protocol: UDP, as keepalived makes it (write protocol TCP if TCP was meant)
                -A -u 10.0.0.1:80 --check tcp,interval=60,timeout=5,rise=1,fall=2,retry_interval=1,threshold=1
                -a -u 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 1

                """)
    }

    @Test func whatKeepalivedMakesOfOddServices() {
        // No port: persistent for 6 minutes; a granularity alone: persistent too; a service
        // without real servers and a repeated real server: dropped; sh-port with another
        // scheduler: ignored.
        let text = """
            virtual_server 10.0.0.1 {
                protocol TCP
                real_server 10.0.1.1 80 {
                }
            }
            virtual_server 10.0.0.2 80 {
                protocol TCP
                lb_algo rr
                persistence_granularity 255.255.0.0
                sh-port
                flag-3
                real_server 10.0.1.1 80 {
                }
                real_server 10.0.1.1 80 {
                    weight 5
                }
            }
            virtual_server 10.0.0.3 80 {
                protocol TCP
            }
            """
        guard let conversion = Self.convert(text) else { return }
        #expect(
            conversion.rules == """
                # line 1: virtual_server without a port: persistent for 360 s, as keepalived makes it
                # line 10: sh-port: only for the sh scheduler: ignored (as keepalived does)
                # line 14: real_server 10.0.1.1:80 is already declared at line 12: skipped (as keepalived does)
                # line 18: virtual_server without real servers: skipped (as keepalived does)
                -A -t 10.0.0.1:0 -p 360
                -a -t 10.0.0.1:0 -r 10.0.1.1:80 -m -w 1
                -A -t 10.0.0.2:80 -s rr -p 360 -M 255.255.0.0 -b flag-3
                -a -t 10.0.0.2:80 -r 10.0.1.1:80 -m -w 1

                """)
        #expect(Self.loaded(conversion.rules).status == 0)
    }

    @Test func checksOfServersWithoutAPort() {
        // Found by the fuzzer: a TUN server given port 0 of a port service is checked on the
        // service's port (the -a line's); a fwmark service's server without a port has none.
        guard let conversion = Self.convert(Self.fixtureText("port-zero")) else { return }
        let checks = Self.checks(conversion.rules)
        #expect(checks["-A --sctp-service 10.20.0.1:3868"] == "tcp,interval=60,timeout=5,rise=1,fall=2,retry_interval=1,threshold=1")
        #expect(conversion.warnings == ["line 11: TCP_CHECK of a real server without a port: give connect_port"])
    }

    static func fixtureText(_ seed: String) -> String {
        Repository.text("Fuzz/Corpus/keepalived/\(seed)") ?? ""
    }

    @Test func grammar() {
        // Comments with # and ! anywhere, quotes grouping, escapes inside quotes, a brace on
        // the next line, a one-line block, include and group reported with their lines.
        let text = """
            include /etc/keepalived/other.conf
            virtual_server group WEB {
            }
            virtual_server 10.0.0.1 80   # the web
            {
                protocol tcp
                lb_algo "r"'r'   ! quoted halves
                real_server 10.0.1.1 80 { weight 2 }
                real_server 10.0.1.2 80 {
                    MISC_CHECK { misc_path "/bin/check \\"x\\"" }
                }
            }
            """
        guard let conversion = Self.convert(text) else { return }
        #expect(conversion.warnings == [
            "line 1: include /etc/keepalived/other.conf: included files are not read (convert each file by itself)",
            "line 2: virtual_server group WEB: virtual_server_group is not supported: block skipped",
        ])
        let checks = Self.checks(conversion.rules)
        #expect(checks["-a -t 10.0.0.1:80 -r 10.0.1.1:80"] == "none")
        #expect(checks["-A -t 10.0.0.1:80"] == "misc,interval=60,timeout=60,rise=1,fall=1,retry_interval=1,command=/bin/check%20\"x\",threshold=1")
        #expect(conversion.rules.contains("-A -t 10.0.0.1:80 -s rr --check"))
    }

    @Test("bad input names its line", arguments: [
        ("virtual_server 10.0.0.1 80 {\n  lb_kind XX\n}\n", 2, "lb_kind: unknown forwarding method 'XX' (NAT, DR or TUN)"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    weight 1\n", 2, "the block of 'real_server' is not closed ('}' missing)"),
        ("virtual_server 10.0.0.1 80 {\n}\n}\n", 3, "'}' closes no block"),
        ("virtual_server 10.0.0.300 80 {\n}\n", 1, "virtual_server: '10.0.0.300' is not an IP address"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 99999 {\n  }\n}\n", 2, "real_server: '99999' is not a port"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo best\n}\n", 2, "lb_algo: unknown scheduler 'best'"),
        ("virtual_server 10.0.0.1 80 {\n  delay_loop soon\n}\n", 2, "delay_loop: seconds from 0.01 to 86400 expected"),
        ("virtual_server 10.0.0.1 80 {\n  delay_loop 0\n}\n", 2, "delay_loop: seconds from 0.01 to 86400 expected"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    TCP_CHECK {\n      connect_port 0\n    }\n  }\n}\n", 4,
         "connect_port: '0' is not a port"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    HTTP_GET {\n      url {\n        path health\n      }\n    }\n  }\n}\n", 5,
         "path: a path starting with '/' expected"),
        ("virtual_server 10.0.0.1 80 {\n  virtualhost \"a b\"\n}\n", 2, "virtualhost: a host name expected"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo r\u{0}r\n}\n", 2, "NUL byte in input"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo \"r\u{0}r\"\n}\n", 2, "NUL byte in input"),  // found by the fuzzer
        ("virtual_server 10.0.0.1 80 {\n  retry 1000\n}\n", 2, "retry: a number from 0 to 999 expected"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    weight -1\n  }\n}\n", 3,
         "weight: a number from 0 to 2147483647 expected"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    MISC_CHECK {\n    }\n  }\n}\n", 3, "MISC_CHECK without misc_path"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n  }\n}\nvirtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n  }\n}\n", 5,
         "virtual_server UDP 10.0.0.1:80 is already declared at line 1"),
        ("virtual_server 10.0.0.1 80 {\n  lb_kind DR\n  real_server 10.0.1.1 80 {\n  }\n  real_server 10.0.1.1 81 {\n  }\n}\n", 5,
         "real_server 10.0.1.1:80 is already declared at line 3"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 2001:db8::1 80 {\n  }\n}\n", 2,
         "real_server 2001:db8::1: another address family than the virtual server's (only TUN servers may)"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    HTTP_GET {\n      url {\n        status_code 2000\n      }\n    }\n  }\n}\n", 5,
         "status_code: '2000' is not a status from 100 to 599 or a range"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo \"rr\n}\n", 2, "unterminated quoted string"),
        ("{\n}\n", 1, "'{' without a keyword before it"),
        // Found by the fuzzer: a lower threshold alone is above the upper one, 0.
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    lthreshold 10\n  }\n}\n", 2,
         "real_server 10.0.1.1: lthreshold 10 is above uthreshold 0 (the kernel refuses it)"),
    ] as [(String, Int, String)])
    func badInput(_ text: String, _ line: Int, _ message: String) {
        guard let failure = Self.failure(text) else { return }
        #expect(failure == KeepalivedConverter.Failure(line: line, message), "\(text)")
    }

    @Test func nothingToConvert() {
        let failure = Self.failure("global_defs {\n  router_id X\n}\n")
        #expect(failure?.line == nil)
        #expect(failure?.message == "nothing to convert: no virtual_server block with a real server")
    }

    @Test func commandLine() {
        func run(_ arguments: [String], stdin: String = "") -> Outcome {
            let (stdout, stderr) = (BufferSink(), BufferSink())
            let status = KeepalivedConverter.runCommandLine(
                arguments: arguments, stdin: TextSource(stdin), stdout: stdout, stderr: stderr)
            return Outcome(status: status, stdout: stdout.text, stderr: stderr.text)
        }
        let path = Repository.path("Tests/Health/keepalived/seed-004.conf")
        let fromFile = run(["--convert-keepalived", path])
        #expect(fromFile.status == 0 && fromFile.stderr.isEmpty)
        #expect(fromFile.stdout == (try? KeepalivedConverter.convert(Self.fixture("seed-004")).rules))
        let fromStdin = run(["--convert-keepalived", "-"], stdin: Self.fixture("seed-004"))
        #expect(fromStdin == fromFile)

        let warned = run(["--convert-keepalived", "-"], stdin: Self.fixture("misc"))
        #expect(warned.status == 0)
        #expect(warned.stderr.hasPrefix("ipvsadm-health: standard input: warning: line 24: misc_dynamic: "))

        let bad = run(["--convert-keepalived", "-"], stdin: "virtual_server 10.0.0.1 80 {\n  lb_kind XX\n}\n")
        #expect(bad == Outcome(
            status: 1, stdout: "",
            stderr: "ipvsadm-health: standard input: line 2: lb_kind: unknown forwarding method 'XX' (NAT, DR or TUN)\n"))

        let missing = run(["--convert-keepalived", "/nonexistent/keepalived.conf"])
        #expect(missing.status == 1 && missing.stdout.isEmpty)
        #expect(missing.stderr.hasPrefix("ipvsadm-health: /nonexistent/keepalived.conf: "))

        #expect(run(["--convert-keepalived"]).status == 2)
        #expect(run(["--convert-keepalived", "a", "b"]).status == 2)
    }

    @Test func withoutChecks() {
        let rules = "# line 3: a warning\n-A -t 10.0.0.1:80 -s rr --check tcp,interval=1\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1 --check none\n"
        #expect(KeepalivedConverter.withoutChecks(rules) == "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n")
    }
}
