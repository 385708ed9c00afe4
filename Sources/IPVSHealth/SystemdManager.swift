import CHealthSocket
import Glibc
import IPVS

/// systemd's notification protocol, without libsystemd (a library and its dependencies mapped
/// for one datagram a watchdog period): the state is sent as one datagram to the AF_UNIX socket
/// named by NOTIFY_SOCKET (a path, or `@name` in the abstract namespace); a no-op when it is
/// unset. The watchdog is on when WATCHDOG_USEC is set and WATCHDOG_PID, when set, is this
/// process (sd_watchdog_enabled's rule). Both variables stay in the environment; a misc
/// check's command does not inherit them (CommandLine drops them).
public final class SystemdManager: ServiceManager {
    public let watchdogPeriod: Double?
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0
    private var socketDescriptor: Int32 = -1

    /// `variable`: the environment's variables (tests give their own).
    public init(variable: (String) -> String? = { getenv($0).map { String(cString: $0) } }) {
        if let value = variable("WATCHDOG_USEC"), let microseconds = UInt64(value), microseconds > 0,
            variable("WATCHDOG_PID").map({ pid_t($0) == getpid() }) ?? true
        {
            watchdogPeriod = Double(microseconds) / 1e6
        } else {
            watchdogPeriod = nil
        }
        guard let name = variable("NOTIFY_SOCKET"), name.first == "/" || name.first == "@" else { return }
        var bytes = Array(name.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        // An abstract name is counted exactly; a path with its terminating zero.
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
    }

    deinit {
        if socketDescriptor >= 0 { close(socketDescriptor) }
    }

    public func notify(_ state: String) {
        guard addressLength > 0 else { return }
        if socketDescriptor < 0 {
            socketDescriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socketDescriptor >= 0 else { return }
        }
        var text = state
        text.withUTF8 { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = sendto(socketDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, addressLength)
                }
            }
        }
    }
}
