import Glibc

/// The checker's two clocks: the monotonic one schedules checks and measures durations (a
/// wall-clock step never bunches or skips checks); the wall clock stamps what the state file
/// records. Tests inject a fake that moves both.
public protocol HealthClock: AnyObject {
    /// Seconds since some fixed point, never going back.
    var monotonic: Double { get }
    /// Seconds since the epoch.
    var wall: Double { get }
}

/// `CLOCK_MONOTONIC` and `CLOCK_REALTIME`.
public final class SystemHealthClock: HealthClock {
    public init() {}

    public var monotonic: Double { Self.read(CLOCK_MONOTONIC) }
    public var wall: Double { Self.read(CLOCK_REALTIME) }

    private static func read(_ clock: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
