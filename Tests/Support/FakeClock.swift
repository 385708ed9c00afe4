import IPVSAdm

/// Time that passes only when something sleeps, at once; each sleep then runs `tick` (a test's
/// connections ending, for instance).
public final class FakeClock: Clock {
    public private(set) var now: Double = 0
    public var tick: () -> Void = {}

    public init() {}

    public func sleep(seconds: Double) {
        now += max(seconds, 0)
        tick()
    }
}
