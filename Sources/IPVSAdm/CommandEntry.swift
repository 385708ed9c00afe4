import IPVS

/// Everything one ipvsadm command line asks for, as parsed (ipvsadm's
/// `struct ipvs_command_entry` plus its option bits and list format).
struct CommandEntry {
    /// The virtual service as given; `family` is nil until an address or `-f` is seen.
    struct Service {
        var family: AddressFamily?
        var protocolNumber: IPProtocolNumber = IPProtocolNumber(rawValue: 0)
        var address: IPAddress?
        var port: UInt16 = 0
        var fwmark: UInt32 = 0
        var scheduler = ""
        var flags: ServiceFlags = []
        var timeout: UInt32 = 0
        /// IPv4 mask (host order) or IPv6 prefix, as ipvsadm keeps it in one field.
        var netmask: UInt32 = 0xffff_ffff
        var persistenceEngine = ""

        var key: ServiceKey {
            if fwmark != 0 { return .firewallMark(fwmark, family: family ?? .inet) }
            let family = family ?? .inet
            return .address(
                protocol: protocolNumber,
                address: address ?? IPAddress(family: family, high: 0, low: 0),
                port: port
            )
        }

        var model: VirtualService {
            VirtualService(
                key: key, scheduler: scheduler, flags: flags, timeout: timeout, netmask: netmask,
                persistenceEngine: persistenceEngine
            )
        }

        /// `-Z` without a service zeroes everything: ipvsadm sends no service when
        /// fwmark, address and port are all zero.
        var isUnset: Bool {
            fwmark == 0 && port == 0 && (address.map { $0.high == 0 && $0.low == 0 } ?? true)
        }
    }

    var command: Command = .list
    var options = OptionSet64()
    var format = ListFormat()
    var service = Service()
    var destination = Destination(address: IPAddress(ipv4: 0), port: 0)
    var destinationFamily: AddressFamily?
    var daemon = SyncDaemon(state: .master)
    var timeouts = Timeouts(tcp: 0, tcpFin: 0, udp: 0)
    /// `-b` as given; read once the scheduler is known.
    var schedulerFlags = ""
    /// `--drain`: seconds to wait for the connections of real servers being removed.
    var drainSeconds: UInt32?
    /// `--metrics`: per real server or summed per service.
    var metrics: MetricsRenderer.Scope?
    /// `--netns`: the network namespace (a name under /run/netns, or a path).
    var namespace: String?
    /// `--scope`, in order (repeatable).
    var scopes: [TableScope.Item] = []
    /// `--owner`: the name of an ownership record.
    var owner: String?
    /// `--lock-wait`: seconds to wait for another writer's lock.
    var lockWait: UInt32 = Runner.defaultLockWait
    /// `--check`: the health-check declaration of an -A or -a line of a rules file, as written
    /// (`Parser.readsRules`); checked by `CheckDeclaration.parse`.
    var check: String?
    /// `-S --checks-from FILE`: the rules file whose `--check` words the save keeps.
    var checksFrom: String?
    /// `--doctor --rules FILE`, `--vip`, `--director` (Docs/Doctor.md).
    var rulesFile: String?
    var vips: [IPAddress] = []
    var director: IPAddress?
    /// `--doctor --client`: addresses of clients whose route a NAT real server is checked for.
    var clients: [IPAddress] = []
    /// `-r`'s port as written (nil: none): a `-g` line's port the kernel does not keep.
    var destinationPortWritten: UInt16?
    /// `--sysctl`'s words: knob names to show, or NAME=VALUE to set.
    var sysctlWords: [String] = []
    /// `--watch`: seconds between refreshes.
    var watchSeconds: Double?
    /// `-Lc`'s filters (`--conn-service`, `--conn-server`, `--conn-state`, `--conn-client`).
    var connectionFilter = ConnectionFilter()

    /// The real server as the kernel takes it: the address in the family `-r` gave.
    var destinationModel: Destination {
        var model = destination
        if let family = destinationFamily, model.address.family != family {
            model.address = IPAddress(family: family, high: model.address.high, low: model.address.low)
        }
        return model
    }
}

/// Which listing and how (ipvsadm's `FMT_*` bits).
struct ListFormat: Equatable {
    var numeric = false
    var stats = false
    var rate = false
    var thresholds = false
    var persistentConn = false
    var noSort = false
    var exact = false
    var tunnelInfo = false
}
