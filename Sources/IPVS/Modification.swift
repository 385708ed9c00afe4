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
}

extension IPVSBackend {
    /// Carries out one modification with the matching request.
    public func apply(_ modification: Modification) throws(IPVSError) {
        switch modification {
        case .addService(let service): try addService(service)
        case .updateService(let service): try updateService(service)
        case .deleteService(let service): try deleteService(service)
        case .zero(let service): try zero(service)
        case .flush: try flush()
        case .addDestination(let destination, let service): try addDestination(destination, to: service)
        case .updateDestination(let destination, let service): try updateDestination(destination, in: service)
        case .deleteDestination(let destination, let service): try deleteDestination(destination, from: service)
        case .setTimeouts(let timeouts): try setTimeouts(timeouts)
        case .startDaemon(let daemon): try startDaemon(daemon)
        case .stopDaemon(let daemon): try stopDaemon(daemon)
        }
    }

    /// Carries out modifications in order, each on its own (a failure does not stop the
    /// ones after it, as with separate ipvsadm runs); one result per modification.
    public func perform(_ modifications: [Modification]) -> [IPVSError?] {
        var results: [IPVSError?] = []
        results.reserveCapacity(modifications.count)
        for modification in modifications {
            do throws(IPVSError) {
                try apply(modification)
                results.append(nil)
            } catch {
                results.append(error)
            }
        }
        return results
    }
}
