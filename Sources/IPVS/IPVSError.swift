/// A request the kernel (or the transport to it) refused, with the kernel's own errno.
///
/// `operation` plays the role of libipvs' `ipvs_func` global: some errnos read differently
/// depending on what was asked (ESRCH is "No such service" for a service request and
/// "Service not defined" for a real-server request).
public struct IPVSError: Error, Hashable, Sendable {
    public enum Operation: Sendable, Hashable {
        case initialize, info
        /// Entering the network namespace of `--netns`.
        case enterNetworkNamespace
        case addService, updateService, deleteService, zeroService, flush
        case addDestination, updateDestination, deleteDestination
        case setTimeouts, startDaemon, stopDaemon
        case getServices, getService, getDestinations, getTimeouts, getDaemons
    }

    public var operation: Operation
    /// What the kernel (or the transport to it) answered.
    public var errno: Errno

    public init(_ operation: Operation, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    /// The text ipvsadm prints for this error (libipvs' `ipvs_strerror`): operation-specific
    /// entries first, then the generic ones, then the C library's `strerror`.
    public var message: String {
        switch (operation, errno) {
        case (.addService, .fileExists): return "Service already exists"
        case (.addService, .noSuchFileOrDirectory), (.updateService, .noSuchFileOrDirectory):
            return "Scheduler or persistence engine not found"
        case (.updateService, .noSuchProcess), (.deleteService, .noSuchProcess), (.zeroService, .noSuchProcess):
            return "No such service"
        case (.addDestination, .noSuchProcess), (.updateDestination, .noSuchProcess), (.deleteDestination, .noSuchProcess):
            return "Service not defined"
        case (.addDestination, .fileExists): return "Destination already exists"
        case (.updateDestination, .noSuchFileOrDirectory), (.deleteDestination, .noSuchFileOrDirectory):
            return "No such destination"
        case (.startDaemon, .fileExists): return "Daemon has already run"
        case (.stopDaemon, .noSuchProcess): return "No daemon is running"
        case (.getServices, .noSuchProcess), (.getDestinations, .noSuchProcess), (.getService, .noSuchProcess):
            return "No such service"
        case (_, .notPermitted): return "Permission denied (you must be root)"
        case (_, .invalidArgument): return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case (_, .protocolNotAvailable): return "Protocol not available"
        case (_, .noMemory): return "Memory allocation problem"
        case (_, .notSupported): return "Operation not supported with IPv6"
        case (_, .addressFamilyNotSupported): return "Operation not supported with specified address family"
        case (_, .messageTooLong): return "Module is wrong version"
        default: return errno.text
        }
    }
}

extension IPVSError: CustomStringConvertible {
    public var description: String { message }
}
