import Glibc
import IPVS

/// The monotonic clock, and `nanosleep`.
public final class SystemClock: Clock {
    public init() {}

    public var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        // Interrupted, it sleeps the time that remained.
        withUnsafeMutablePointer(to: &request) { time in _ = try? Errno.retryingInterrupts { nanosleep(time, time) } }
    }
}
