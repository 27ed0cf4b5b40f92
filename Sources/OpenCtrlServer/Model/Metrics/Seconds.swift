import Glibc

extension Duration {
    /// Prometheus measures time in seconds, as a float.
    public var inSeconds: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) * 1e-18
    }
}

/// Unix time now, in seconds with a fraction.
public func wallClockSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}
