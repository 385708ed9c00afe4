import Foundation
import IPVS
import IPVSTestSupport
import Testing

@testable import IPVSAdm

/// `--sysctl` against a fake /proc/sys/net/ipv4/vs (FakeHost): what it lists, what it sets and
/// what it refuses. (In the VM every value is compared with `sysctl -n`, in the initial and in
/// a child namespace.)
@Suite struct SysctlTests {
    static let directory = "/proc/sys/net/ipv4/vs/"

    /// A kernel with a few knobs: one global and read-only here, one the catalog does not know.
    static func host() -> FakeHost {
        let host = FakeHost()
        let values = [
            "amemthresh": "1024", "drop_entry": "0", "sync_threshold": "3\t50", "debug_level": "0",
            "sync_qlen_max": "62046", "zz_new_knob": "7",
        ]
        for (name, value) in values { host.files[directory + name] = Array((value + "\n").utf8) }
        host.readOnly = [directory + "debug_level"]
        return host
    }

    static func run(_ arguments: [String], _ host: FakeHost) -> Outcome {
        CLI.run(arguments, on: InMemoryBackend(), host: host)
    }

    static func value(_ host: FakeHost, _ name: String) -> String? { host.text(directory + name) }

    /// Each knob the kernel has is a row starting with its name and its value as the file holds
    /// it; the known ones have their meaning under them; the read-only one says so.
    @Test func viewListsEveryKnobWithItsValue() throws {
        let host = Self.host()
        let result = Self.run(["--sysctl"], host)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let rows = lines.filter { !$0.hasPrefix(" ") && !$0.isEmpty }.dropFirst()
        let names = rows.map { String($0.split(separator: " ")[0]) }
        #expect(names == ["amemthresh", "debug_level", "drop_entry", "sync_qlen_max", "sync_threshold", "zz_new_knob"])
        for row in rows {
            let name = String(row.split(separator: " ")[0])
            let value = try #require(Self.value(host, name)).dropLast().replacing("\t", with: " ")
            #expect(row.dropFirst(26).hasPrefix(value + " "), "\(row)")
            if let knob = SysctlKnob.named(name) {
                #expect(lines.contains("  " + knob.meaning))
                #expect(row.contains(knob.valuesText))
            }
        }
        #expect(result.stdout.contains("debug_level") && result.stdout.contains("  read-only here: one value for all namespaces"))
        #expect(result.stdout.contains("not in ipvsadm's catalog"))
        for line in lines { #expect(line.count <= 80, "\(line)") }
    }

    @Test func oneKnobByNameOrQualifiedName() {
        for word in ["drop_entry", "net.ipv4.vs.drop_entry"] {
            let result = Self.run(["--sysctl", word], Self.host())
            #expect(result.status == 0, "\(result)")
            let rows = result.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }
            #expect(rows.count == 2 && rows[1].hasPrefix("drop_entry "), "\(result)")
        }
    }

    @Test func setInRangeWritesAndReportsTheValueReadBack() {
        let host = Self.host()
        let result = Self.run(["--sysctl", "drop_entry=3", "net.ipv4.vs.sync_threshold=5 60"], host)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        #expect(Self.value(host, "drop_entry") == "3\n")
        #expect(Self.value(host, "sync_threshold") == "5 60\n")
        #expect(result.stdout == "net.ipv4.vs.drop_entry = 3\nnet.ipv4.vs.sync_threshold = 5 60\n")
    }

    /// A value out of its range is refused naming the range, and no word of the line is
    /// written, not even the good ones before it.
    @Test func outOfRangeChangesNothing() {
        let cases: [(String, String)] = [
            ("drop_entry=4", "0 to 3"), ("drop_entry=-1", "0 to 3"), ("drop_entry=x", "0 to 3"),
            ("amemthresh=", "0 or more"), ("sync_threshold=50 3", "T P"), ("sync_threshold=7", "T P"),
            ("sync_qlen_max=-5", "0 or more"),
        ]
        for (word, range) in cases {
            let host = Self.host()
            let result = Self.run(["--sysctl", "amemthresh=2048", word], host)
            #expect(result.status == 2, "\(word): \(result)")
            #expect(result.stderr.contains("invalid value") && result.stderr.contains(range), "\(result)")
            #expect(host.writes.isEmpty && Self.value(host, "amemthresh") == "1024\n")
        }
    }

    @Test func readOnlyIsTheKernelsRefusal() {
        let host = Self.host()
        let result = Self.run(["--sysctl", "debug_level=1"], host)
        #expect(result.status == 1)
        #expect(result.stderr == "ipvsadm: can't set net.ipv4.vs.debug_level to `1': Permission denied "
            + "(read-only here: one value for all namespaces, set in the initial one)\n")
        #expect(Self.value(host, "debug_level") == "0\n")
    }

    /// A knob the catalog does not know has no range to check: the kernel judges, and its
    /// errno is the message.
    @Test func unknownToTheCatalogIsTheKernelsToJudge() {
        let host = Self.host()
        host.writeRule = { _, value in value == Array("x".utf8) ? .invalidArgument : nil }
        let refused = Self.run(["--sysctl", "zz_new_knob=x"], host)
        #expect(refused.status == 1 && refused.stderr.hasSuffix(": Invalid argument\n"), "\(refused)")
        #expect(Self.value(host, "zz_new_knob") == "7\n")
        let taken = Self.run(["--sysctl", "zz_new_knob=9"], host)
        #expect(taken.status == 0 && Self.value(host, "zz_new_knob") == "9\n")
    }

    @Test func namesTheKernelDoesNotHave() {
        let host = Self.host()
        let unknown = Self.run(["--sysctl", "no_such_knob"], host)
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown IPVS sysctl `no_such_knob'"))
        let absent = Self.run(["--sysctl", "est_nice=5"], host)
        #expect(absent.status == 2 && absent.stderr.contains("this kernel has no IPVS sysctl `est_nice'"))
        #expect(host.writes.isEmpty)
        let mixed = Self.run(["--sysctl", "drop_entry=1", "amemthresh"], host)
        #expect(mixed.status == 2 && host.writes.isEmpty)
    }

    @Test func noDirectory() {
        let result = Self.run(["--sysctl"], FakeHost())
        #expect(result.status == 1 && result.stderr.contains("no IPVS sysctls"))
    }

    @Test func json() throws {
        let host = Self.host()
        let result = Self.run(["--sysctl", "--json"], host)
        #expect(result.status == 0, "\(result)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let entries = try #require(document["sysctls"] as? [[String: Any]])
        #expect(entries.count == 6)
        for entry in entries {
            let name = try #require(entry["name"] as? String)
            #expect(entry["value"] as? String == Self.value(host, name).map { String($0.dropLast()) })
            #expect(entry["writable"] as? Bool == (name != "debug_level"))
            #expect(entry["recommended"] is NSNull)
            if let knob = SysctlKnob.named(name) {
                #expect(entry["known"] as? Bool == true && entry["meaning"] as? String == knob.meaning)
                #expect(entry["values"] as? String == knob.valuesText && entry["global"] as? Bool == knob.global)
                if let value = knob.defaultValue {
                    #expect(entry["default"] as? String == value)
                } else {
                    #expect(entry["default"] is NSNull && entry["default_text"] as? String == knob.defaultText)
                }
            } else {
                #expect(entry["known"] as? Bool == false && entry["meaning"] == nil)
            }
        }
        let set = Self.run(["--sysctl", "--json", "drop_entry=1"], host)
        #expect(set.status == 2 && host.writes.isEmpty)
    }

    /// The doctor's advice, when it has some, is in both views.
    @Test func recommendations() throws {
        let host = Self.host()
        let advice: SysctlAdviceLookup = { $0 == "drop_entry" ? ("1", "defends against SYN floods") : nil }
        let entries = try Sysctls(host: host).read(advice: advice)
        #expect(Sysctls.text(entries).contains("\n  recommended 1: defends against SYN floods\n"))
        let sink = BufferSink()
        Sysctls.json(entries, to: sink)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(sink.text.utf8)) as? [String: Any])
        let drop = try #require((document["sysctls"] as? [[String: Any]])?.first { $0["name"] as? String == "drop_entry" })
        #expect((drop["recommended"] as? [String: String]) == ["value": "1", "reason": "defends against SYN floods"])
    }

    @Test func notInRestoreAndNoListingOptions() {
        let host = Self.host()
        #expect(CLI.run(["-R"], on: InMemoryBackend(), stdin: "--sysctl\n", host: host).status == 255)
        let numeric = Self.run(["--sysctl", "-n"], host)
        #expect(numeric.status == 2 && numeric.stderr.contains("Illegal 'numeric' option"), "\(numeric)")
    }

    /// The catalog: one entry per name, meanings that fit the view, and every default a value
    /// its own check takes.
    @Test func catalog() {
        #expect(Set(SysctlKnob.all.map(\.name)).count == SysctlKnob.all.count)
        for knob in SysctlKnob.all {
            #expect(knob.meaning.count <= 76, "\(knob.name)")
            #expect((knob.defaultValue == nil) == (knob.defaultText != nil), "\(knob.name)")
            if let value = knob.defaultValue {
                #expect(knob.check(value) == value.replacing("\t", with: " "), "\(knob.name)")
            }
        }
        let ports = SysctlKnob.named("sync_ports")!
        #expect(ports.check("4") == "4" && ports.check("3") == nil && ports.check("0") == nil)
        let nice = SysctlKnob.named("est_nice")!
        #expect(nice.check("-20") == "-20" && nice.check("20") == nil)
    }
}
