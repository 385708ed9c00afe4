import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `-S --checks-from FILE`: a save that keeps the file's checks and the declared weights of
/// the servers the health checker holds out.
@Suite struct HealthSaveTests {
    static let kernelRules = """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0
        -a -t 10.0.0.1:80 -r 10.0.1.9:80 -m -w 1
        -A -u 10.0.0.1:53 -s wlc
        -a -u 10.0.0.1:53 -r 10.0.1.1:53 -m -w 1

        """
    static let file = """
        # the admin's file, in other spellings
        --add-service --tcp-service=10.0.0.1:80 --scheduler=rr --check http,path=/h%20x,interval=1
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3 --check tcp,port=22
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2
        -A -u 10.0.0.1:53
        -a -u 10.0.0.1:53 -r 10.0.1.1:53 -m --check none
        --set 0 0 0

        """
    static let state = HealthStateFile(
        pid: 7, heartbeat: 1, rules: "/etc/ipvsadm.rules",
        records: [
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.1:80", state: .up, declaredWeight: 3, weight: 3, since: 1),
            HealthRecord(service: "TCP 10.0.0.1:80", server: "10.0.1.2:80", state: .down, declaredWeight: 2, weight: 0, since: 1),
            HealthRecord(
                service: "TCP 10.0.0.1:80", server: "10.0.1.9:80", state: .up, declaredWeight: 1, weight: 1, since: 1,
                sorry: true),
        ])

    static func setUp(state: HealthStateFile? = state) -> (InMemoryBackend, FakeHost) {
        let backend = InMemoryBackend()
        precondition(CLI.run(["-R"], on: backend, stdin: kernelRules).status == 0)
        let host = FakeHost()
        host.files["/etc/ipvsadm.rules"] = Array(file.utf8)
        if let state { host.files["/run/ipvsadm/health-4026531840"] = Array(state.encode().utf8) }
        return (backend, host)
    }

    static let saved = """
        -A -t 10.0.0.1:80 -s rr --check http,path=/h%20x,interval=1
        -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3 --check tcp,port=22
        -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2
        -A -u 10.0.0.1:53 -s wlc
        -a -u 10.0.0.1:53 -r 10.0.1.1:53 -m -w 1 --check none

        """

    @Test func keepsChecksAndDeclaredWeights() {
        let (backend, host) = Self.setUp()
        #expect(CLI.run(["-S", "-n", "--checks-from", "/etc/ipvsadm.rules"], on: backend, stdin: "", host: host)
            == Outcome(status: 0, stdout: Self.saved, stderr: ""))
    }

    @Test func withoutAStateFileTheKernelsWeights() {
        let (backend, host) = Self.setUp(state: nil)
        let out = CLI.run(["-Sn", "--checks-from=/etc/ipvsadm.rules"], on: backend, stdin: "", host: host).stdout
        #expect(out.contains("-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0\n") && out.contains("-r 10.0.1.9:80 -m -w 1\n"))
        #expect(out.contains("-A -t 10.0.0.1:80 -s rr --check http,path=/h%20x,interval=1\n"))
    }

    @Test func withoutChecksFromTheSaveIsUnchanged() {
        let (backend, host) = Self.setUp()
        #expect(CLI.run(["-Sn"], on: backend, stdin: "", host: host).stdout == Self.kernelRules)
    }

    @Test func theSaveReadsBack() throws {
        let (backend, host) = Self.setUp()
        let saved = CLI.run(["-Sn", "--checks-from", "/etc/ipvsadm.rules"], on: backend, stdin: "", host: host).stdout
        let read = try HealthDeclarations.read(text: saved, resolver: HostsResolver.shared)
        #expect(read.services.first?.servers.map { $0.check?.kind } == [.tcp, .http])
        let again = InMemoryBackend()
        #expect(CLI.run(["--apply"], on: again, stdin: saved).status == 0)
        #expect(CLI.run(["-Sn"], on: again).stdout == saved.replacingOccurrences(" --check ", upTo: "\n"))
    }

    @Test func aBadFileEndsTheSaveBeforeAnyOutput() {
        let (backend, host) = Self.setUp()
        #expect(CLI.run(["-Sn", "--checks-from", "/nowhere"], on: backend, stdin: "", host: host) == Outcome(
            status: 2, stdout: "", stderr: "ipvsadm: --checks-from /nowhere: No such file or directory\n"))
        host.files["/etc/bad.rules"] = Array("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.1.1 --check tcp,x=1\n".utf8)
        #expect(CLI.run(["-Sn", "--complete", "--checks-from", "/etc/bad.rules"], on: backend, stdin: "", host: host)
            == Outcome(status: 2, stdout: "", stderr: "ipvsadm: --checks-from /etc/bad.rules: line 2: --check: unknown key 'x'\n"))
    }
}

extension String {
    /// Every `target` up to the next `end` cut out (the `--check` words of a save).
    fileprivate func replacingOccurrences(_ target: String, upTo end: Character) -> String {
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            rest = rest[range.lowerBound...]
            rest = rest[(rest.firstIndex(of: end) ?? rest.endIndex)...]
        }
        return out + rest
    }
}
