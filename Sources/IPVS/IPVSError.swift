import Glibc

/// A request the kernel (or the transport to it) refused, with the kernel's own errno.
///
/// `operation` plays the role of libipvs' `ipvs_func` global: some errnos read differently
/// depending on what was asked (ESRCH is "No such service" for a service request and
/// "Service not defined" for a real-server request).
public struct IPVSError: Error, Hashable, Sendable {
    public enum Operation: Sendable, Hashable {
        case initialize, info
        case addService, updateService, deleteService, zeroService, flush
        case addDestination, updateDestination, deleteDestination
        case setTimeouts, startDaemon, stopDaemon
        case getServices, getService, getDestinations, getTimeouts, getDaemons
    }

    public var operation: Operation
    /// Positive errno value (`EEXIST`, `ESRCH`, ...).
    public var errno: Int32

    public init(_ operation: Operation, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// The text ipvsadm prints for this error (libipvs' `ipvs_strerror`): operation-specific
    /// entries first, then the generic ones, then the C library's `strerror`.
    public var message: String {
        switch (operation, errno) {
        case (.addService, EEXIST): return "Service already exists"
        case (.addService, ENOENT), (.updateService, ENOENT): return "Scheduler or persistence engine not found"
        case (.updateService, ESRCH), (.deleteService, ESRCH), (.zeroService, ESRCH): return "No such service"
        case (.addDestination, ESRCH), (.updateDestination, ESRCH), (.deleteDestination, ESRCH):
            return "Service not defined"
        case (.addDestination, EEXIST): return "Destination already exists"
        case (.updateDestination, ENOENT), (.deleteDestination, ENOENT): return "No such destination"
        case (.startDaemon, EEXIST): return "Daemon has already run"
        case (.stopDaemon, ESRCH): return "No daemon is running"
        case (.getServices, ESRCH), (.getDestinations, ESRCH), (.getService, ESRCH): return "No such service"
        case (_, EPERM): return "Permission denied (you must be root)"
        case (_, EINVAL): return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case (_, ENOPROTOOPT): return "Protocol not available"
        case (_, ENOMEM): return "Memory allocation problem"
        case (_, EOPNOTSUPP): return "Operation not supported with IPv6"
        case (_, EAFNOSUPPORT): return "Operation not supported with specified address family"
        case (_, EMSGSIZE): return "Module is wrong version"
        default:
            guard let text = strerror(errno) else { return "Unknown error \(errno)" }
            return String(cString: text)
        }
    }
}

extension IPVSError: CustomStringConvertible {
    public var description: String { message }
}
