import Glibc

/// An error number of the kernel or the C library (`EPERM`, `ESRCH`, ...), always positive:
/// one value type from the socket to the message printed, so a sign never flips on the way.
/// Modelled on swift-system's `Errno`: a `RawRepresentable` with names for the numbers
/// this project meets.
public struct Errno: RawRepresentable, Error, Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`, read right after the failed call.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// The C library's text for it (`strerror`), as ipvsadm prints unknown errnos.
    public var text: String {
        guard let text = strerror(rawValue) else { return "Unknown error \(rawValue)" }
        return String(cString: text)
    }

    /// `EPERM`
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `ENOENT`
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// `ESRCH`
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// `EINTR`
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EAGAIN` (also a receive timeout)
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    /// `ENOMEM`
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// `EEXIST`
    public static let fileExists = Errno(rawValue: EEXIST)
    /// `ENODEV`
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    /// `EINVAL`
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `ENOSPC`
    public static let noSpace = Errno(rawValue: ENOSPC)
    /// `EPIPE`
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// `ERANGE`
    public static let outOfRange = Errno(rawValue: ERANGE)
    /// `EPROTO`: a reply that breaks the netlink protocol.
    public static let protocolError = Errno(rawValue: EPROTO)
    /// `EMSGSIZE`
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    /// `ENOPROTOOPT`: also what libipvs reports when the IPVS family is not registered.
    public static let protocolNotAvailable = Errno(rawValue: ENOPROTOOPT)
    /// `EOPNOTSUPP`
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// `EAFNOSUPPORT`
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)

    /// Runs a system call until it is not interrupted by a signal: its result when it is not
    /// negative, else the `errno` it failed with (`EINTR` retried). The one EINTR loop.
    @inline(__always)
    public static func retryingInterrupts<R: SignedInteger>(_ call: () -> R) throws(Errno) -> R {
        while true {
            let result = call()
            if result >= 0 { return result }
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }
}

extension Errno: CustomStringConvertible {
    public var description: String { text }
}
