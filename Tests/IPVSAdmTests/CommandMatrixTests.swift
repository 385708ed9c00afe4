@testable import IPVSAdm
import IPVS
import Testing

/// The matrix rows, declared by option name, are ipvsadm 1.31's matrices cell for cell.
/// (That every row has a cell for every option holds by construction: a row names the options
/// it takes, and every other one is illegal.)
@Suite struct CommandMatrixTests {
    /// ipvsadm 1.31's `commands_v_options`, as ipvsadm.c writes it: one row per `CMD_*`, one
    /// column per `OPT_*` (numeric ... tun-remcsum); `+` required, `x` illegal, `1` at most one
    /// of the `1` options, space allowed.
    static let ipvsadm: [(Command, String)] = [
        (.add,         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"),
        (.edit,        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"),
        (.delete,      "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.flush,       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.list,        " 11xxxxxxxxx11       xxxxxxx xxxxx"),
        (.addDest,     "xx+xxx+    xxxxxxxxxxxxxxxxxx     "),
        (.deleteDest,  "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.editDest,    "xx+xxx+    xxxxxxxxxxxxxxxxxx     "),
        (.timeout,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.startDaemon, "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx"),
        (.stopDaemon,  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx"),
        (.restore,     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.save,        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        (.zero,        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ]

    /// ipvsadm's `optnames[]`, in `OPT_*` order.
    static let ipvsadmOptionNames = [
        "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
        "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon", "stats",
        "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
        "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port", "tun-nocsum",
        "tun-csum", "tun-remcsum",
    ]

    /// ipvsadm's `cmdnames[]`, in `CMD_*` order.
    static let ipvsadmCommandNames = [
        "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
        "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
    ]

    /// A rule's cell for one option, in ipvsadm's notation.
    static func cell(_ rule: OptionRule, _ option: OptionBit) -> Character {
        let cells: [Character] = [
            rule.required.contains(option) ? "+" : nil, rule.oneOf.contains(option) ? "1" : nil,
            rule.allowed.contains(option) ? " " : nil, rule.illegal.contains(option) ? "x" : nil,
        ].compactMap { $0 }
        return cells.count == 1 ? cells[0] : "?"  // "?": in no list, or in two
    }

    @Test func commandRowsAreIpvsadms() {
        #expect(Self.ipvsadm.map(\.0) == Array(Command.allCases.prefix(Self.ipvsadm.count)))
        for (command, row) in Self.ipvsadm {
            let columns = OptionBit.allCases.prefix(row.count)
            #expect(String(columns.map { Self.cell(command.rule, $0) }) == row, "\(command.name)")
        }
    }

    @Test func namesAreIpvsadms() {
        #expect(OptionBit.allCases.prefix(Self.ipvsadmOptionNames.count).map(\.name) == Self.ipvsadmOptionNames)
        #expect(Command.allCases.prefix(Self.ipvsadmCommandNames.count).map(\.name) == Self.ipvsadmCommandNames)
    }

    /// Our columns: every command takes `--netns`, and each of our options is taken by at
    /// least one command (a column no row names could never be given).
    @Test func ourColumns() {
        for command in Command.allCases {
            #expect(Self.cell(command.rule, .netns) == " ", "\(command.name)")
            #expect(!OptionBit.allCases.map { Self.cell(command.rule, $0) }.contains("?"), "\(command.name)")
        }
        for option in OptionBit.allCases {
            #expect(Command.allCases.contains { !$0.rule.illegal.contains(option) }, "\(option.name)")
        }
    }

    /// `tunnel_types_v_options`: rows ipip, gue, gre; columns tun-port ... tun-remcsum.
    @Test func tunnelRowsAreIpvsadms() {
        let columns: [OptionBit] = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
        let expected: [(String, TunnelType, String)] = [
            ("ipip", .ipip, "xxxx"), ("gue", .gue, "+111"), ("gre", .gre, "x11x"),
        ]
        for (name, type, row) in expected {
            #expect(TunnelTypes.type(named: name) == type)
            #expect(TunnelTypes.name(of: type) == name)
            let rule = TunnelTypes.rule(of: type)!
            #expect(String(columns.map { Self.cell(rule, $0) }) == row, "\(name)")
            #expect(OptionSet64(bits: rule.illegal.bits | rule.required.bits | rule.oneOf.bits | rule.allowed.bits)
                == OptionSet64.tunnelOptions)
        }
        #expect(TunnelTypes.rule(of: TunnelType(rawValue: 3)) == nil)
    }
}
