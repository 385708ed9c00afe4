import IPVS

/// What `--apply` compares of a service and of a real server: every field the kernel returns
/// that an edit (`-E`, `-e`) sets, as values (not as `-S` text, which leaves some out).
/// Entries are matched by their key fields; a matched entry whose other compared fields are
/// equal is not touched.
///
/// `fields` classifies every field the kernel's reply fills (`IPVSCodec.decodeService`,
/// `decodeDestination`); Docs/Applying.md ("What is compared") shows the same table, and
/// ApplyComparisonTests checks both against the model's stored properties, the kernel's
/// attributes and the plan.
enum ApplyComparison {
    /// A stored property of the model (`VirtualService.scheduler`), or a part of one
    /// (`VirtualService.flags.hashed`), with the attributes of the kernel's reply it is read
    /// from (as `IPVSNetlink`'s `ServiceAttribute` and `DestinationAttribute` name them).
    struct Field: Sendable {
        enum Treatment: Sendable {
            /// Matches entries: a difference is a deletion and an addition.
            case key
            /// Set by an edit: a difference is an edit.
            case edit
            /// Set by an edit, and compared only where the kernel uses it (`comparable`).
            case editWhereUsed(String)
            /// Not compared, for the reason given.
            case ignored(String)
        }

        let name: String
        let attributes: [String]
        let treatment: Treatment

        init(_ name: String, _ attributes: [String], _ treatment: Treatment) {
            self.name = name
            self.attributes = attributes
            self.treatment = treatment
        }

        /// What a difference is, or why there is none: the last column of the document's table.
        var rule: String {
            switch treatment {
            case .key: return "key: a deletion and an addition"
            case .edit: return "an edit"
            case .editWhereUsed(let condition): return "an edit, " + condition
            case .ignored(let reason): return "ignored: " + reason
            }
        }

        var isIgnored: Bool {
            if case .ignored = treatment { return true }
            return false
        }
    }

    /// Every field of a service and a real server that the kernel returns, and what `--apply`
    /// does with a difference in it. Docs/Applying.md mirrors this list, row for row.
    static let fields: [Field] = [
        Field("VirtualService.key", ["addressFamily", "protocol", "address", "port", "firewallMark"], .key),
        Field("VirtualService.scheduler", ["schedulerName"], .edit),
        Field("VirtualService.flags", ["flags"], .edit),
        Field("VirtualService.flags.hashed", ["flags"], .ignored(
            "the kernel's own mark of a service in its table, set on every one; no request sets or clears it")),
        Field("VirtualService.timeout", ["timeout"], .edit),
        Field("VirtualService.netmask", ["netmask"], .edit),
        Field("VirtualService.persistenceEngine", ["persistenceEngineName"], .edit),
        Field("VirtualService.stats", ["stats", "stats64"], .ignored(
            "counters and rates: the kernel's, read-only; an edit keeps them")),
        Field("Destination.address", ["address", "addressFamily"], .key),
        Field("Destination.port", ["port"], .key),
        Field("Destination.forwarding", ["forwardingMethod"], .edit),
        Field("Destination.weight", ["weight"], .edit),
        Field("Destination.upperThreshold", ["upperThreshold"], .edit),
        Field("Destination.lowerThreshold", ["lowerThreshold"], .edit),
        Field("Destination.tunnelType", ["tunnelType"], .editWhereUsed("of a tunnelled real server (`-i`) only")),
        Field("Destination.tunnelPort", ["tunnelPort"], .editWhereUsed("of a tunnelled real server of type `gue` only")),
        Field("Destination.tunnelFlags", ["tunnelFlags"], .editWhereUsed(
            "of a tunnelled real server of type `gue` or `gre` only")),
        Field("Destination.activeConnections", ["activeConnections"], .ignored(
            "a count of the kernel's connections: read-only")),
        Field("Destination.inactiveConnections", ["inactiveConnections"], .ignored(
            "a count of the kernel's connections: read-only")),
        Field("Destination.persistentConnections", ["persistentConnections"], .ignored(
            "a count of the kernel's persistence templates: read-only")),
        Field("Destination.stats", ["stats", "stats64"], .ignored(
            "counters and rates: the kernel's, read-only; an edit keeps them")),
    ]

    // MARK: - The comparison (hot path: once per entry of the table, no allocation)

    /// Whether an edit of `current` to `desired` (the same key) would change nothing.
    static func sameSettings(_ desired: VirtualService, _ current: VirtualService) -> Bool {
        comparable(desired) == comparable(current)
    }

    /// Whether an edit of `current` to `desired` (the same key) would change nothing.
    static func sameSettings(_ desired: Destination, _ current: Destination) -> Bool {
        comparable(desired) == comparable(current)
    }

    /// A service with what `fields` ignores cleared: `==` of two of them compares the rest, so
    /// a field added to the model is compared until it is classified otherwise.
    static func comparable(_ service: VirtualService) -> VirtualService {
        var copy = service
        copy.flags.remove(.hashed)
        copy.stats = Statistics()
        return copy
    }

    /// A real server with what `fields` ignores cleared and its tunnel settings as the kernel
    /// uses them (`usedTunnelSettings`).
    static func comparable(_ destination: Destination) -> Destination {
        var copy = usedTunnelSettings(destination)
        copy.activeConnections = 0
        copy.inactiveConnections = 0
        copy.persistentConnections = 0
        copy.stats = Statistics()
        return copy
    }

    /// The tunnel settings of a real server as the kernel uses them, the rest at the defaults
    /// `-a` gives (ipip, port 0, no flags). The kernel keeps all three whatever the forwarding
    /// method, but reads them only to tunnel: the type for `-i`, the port for GUE only, the
    /// checksum flags for GUE and GRE only. A value it keeps but does not use (left by another
    /// tool, or by an edit to another method) is no difference: the input cannot give it (the
    /// tunnel options are refused with another method or type) and `-S` does not show it, so
    /// comparing it would plan an edit on every run. A type without a name is compared whole.
    static func usedTunnelSettings(_ destination: Destination) -> Destination {
        var copy = destination
        guard copy.forwarding == .tunnel else {
            copy.tunnelType = .ipip
            copy.tunnelPort = 0
            copy.tunnelFlags = []
            return copy
        }
        switch copy.tunnelType {
        case .ipip:
            copy.tunnelPort = 0
            copy.tunnelFlags = []
        case .gre:
            copy.tunnelPort = 0
        default:
            break
        }
        return copy
    }
}
