import CSystemd

/// systemd's notification socket (`sd_notify`); a no-op when NOTIFY_SOCKET is unset.
public final class SystemdManager: ServiceManager {
    public let watchdogPeriod: Double?

    public init() {
        var microseconds: UInt64 = 0
        // 0: keep WATCHDOG_USEC in the environment (a misc check's children see it too, harmlessly).
        watchdogPeriod = sd_watchdog_enabled(0, &microseconds) > 0 ? Double(microseconds) / 1e6 : nil
    }

    public func notify(_ state: String) {
        _ = sd_notify(0, state)
    }
}
