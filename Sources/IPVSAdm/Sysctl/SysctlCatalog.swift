/// What ipvsadm knows of the kernel's IPVS sysctls (`net.ipv4.vs.*`), from the kernel's
/// Documentation/networking/ipvs-sysctl.rst and net/netfilter/ipvs/ip_vs_ctl.c (and the lblc
/// and lblcr schedulers): each knob's default, the values it takes, and what it does. Which
/// knobs exist is the kernel's to say (`--sysctl` lists /proc/sys/net/ipv4/vs as it is); a
/// knob missing here is still listed, with its value only.
struct SysctlKnob: Sendable {
    /// The values a knob takes, as the kernel's handler checks them (or, for the knobs the
    /// kernel documents as booleans, the two values it names: any other number reads back as
    /// itself and means the same as 1).
    enum Values: Sendable, Equatable {
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A power of two in the range (`sync_ports`).
        case powerOfTwo(ClosedRange<Int>)
        /// Two whole numbers, threshold and period: both 0 or more, the threshold below the
        /// period unless the period is 0 (`sync_threshold`).
        case thresholdAndPeriod
        /// A CPU list as the kernel's `cpulist_parse` reads it (`est_cpulist`): the kernel judges.
        case cpuList
    }

    let name: String
    /// The value as the kernel sets it in a new namespace, written as `sysctl -n` prints it;
    /// nil when the kernel computes it (`defaultText` says how).
    let defaultValue: String?
    /// How the default is computed, when it is.
    let defaultText: String?
    let values: Values
    /// One line (at most 76 characters): what it does.
    let meaning: String
    /// One value for the whole system: the kernel makes it read-only outside the initial
    /// network namespace (`debug_level`).
    let global: Bool

    init(
        _ name: String, _ defaultValue: String?, _ values: Values, _ meaning: String,
        defaultText: String? = nil, global: Bool = false
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.defaultText = defaultText
        self.values = values
        self.meaning = meaning
        self.global = global
    }

    /// The values as the view shows them.
    var valuesText: String {
        switch values {
        case .integer(let range):
            if range == 0...1 { return "0 or 1" }
            if range.upperBound >= Int(Int32.max) { return "\(range.lowerBound) or more" }
            return "\(range.lowerBound) to \(range.upperBound)"
        case .powerOfTwo: return "1, 2, 4, ... (power of 2)"
        case .thresholdAndPeriod: return "T P (T < P, or P = 0)"
        case .cpuList: return "CPU list (\"0-3,5\", \"all\", \"\")"
        }
    }

    /// `value` as this knob takes it, in the form written to the kernel; nil when out of range.
    func check(_ value: String) -> String? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        switch values {
        case .integer(let range):
            guard words.count == 1, let number = SysctlKnob.integer(words[0]), range.contains(number) else { return nil }
            return String(number)
        case .powerOfTwo(let range):
            guard words.count == 1, let number = SysctlKnob.integer(words[0]), range.contains(number),
                number.nonzeroBitCount == 1
            else { return nil }
            return String(number)
        case .thresholdAndPeriod:
            guard words.count == 2, let threshold = SysctlKnob.integer(words[0]), let period = SysctlKnob.integer(words[1]),
                threshold >= 0, period >= 0, threshold <= Int(Int32.max), period <= Int(Int32.max),
                threshold < period || period == 0
            else { return nil }
            return "\(threshold) \(period)"
        case .cpuList:
            return value
        }
    }

    /// A decimal integer, optionally signed, nothing else.
    private static func integer(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 19 else { return nil }
        return Int(text)
    }

    static let int32 = 0...Int(Int32.max)
    /// Seconds kept in jiffies: the kernel refuses more than INT_MAX / HZ (HZ is at most 1000).
    static let seconds = 0...Int(Int32.max) / 1000

    /// The knobs, by name.
    static func named(_ name: String) -> SysctlKnob? { byName[name] }

    private static let byName: [String: SysctlKnob] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static let all: [SysctlKnob] = [
        SysctlKnob("amemthresh", "1024", .integer(int32),
            "Free memory (pages) below which the automatic defense modes switch on."),
        SysctlKnob("am_droprate", "10", .integer(int32),
            "drop_packet mode 3 drops 1 packet in this many."),
        SysctlKnob("backup_only", "0", .integer(0...1),
            "No director function while a backup sync daemon runs (DR/TUN loops)."),
        SysctlKnob("cache_bypass", "0", .integer(0...1),
            "No real server available: forward to the original destination (caches)."),
        SysctlKnob("conn_reuse_mode", "1", .integer(0...3),
            "A reused client port: 1 reschedules when safe, 2 also in FIN_WAIT, 0 never."),
        SysctlKnob("conntrack", "0", .integer(0...1),
            "Keep netfilter conntrack entries for IPVS connections (stateful rules)."),
        SysctlKnob("debug_level", "0", .integer(int32),
            "Kernel log verbosity of IPVS (CONFIG_IP_VS_DEBUG kernels only).", global: true),
        SysctlKnob("drop_entry", "0", .integer(0...3),
            "Defense: drop random SYN-RECV entries (0 off, 1-2 on low memory, 3 on)."),
        SysctlKnob("drop_packet", "0", .integer(0...3),
            "Defense: drop 1/rate packets (0 off, 1-2 on low memory, 3 at am_droprate)."),
        SysctlKnob("est_cpulist", nil, .cpuList,
            "CPUs the rate estimation kthreads may run on (empty: no estimation).",
            defaultText: "kthread CPUs"),
        SysctlKnob("est_nice", "0", .integer(-20...19),
            "Nice value of the rate estimation kthreads."),
        SysctlKnob("expire_nodest_conn", "0", .integer(0...1),
            "Expire a connection at its next packet once its real server is removed."),
        SysctlKnob("expire_quiescent_template", "0", .integer(0...1),
            "Expire persistence templates of real servers of weight 0."),
        SysctlKnob("ignore_tunneled", "0", .integer(0...1),
            "Mark packets of unknown protocols (IPIP) as IPVS's: no rescheduling loops."),
        SysctlKnob("lblc_expiration", "86400", .integer(seconds),
            "Seconds an unused lblc scheduler entry is kept (ip_vs_lblc loaded)."),
        SysctlKnob("lblcr_expiration", "86400", .integer(seconds),
            "Seconds an unused lblcr scheduler entry is kept (ip_vs_lblcr loaded)."),
        SysctlKnob("nat_icmp_send", "0", .integer(0...1),
            "NAT: answer real servers' packets of no connection with ICMP unreachable."),
        SysctlKnob("pmtu_disc", "1", .integer(0...1),
            "Refuse DF packets over the path MTU (FRAG_NEEDED); 0 fragments them (TUN)."),
        SysctlKnob("run_estimation", "1", .integer(0...1),
            "Compute the rate counters (--rate); 0 stops the estimation kthreads."),
        SysctlKnob("schedule_icmp", "0", .integer(0...1),
            "Schedule ICMP packets that arrive without a connection to a real server."),
        SysctlKnob("secure_tcp", "0", .integer(0...3),
            "Defense: a stricter TCP state table (0 off, 1-2 on low memory, 3 on)."),
        SysctlKnob("sloppy_sctp", "0", .integer(0...1),
            "Make connections from any SCTP packet, not only INIT (sync backups)."),
        SysctlKnob("sloppy_tcp", "0", .integer(0...1),
            "Make connections from any TCP packet, not only SYN (sync backups)."),
        SysctlKnob("snat_reroute", "1", .integer(0...1),
            "Route NAT replies as if the director sent them (policy routing)."),
        SysctlKnob("sync_persist_mode", "0", .integer(0...1),
            "1: sync only the persistence templates of persistent services."),
        SysctlKnob("sync_ports", "1", .powerOfTwo(1...(1 << 30)),
            "Sync daemon threads, one UDP port each from 8848."),
        SysctlKnob("sync_qlen_max", nil, .integer(0...Int.max),
            "Most sync messages queued and not yet sent.",
            defaultText: "memory/32"),
        SysctlKnob("sync_refresh_period", "0", .integer(seconds),
            "Seconds: resync an unchanged connection whose timer moved this much."),
        SysctlKnob("sync_retries", "0", .integer(0...3),
            "Retries of a sync message, every sync_refresh_period/8."),
        SysctlKnob("sync_sock_size", "0", .integer(int32),
            "Send (master) or receive (backup) buffer of the sync socket; 0: system's."),
        SysctlKnob("sync_threshold", "3\t50", .thresholdAndPeriod,
            "Sync a connection at its Tth packet of every P (threshold, period)."),
        SysctlKnob("sync_version", "1", .integer(0...1),
            "Sync protocol version sent; 0 only for very old backups."),
    ]
}
