import Foundation
import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `--doctor` against the in-memory kernel and a fake host shaped like the seeds' topologies
/// (Tests/DataPath/topology.sh, Docs/examples/*.sh): each correct set-up gives no finding,
/// each fault its finding, with its fix.
@Suite struct DoctorTests {
    static func ip(_ text: String) -> IPAddress {
        IPAddress.parse(text, with: IPAddress.parseIPv4Strict) ?? IPAddress.parse(text, with: IPAddress.parseIPv6)!
    }

    static func address(_ text: String) -> InterfaceAddress {
        let parts = text.split(separator: "/")
        return InterfaceAddress(ip(String(parts[0])), prefixLength: Int(parts[1])!)
    }

    static func set(_ host: FakeHost, _ key: String, _ value: Int) {
        host.files[DoctorNames.path(key)] = Array("\(value)\n".utf8)
    }

    static let loopback = NetworkInterface(
        name: "lo", index: 1, noARP: true, loopback: true, mtu: 65536, addresses: [address("127.0.0.1/8")])

    /// A host of the seeds: kernel 6.1, ip_vs and ipip loaded, the IPVS sysctls at their defaults.
    static func host(interfaces: [NetworkInterface], routes: [Route]) -> FakeHost {
        let host = FakeHost()
        host.network = NetworkFacts(interfaces: interfaces, routes: routes)
        host.files["/proc/modules"] = Array("ip_vs_rr 12288 1 - Live 0x0\nip_vs 200704 3 ip_vs_rr, Live 0x0\nipip 20480 0 - Live 0x0\n".utf8)
        host.files["/proc/sys/kernel/osrelease"] = Array("6.1.0-28-amd64\n".utf8)
        for (key, value) in [
            ("net.ipv4.vs.conntrack", 0), ("net.ipv4.vs.conn_reuse_mode", 1), ("net.ipv4.vs.expire_nodest_conn", 0),
            ("net.ipv4.vs.expire_quiescent_template", 0), ("net.ipv4.ip_forward", 0),
            ("net.ipv4.conf.all.send_redirects", 1), ("net.ipv4.conf.all.rp_filter", 0),
            ("net.ipv4.conf.all.arp_ignore", 0), ("net.ipv4.conf.all.arp_announce", 0),
        ] {
            set(host, key, value)
        }
        for interface in interfaces {
            for (name, value) in [("send_redirects", 1), ("rp_filter", 0), ("arp_ignore", 0), ("arp_announce", 0)] {
                set(host, DoctorNames.conf(.inet, interface.name, name), value)
            }
        }
        return host
    }

    static func segment(_ addresses: [String], index: Int32 = 2, name: String = "eth0", mtu: UInt32 = 1500) -> NetworkInterface {
        NetworkInterface(name: name, index: index, mtu: mtu, addresses: addresses.map(address))
    }

    static let lan = Route(destination: ip("192.168.56.0"), prefixLength: 24, interfaceIndex: 2)
    static let lanDefault = Route(destination: ip("0.0.0.0"), prefixLength: 0, gateway: ip("192.168.56.1"), interfaceIndex: 2)

    /// The DR director of lvs_dr.sh: the VIP on eth0, send_redirects off on all and eth0.
    static func drDirector() -> FakeHost {
        let host = host(
            interfaces: [loopback, segment(["192.168.56.181/24", "192.168.56.185/32"])], routes: [lan, lanDefault])
        set(host, "net.ipv4.ip_forward", 1)
        set(host, "net.ipv4.conf.all.send_redirects", 0)
        set(host, "net.ipv4.conf.eth0.send_redirects", 0)
        return host
    }

    static let drRules = """
        -A -t 192.168.56.185:80 -s rr
        -a -t 192.168.56.185:80 -r 192.168.56.183:80 -g -w 1
        -a -t 192.168.56.185:80 -r 192.168.56.184:80 -g -w 1

        """

    /// The NAT director of lvs_nat.sh: public eth0 with the VIP, private eth1.
    static func natDirector() -> FakeHost {
        let host = host(
            interfaces: [
                loopback, segment(["172.16.254.1/24", "172.16.254.200/32"]),
                segment(["192.168.0.8/24"], index: 3, name: "eth1"),
            ],
            routes: [
                Route(destination: ip("172.16.254.0"), prefixLength: 24, interfaceIndex: 2),
                Route(destination: ip("192.168.0.0"), prefixLength: 24, interfaceIndex: 3),
            ])
        set(host, "net.ipv4.ip_forward", 1)
        for name in ["all", "eth0", "eth1"] { set(host, DoctorNames.conf(.inet, name, "send_redirects"), 0) }
        return host
    }

    static let natRules = """
        -A -t 172.16.254.200:80 -s wrr
        -a -t 172.16.254.200:80 -r 192.168.0.18:8080 -m -w 1
        -a -t 172.16.254.200:80 -r 192.168.0.28:8080 -m -w 1

        """

    /// The TUN director of lvs_tun.sh (no ip_forward).
    static func tunDirector(mtu: UInt32 = 1500) -> FakeHost {
        let host = host(
            interfaces: [loopback, segment(["192.168.56.181/24", "192.168.56.185/32"], mtu: mtu)], routes: [lan, lanDefault])
        set(host, "net.ipv4.conf.all.send_redirects", 0)
        set(host, "net.ipv4.conf.eth0.send_redirects", 0)
        return host
    }

    static let tunRules = drRules.replacingOccurrences(of: " -g ", with: " -i ")

    static func run(_ arguments: [String], _ backend: InMemoryBackend = InMemoryBackend(), _ host: FakeHost) -> Outcome {
        CLI.run(arguments, on: backend, host: host)
    }

    static func codes(_ outcome: Outcome) -> [String] {
        outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("error ") || $0.hasPrefix("warning ") }
            .map { String($0.split(separator: " ")[1]) }
    }

    static func fixes(_ outcome: Outcome) -> [String] {
        outcome.stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix("  fix: ") ? String(line.dropFirst(7)) : nil
        }
    }

    // MARK: The seeds' correct set-ups give nothing

    @Test func correctDirectorsAreClean() {
        for (rules, host) in [(Self.drRules, Self.drDirector()), (Self.natRules, Self.natDirector()), (Self.tunRules, Self.tunDirector())] {
            let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), host)
            #expect(outcome == Outcome(status: 0, stdout: "no problems found\n", stderr: ""), "\(rules)")
            let json = Self.run(["--doctor", "--json"], ApplyTests.loaded(rules), host)
            #expect(json.status == 0 && json.stdout.contains("\"findings\":[]"))
        }
    }

    // MARK: Director faults

    @Test func vipNotLocal() {
        let host = Self.drDirector()
        host.network.interfaces[1].addresses.removeLast()
        host.network = NetworkFacts(interfaces: host.network.interfaces, routes: host.network.routes)
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(Self.drRules), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["vip-not-local"])
        #expect(Self.fixes(outcome) == ["ip addr add 192.168.56.185/32 dev eth0"])
    }

    @Test func drRealServerBehindAGatewayAndRedirects() {
        let host = Self.drDirector()
        Self.set(host, "net.ipv4.conf.all.send_redirects", 1)
        let rules = Self.drRules + "-a -t 192.168.56.185:80 -r 10.9.9.9:80 -g\n"
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), host)
        #expect(outcome.status == 1)
        #expect(Self.codes(outcome) == ["dr-real-server-not-on-link", "dr-send-redirects-on"])
        #expect(Self.fixes(outcome) == ["ip route add 10.9.9.9/32 dev eth0", "sysctl -w net.ipv4.conf.all.send_redirects=0"])
    }

    @Test func natForwardingAndRoutedRealServer() {
        let host = Self.natDirector()
        Self.set(host, "net.ipv4.ip_forward", 0)
        let rules = Self.natRules + "-a -t 172.16.254.200:80 -r 10.7.0.1:8080 -m\n"
        host.network = NetworkFacts(
            interfaces: host.network.interfaces,
            routes: host.network.routes + [Route(destination: Self.ip("0.0.0.0"), prefixLength: 0, gateway: Self.ip("172.16.254.254"), interfaceIndex: 2)])
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), host)
        #expect(outcome.status == 1)
        #expect(Self.codes(outcome) == ["nat-real-server-not-on-link", "nat-ip-forward-off"])
        #expect(Self.fixes(outcome).last == "sysctl -w net.ipv4.ip_forward=1")
    }

    @Test func tunnelMTU() {
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(Self.tunRules), Self.tunDirector(mtu: 1290))
        #expect(outcome.status == 2 && Self.codes(outcome) == ["tun-mtu", "tun-mtu"])
        #expect(Self.fixes(outcome).first == "ip link set dev eth0 mtu 1300")
        #expect(Self.run(["--doctor"], ApplyTests.loaded(Self.tunRules), Self.tunDirector(mtu: 1300)).status == 0)
    }

    @Test func persistenceLongerThanTheTCPTimeoutAndQuiescentTemplates() {
        let rules = Self.drRules.replacingOccurrences(of: "-s rr", with: "-s rr -p 1200")
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), Self.drDirector())
        #expect(outcome.status == 2)
        // expire_quiescent_template=0 bites only once a persistent service has a server at weight 0.
        #expect(Self.codes(outcome) == ["persistence-over-tcp-timeout"])
        #expect(Self.fixes(outcome) == ["ipvsadm --set 1200 0 0"])
        let quiesced = rules.replacingOccurrences(of: "183:80 -g -w 1", with: "183:80 -g -w 0")
        let both = Self.run(["--doctor"], ApplyTests.loaded(quiesced), Self.drDirector())
        #expect(Self.codes(both).contains("sysctl-expire-quiescent-template"))
        #expect(Self.fixes(both).contains("sysctl -w net.ipv4.vs.expire_quiescent_template=1"))
        let host = Self.drDirector()
        Self.set(host, "net.ipv4.vs.expire_quiescent_template", 1)
        let shorter = Self.drRules.replacingOccurrences(of: "-s rr", with: "-s rr -p 600")
        #expect(Self.run(["--doctor"], ApplyTests.loaded(shorter), host).status == 0)
    }

    @Test func noLiveRealServer() {
        let rules = Self.drRules.replacingOccurrences(of: "-w 1", with: "-w 0") + "-A -u 192.168.56.185:53 -s rr\n"
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), Self.drDirector())
        #expect(outcome.status == 1 && Self.codes(outcome) == ["no-live-real-server", "no-live-real-server"])
        let fixes = Self.fixes(outcome)
        // The first real server as the kernel lists them.
        #expect(fixes.first?.hasPrefix("ipvsadm -e -t 192.168.56.185:80 -r 192.168.56.18") == true)
        #expect(fixes.first?.hasSuffix(":80 -g -w 1") == true)
        #expect(fixes.last == "ipvsadm -a -u 192.168.56.185:53 -r REAL-SERVER-ADDRESS -g -w 1")
    }

    @Test func conntrackWithNetfilterNAT() {
        let host = Self.natDirector()
        host.files["/proc/modules"]! += Array("nf_nat 61440 1 - Live 0x0\n".utf8)
        #expect(Self.run(["--doctor"], ApplyTests.loaded(Self.natRules), host).status == 0)
        host.outputs["iptables-save -t nat"] = "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n"
        // No NAT table registered: the tools are not asked.
        #expect(Self.run(["--doctor"], ApplyTests.loaded(Self.natRules), host).status == 0)
        host.files["/proc/modules"]! += Array("iptable_nat 12288 1 - Live 0x0\n".utf8)
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(Self.natRules), host)
        #expect(outcome.status == 2 && Self.codes(outcome) == ["sysctl-conntrack"])
        #expect(Self.fixes(outcome) == ["sysctl -w net.ipv4.vs.conntrack=1"])
    }

    @Test func connReuseModeOnlyWithConntrackBeforeLinux59() {
        let host = Self.drDirector()
        Self.set(host, "net.ipv4.vs.conntrack", 1)
        #expect(Self.run(["--doctor"], ApplyTests.loaded(Self.drRules), host).status == 0)
        host.files["/proc/sys/kernel/osrelease"] = Array("5.4.0-150-generic\n".utf8)
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(Self.drRules), host)
        #expect(outcome.status == 2 && Self.codes(outcome) == ["sysctl-conn-reuse-mode"])
        Self.set(host, "net.ipv4.vs.conn_reuse_mode", 0)
        #expect(Self.run(["--doctor"], ApplyTests.loaded(Self.drRules), host).status == 0)
    }

    @Test func connectionsOfARemovedRealServer() {
        let backend = ApplyTests.loaded(Self.drRules)
        backend.connectionLines = [
            "TCP C0A8380A D431 C0A838B9 0050 C0A838B7 0050 ESTABLISHED       14",
            // A finished connection of a removed server only waits to expire: no finding.
            "TCP C0A8380A D430 C0A838B9 0050 C0A838BE 0050 TIME_WAIT         14",
        ]
        #expect(Self.run(["--doctor"], backend, Self.drDirector()).status == 0)
        backend.connectionLines.append("TCP C0A8380A D432 C0A838B9 0050 C0A838BE 0050 ESTABLISHED       14")
        let outcome = Self.run(["--doctor"], backend, Self.drDirector())
        #expect(outcome.status == 2 && Self.codes(outcome) == ["sysctl-expire-nodest-conn"])
        let host = Self.drDirector()
        Self.set(host, "net.ipv4.vs.expire_nodest_conn", 1)
        #expect(Self.run(["--doctor"], backend, host).status == 0)
    }

    @Test func syncDaemonInterface() {
        let backend = ApplyTests.loaded(Self.drRules + "--start-daemon master --mcast-interface dummy0 --syncid 3\n")
        let outcome = Self.run(["--doctor"], backend, Self.drDirector())
        #expect(outcome.status == 1 && Self.codes(outcome) == ["sync-interface-down"])
        let host = Self.drDirector()
        var interfaces = host.network.interfaces
        interfaces.append(NetworkInterface(name: "dummy0", index: 9, up: false, noARP: true))
        host.network = NetworkFacts(interfaces: interfaces, routes: host.network.routes)
        #expect(Self.fixes(Self.run(["--doctor"], backend, host)) == ["ip link set dev dummy0 up"])
        interfaces[interfaces.count - 1].up = true
        host.network = NetworkFacts(interfaces: interfaces, routes: host.network.routes)
        #expect(Self.run(["--doctor"], backend, host).status == 0)
    }

    @Test func syncDaemonOfTheRulesFileNotRunning() {
        let host = Self.drDirector()
        var interfaces = host.network.interfaces
        interfaces.append(NetworkInterface(name: "dummy0", index: 9, up: true, noARP: true))
        host.network = NetworkFacts(interfaces: interfaces, routes: host.network.routes)
        let daemon = "--start-daemon master --mcast-interface dummy0 --syncid 3\n"
        host.files["/etc/ipvsadm.rules"] = Array((Self.drRules + daemon).utf8)
        let outcome = Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules"], ApplyTests.loaded(Self.drRules), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["sync-daemon-not-running"])
        #expect(Self.fixes(outcome) == ["ipvsadm --start-daemon master --mcast-interface dummy0 --syncid 3"])
        let running = ApplyTests.loaded(Self.drRules + daemon)
        #expect(Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules"], running, host).status == 0)
    }

    @Test func firewallMarkNobodySets() {
        let rules = "-A -f 7 -s rr\n-a -f 7 -r 192.168.56.183 -g\n"
        let host = Self.drDirector()
        // No tool to ask: nothing can be said.
        #expect(Self.run(["--doctor"], ApplyTests.loaded(rules), host).status == 0)
        host.outputs["tc filter show dev eth0 ingress"] = ""
        let outcome = Self.run(["--doctor"], ApplyTests.loaded(rules), host)
        #expect(outcome.status == 2 && Self.codes(outcome) == ["fwmark-unmarked"])
        host.outputs["tc filter show dev eth0 ingress"] = """
            filter protocol ip pref 49152 flower chain 0 handle 0x1
              ip_proto tcp
              dst_ip 192.168.56.185
              dst_port 80
            \taction order 1: skbedit  mark 7 pipe

            """
        #expect(Self.run(["--doctor"], ApplyTests.loaded(rules), host).status == 0)
        host.outputs["tc filter show dev eth0 ingress"] = ""
        host.outputs["iptables-save"] = "-A PREROUTING -d 192.168.56.185/32 -p tcp -j MARK --set-xmark 0x7/0xffffffff\n"
        #expect(Self.run(["--doctor"], ApplyTests.loaded(rules), host).status == 0)
    }

    @Test func rulesFilePortsAndSchedulers() {
        let host = Self.drDirector()
        host.files["/etc/ipvsadm.rules"] = Array((Self.drRules.replacingOccurrences(of: "183:80", with: "183:8080")
            + "-A -t 192.168.56.185:443 -s nosuch\n").utf8)
        let outcome = Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules"], ApplyTests.loaded(Self.drRules), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["scheduler-missing", "dr-port-ignored"])
        #expect(Self.fixes(outcome) == [
            "modprobe ip_vs_nosuch", "sed -i '2s/192\\.168\\.56\\.183:8080/192.168.56.183:80/' /etc/ipvsadm.rules",
        ])
        host.files["/etc/ipvsadm.rules"] = Array(Self.drRules.utf8)
        #expect(Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules"], ApplyTests.loaded(Self.drRules), host).status == 0)
    }

    @Test func withoutIPVSTheModuleIsTheFinding() {
        let out = BufferSink()
        let status = IPVSAdm.run(
            program: "ipvsadm", arguments: ["--doctor"], stdin: TextSource(""), stdout: out, stderr: BufferSink(),
            resolver: HostsResolver.shared, host: Self.drDirector(),
            openBackend: { _ throws(IPVSError) in throw IPVSError(.initialize, errno: .protocolNotAvailable) })
        #expect(status == 1 && out.text.hasPrefix("error ipvs-module-missing ip_vs\n") && out.text.contains("fix: modprobe ip_vs\n"))
        // A rules file that cannot be read is said first, as with IPVS loaded.
        let withIPVS = Self.run(["--doctor", "--rules", "/etc/missing.rules"], ApplyTests.loaded(Self.drRules), Self.drDirector())
        let err = BufferSink()
        let without = IPVSAdm.run(
            program: "ipvsadm", arguments: ["--doctor", "--rules", "/etc/missing.rules"], stdin: TextSource(""),
            stdout: BufferSink(), stderr: err, resolver: HostsResolver.shared, host: Self.drDirector(),
            openBackend: { _ throws(IPVSError) in throw IPVSError(.initialize, errno: .protocolNotAvailable) })
        #expect(withIPVS.status == 255 && without == withIPVS.status && err.text == withIPVS.stderr)
        #expect(err.text.contains("cannot read rules file /etc/missing.rules"))
    }

    // MARK: Real servers

    /// A DR real server of lvs_dr_rs.sh: the VIP on lo, arp_ignore 1 and arp_announce 2 on all, lo, eth0.
    static func drRealServer() -> FakeHost {
        var lo = loopback
        lo.addresses.append(address("192.168.56.185/32"))
        let host = host(interfaces: [lo, segment(["192.168.56.183/24"])], routes: [lan])
        for name in ["all", "lo", "eth0"] {
            set(host, DoctorNames.conf(.inet, name, "arp_ignore"), 1)
            set(host, DoctorNames.conf(.inet, name, "arp_announce"), 2)
        }
        return host
    }

    /// A TUN real server of lvs_tun_rs.sh: the VIP on tunl0, rp_filter 0, ARP as DR.
    static func tunRealServer() -> FakeHost {
        let tunnel = NetworkInterface(name: "tunl0", index: 3, noARP: true, mtu: 1480, addresses: [address("192.168.56.185/32")])
        let host = host(interfaces: [loopback, segment(["192.168.56.183/24"]), tunnel], routes: [lan])
        for name in ["all", "eth0"] {
            set(host, DoctorNames.conf(.inet, name, "arp_ignore"), 1)
            set(host, DoctorNames.conf(.inet, name, "arp_announce"), 2)
        }
        return host
    }

    static func natRealServer() -> FakeHost {
        host(
            interfaces: [loopback, segment(["192.168.0.18/24"])],
            routes: [
                Route(destination: ip("192.168.0.0"), prefixLength: 24, interfaceIndex: 2),
                Route(destination: ip("0.0.0.0"), prefixLength: 0, gateway: ip("192.168.0.8"), interfaceIndex: 2),
            ])
    }

    static let dr = ["--doctor", "--vip", "192.168.56.185", "-g"]
    static let tun = ["--doctor", "--vip", "192.168.56.185", "-i"]
    static let nat = ["--doctor", "--vip", "172.16.254.200", "-m", "--director", "192.168.0.8"]

    @Test func correctRealServersAreCleanWithoutOpeningIPVS() {
        for (arguments, host) in [(Self.dr, Self.drRealServer()), (Self.tun, Self.tunRealServer()), (Self.nat, Self.natRealServer())] {
            var opened = false
            let outcome = CLI.run(arguments + ["--netns", "rs1"], on: InMemoryBackend(), host: host, opened: { _ in opened = true })
            #expect(outcome == Outcome(status: 0, stdout: "no problems found\n", stderr: ""), "\(arguments)")
            #expect(!opened)
        }
    }

    @Test func drVIPMissingOrAnsweringARP() {
        let host = Self.drRealServer()
        host.network.interfaces[0].addresses.removeLast()
        host.network = NetworkFacts(interfaces: host.network.interfaces, routes: host.network.routes)
        let missing = Self.run(Self.dr, InMemoryBackend(), host)
        #expect(missing.status == 1 && Self.codes(missing) == ["rs-vip-missing"])
        #expect(Self.fixes(missing) == ["ip addr add 192.168.56.185/32 dev lo"])
        host.network.interfaces[1].addresses.append(Self.address("192.168.56.185/24"))
        host.network = NetworkFacts(interfaces: host.network.interfaces, routes: host.network.routes)
        let arp = Self.run(Self.dr, InMemoryBackend(), host)
        #expect(arp.status == 1 && Self.codes(arp) == ["rs-vip-on-arp-interface"])
        #expect(Self.fixes(arp) == ["ip addr del 192.168.56.185/24 dev eth0", "ip addr add 192.168.56.185/32 dev lo"])
    }

    /// The kernel uses the larger of all and the interface: either one set is enough, unless
    /// the other is larger and wrong.
    @Test func arpSettingsAsTheKernelCombinesThem() {
        let host = Self.drRealServer()
        Self.set(host, "net.ipv4.conf.all.arp_ignore", 0)
        #expect(Self.run(Self.dr, InMemoryBackend(), host).status == 0)  // eth0 says 1
        Self.set(host, "net.ipv4.conf.eth0.arp_ignore", 0)
        var outcome = Self.run(Self.dr, InMemoryBackend(), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["rs-arp-ignore"])
        #expect(Self.fixes(outcome) == ["sysctl -w net.ipv4.conf.all.arp_ignore=1"])
        Self.set(host, "net.ipv4.conf.all.arp_ignore", 1)
        Self.set(host, "net.ipv4.conf.eth0.arp_ignore", 3)
        outcome = Self.run(Self.dr, InMemoryBackend(), host)
        #expect(Self.fixes(outcome) == ["sysctl -w net.ipv4.conf.eth0.arp_ignore=1"])
        Self.set(host, "net.ipv4.conf.eth0.arp_ignore", 1)
        Self.set(host, "net.ipv4.conf.all.arp_announce", 1)
        Self.set(host, "net.ipv4.conf.eth0.arp_announce", 0)
        outcome = Self.run(Self.dr, InMemoryBackend(), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["rs-arp-announce"])
        #expect(Self.fixes(outcome) == ["sysctl -w net.ipv4.conf.all.arp_announce=2"])
    }

    @Test func vlanInterfaceNamesInSysctlKeys() {
        #expect(DoctorNames.conf(.inet, "eth0.100", "arp_ignore") == "net.ipv4.conf.eth0/100.arp_ignore")
        #expect(DoctorNames.path("net.ipv4.conf.eth0/100.arp_ignore") == "/proc/sys/net/ipv4/conf/eth0.100/arp_ignore")
    }

    @Test func tunnelFaults() {
        let host = Self.tunRealServer()
        Self.set(host, "net.ipv4.conf.tunl0.rp_filter", 1)
        var outcome = Self.run(Self.tun, InMemoryBackend(), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["rs-rp-filter"])
        #expect(Self.fixes(outcome) == ["sysctl -w net.ipv4.conf.tunl0.rp_filter=0"])
        Self.set(host, "net.ipv4.conf.tunl0.rp_filter", 2)  // loose: the client is routable
        #expect(Self.run(Self.tun, InMemoryBackend(), host).status == 0)
        host.network.interfaces[2].up = false
        host.network = NetworkFacts(interfaces: host.network.interfaces, routes: host.network.routes)
        outcome = Self.run(Self.tun, InMemoryBackend(), host)
        #expect(Self.codes(outcome) == ["rs-tunl0-missing"])
        #expect(Self.fixes(outcome) == ["ip link set dev tunl0 up"])
        host.files["/proc/modules"] = Array("ip_vs 200704 0 - Live 0x0\n".utf8)
        host.network = NetworkFacts(interfaces: Array(host.network.interfaces.prefix(2)), routes: host.network.routes)
        outcome = Self.run(Self.tun, InMemoryBackend(), host)
        #expect(Self.codes(outcome) == ["rs-ipip-missing", "rs-tunl0-missing", "rs-vip-missing"])
        #expect(Self.fixes(outcome) == ["modprobe ipip", "ip link set dev tunl0 up", "ip addr add 192.168.56.185/32 dev tunl0"])
    }

    @Test func natGateway() {
        let host = Self.natRealServer()
        host.network = NetworkFacts(interfaces: host.network.interfaces, routes: [host.network.routes[0]])
        var outcome = Self.run(Self.nat, InMemoryBackend(), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["rs-nat-gateway"])
        #expect(Self.fixes(outcome) == ["ip route add default via 192.168.0.8"])
        host.network = NetworkFacts(
            interfaces: host.network.interfaces,
            routes: [host.network.routes[0], Route(destination: Self.ip("0.0.0.0"), prefixLength: 0, gateway: Self.ip("192.168.0.1"), interfaceIndex: 2)])
        outcome = Self.run(Self.nat, InMemoryBackend(), host)
        #expect(Self.fixes(outcome) == ["ip route replace default via 192.168.0.8"])
    }

    /// `--client`: the route to the clients, not the default route, must go through the director.
    @Test func natRouteToTheClients() {
        let host = Self.natRealServer()
        let toClients = Route(destination: Self.ip("172.16.254.0"), prefixLength: 24, gateway: Self.ip("192.168.0.8"), interfaceIndex: 2)
        host.network = NetworkFacts(
            interfaces: host.network.interfaces,
            routes: [host.network.routes[0], toClients,
                     Route(destination: Self.ip("0.0.0.0"), prefixLength: 0, gateway: Self.ip("192.168.0.1"), interfaceIndex: 2)])
        let client = Self.nat + ["--client", "172.16.254.10"]
        #expect(Self.run(client, InMemoryBackend(), host).status == 0)
        #expect(Self.run(Self.nat, InMemoryBackend(), host).status == 1)  // the default route is not the director's
        let outcome = Self.run(Self.nat + ["--client", "172.16.254.10,10.20.0.1"], InMemoryBackend(), host)
        #expect(outcome.status == 1 && Self.codes(outcome) == ["rs-nat-gateway"])
        #expect(Self.fixes(outcome) == ["ip route replace 10.20.0.1/32 via 192.168.0.8"])
        let alone = Self.run(["--doctor", "--vip", "172.16.254.200", "-g", "--client", "1.2.3.4"], InMemoryBackend(), host)
        #expect(alone.status == 255 && alone.stderr.contains("give both"))
    }

    @Test func realServerFromARulesFile() {
        let host = Self.drRealServer()
        host.files["/etc/ipvsadm.rules"] = Array(Self.drRules.utf8)
        #expect(Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules", "-r", "192.168.56.183"], InMemoryBackend(), host).status == 0)
        Self.set(host, "net.ipv4.conf.all.arp_announce", 0)
        Self.set(host, "net.ipv4.conf.eth0.arp_announce", 0)
        let outcome = Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules", "-r", "192.168.56.183"], InMemoryBackend(), host)
        #expect(Self.codes(outcome) == ["rs-arp-announce"])
        let stranger = Self.run(["--doctor", "--rules", "/etc/ipvsadm.rules", "-r", "10.0.0.1"], InMemoryBackend(), host)
        #expect(stranger == Outcome(status: 255, stdout: "", stderr: "ipvsadm: --doctor: 10.0.0.1 is not a real server in /etc/ipvsadm.rules\n"))
        host.files["/etc/nat.rules"] = Array(Self.natRules.utf8)
        let nat = Self.run(["--doctor", "--rules", "/etc/nat.rules", "-r", "192.168.0.18"], InMemoryBackend(), host)
        #expect(nat.status == 255 && nat.stderr.contains("--director"))
    }

    // MARK: Bad input, output forms

    @Test func badCommandLinesAreUsageErrors() {
        let host = Self.drRealServer()
        for (arguments, message) in [
            (["--doctor", "--vip", "192.168.56.185"], "--vip needs the forwarding method"),
            (["--doctor", "--vip", "not-an-address", "-g"], "invalid VIP `not-an-address'"),
            (["--doctor", "--vip", "192.168.56.185,", "-g"], "invalid VIP `'"),
            (["--doctor", "--vip", "172.16.254.200", "-m"], "-m needs --director"),
            (["--doctor", "-g"], "-g, -i and -m name the method"),
            (["--doctor", "--rules", "/nonexistent"], "cannot read rules file /nonexistent: No such file or directory"),
            (["--doctor", "-r", "192.168.56.183"], "give the file with --rules"),
            (["--doctor", "--director", "192.168.0.8"], "--director is for a real server"),
            (["--doctor", "--vip", "192.168.56.185", "-g", "--rules", "/x"], "not both"),
        ] {
            let outcome = Self.run(arguments, ApplyTests.loaded(Self.drRules), host)
            #expect(outcome.status == 255 && outcome.stdout.isEmpty && outcome.stderr.contains(message), "\(arguments): \(outcome)")
        }
        let illegal = Self.run(["--doctor", "-w", "3"], InMemoryBackend(), host)
        #expect(illegal.status == 255 && illegal.stderr.contains("Illegal 'weight' option"))
        host.files["/bad.rules"] = Array("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r\n".utf8)
        let bad = Self.run(["--doctor", "--rules", "/bad.rules"], InMemoryBackend(), host)
        #expect(bad.status == 255 && bad.stderr.hasPrefix("ipvsadm: --doctor: /bad.rules line 2: "))
    }

    @Test func jsonDocument() throws {
        let outcome = Self.run(["--doctor", "--json"], ApplyTests.loaded(Self.drRules + "-A -u 192.168.56.185:53\n"), Self.drDirector())
        #expect(outcome.status == 1)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(Set(document.keys) == ["mode", "findings", "summary"])
        #expect(document["mode"] as? String == "director")
        let findings = try #require(document["findings"] as? [[String: Any]])
        #expect(findings.count == 1)
        #expect(Set(findings[0].keys) == ["severity", "code", "object", "message", "fix"])
        #expect(findings[0]["code"] as? String == "no-live-real-server" && findings[0]["object"] as? String == "UDP 192.168.56.185:53")
        #expect((findings[0]["fix"] as? [String])?.count == 1)
        #expect(document["summary"] as? [String: Int] == ["errors": 1, "warnings": 0])
    }

    /// The schema's doctor report names exactly the codes and members the renderer writes.
    @Test func schemaDescribesTheReport() throws {
        let data = try #require(Repository.contents(ofFile: Repository.path("Docs/ipvsadm.schema.json")))
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
        let definitions = try #require(schema["$defs"] as? [String: Any])
        let report = try #require(definitions["doctorReport"] as? [String: Any])
        #expect(Set(report["required"] as? [String] ?? []) == ["mode", "findings", "summary"])
        let finding = try #require(definitions["doctorFinding"] as? [String: Any])
        #expect(Set(finding["required"] as? [String] ?? []) == ["severity", "code", "object", "message", "fix"])
        let code = try #require((finding["properties"] as? [String: Any])?["code"] as? [String: Any])
        #expect(Set(code["enum"] as? [String] ?? []) == Set(DoctorCode.allCases.map(\.rawValue)))
        let roots = (schema["oneOf"] as? [[String: String]] ?? []).compactMap { $0["$ref"] }
        #expect(roots.contains("#/$defs/doctorReport"))
    }

    @Test func sysctlAdviceIsFoundByName() {
        #expect(SysctlAdvice.advice(for: "net.ipv4.vs.conn_reuse_mode")?.recommended == "0")
        #expect(SysctlAdvice.advice(for: "net.ipv4.conf.eth0.arp_ignore")?.code == .rsARPIgnore)
        #expect(SysctlAdvice.advice(for: "net.ipv4.tcp_syncookies") == nil)
        for advice in SysctlAdvice.all { #expect(!advice.reason.isEmpty && !advice.appliesWhen.isEmpty) }
    }

    /// `--sysctl` shows the doctor's advice for the knobs it has some for.
    @Test func sysctlViewShowsTheAdvice() {
        #expect(Runner.sysctlAdvice("conn_reuse_mode")?.value == "0")
        #expect(Runner.sysctlAdvice("expire_quiescent_template")?.reason.contains("matters when: a persistent service has a real server of weight 0") == true)
        #expect(Runner.sysctlAdvice("amemthresh") == nil)
    }

    @Test func routeLookupTakesTheLongestPrefix() {
        let facts = NetworkFacts(
            interfaces: [Self.segment(["10.0.0.1/8"]), Self.segment(["10.1.0.1/16"], index: 3, name: "eth1")],
            routes: [
                Route(destination: Self.ip("10.0.0.0"), prefixLength: 8, interfaceIndex: 2),
                Route(destination: Self.ip("10.1.0.0"), prefixLength: 16, interfaceIndex: 3),
                Route(destination: Self.ip("0.0.0.0"), prefixLength: 0, gateway: Self.ip("10.0.0.254"), interfaceIndex: 2),
            ])
        #expect(facts.route(to: Self.ip("10.1.2.3"))?.interfaceIndex == 3)
        #expect(facts.route(to: Self.ip("10.2.2.3"))?.interfaceIndex == 2)
        #expect(facts.route(to: Self.ip("11.0.0.1"))?.gateway == Self.ip("10.0.0.254"))
        #expect(facts.route(to: Self.ip("2001:db8::1")) == nil)
        #expect(NetworkFacts.contains(Self.ip("2001:db8::"), 32, Self.ip("2001:db8:1::5")))
        #expect(!NetworkFacts.contains(Self.ip("2001:db8::"), 33, Self.ip("2001:db8:8000::5")))
    }
}
