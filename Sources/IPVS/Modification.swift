/// A request that changes the kernel's IPVS state: what one ipvsadm command line asks for.
///
/// As a value, a run of them can be handed to the backend at once (`perform`), which lets
/// the netlink backend pipeline `-R` input instead of waiting for every acknowledgement.
public enum Modification: Sendable, Hashable {
    case addService(VirtualService)
    case updateService(VirtualService)
    case deleteService(VirtualService)
    /// Zero one service's counters, or all of them when nil.
    case zero(VirtualService?)
    case flush
    case addDestination(Destination, to: VirtualService)
    case updateDestination(Destination, in: VirtualService)
    case deleteDestination(Destination, from: VirtualService)
    case setTimeouts(Timeouts)
    case startDaemon(SyncDaemon)
    case stopDaemon(SyncDaemon)

    /// What a refusal of this change is reported as.
    public var operation: IPVSError.Operation {
        switch self {
        case .addService: return .addService
        case .updateService: return .updateService
        case .deleteService: return .deleteService
        case .zero: return .zeroService
        case .flush: return .flush
        case .addDestination: return .addDestination
        case .updateDestination: return .updateDestination
        case .deleteDestination: return .deleteDestination
        case .setTimeouts: return .setTimeouts
        case .startDaemon: return .startDaemon
        case .stopDaemon: return .stopDaemon
        }
    }
}
