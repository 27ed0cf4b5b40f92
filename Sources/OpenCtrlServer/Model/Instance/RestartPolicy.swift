/// Automatic restarts of instances in `error` (CONTRACT §11, "Our rule").
///
/// The original relaunched every ~5 s forever from a shared tick. We keep "never give up" (the
/// documented promise is "restarted while it remains in error") but space the attempts with a
/// capped exponential backoff, so a crash loop or an unlaunchable runtime costs one spawn and a
/// couple of log lines every 5 minutes at worst.
public enum RestartPolicy {
    /// Delay after the first consecutive failure.
    public static let initialDelay: Duration = .seconds(5)
    /// Cap of the backoff; reached at the 7th consecutive failure (5 s × 2⁶ = 320 s > 300 s).
    public static let maximumDelay: Duration = .seconds(300)
    /// A run that has stayed out of `error` this long clears the failure count, so a child
    /// that crashes once a day is relaunched after 5 s, not after the cap.
    public static let healthyRunLength: Duration = .seconds(60)

    /// `min(5 s × 2^(n−1), 300 s)` for the n-th consecutive failure (n ≥ 1).
    ///
    /// Doubling stops at the cap, so no count, however large, can overflow.
    public static func delay(afterFailures n: Int) -> Duration {
        precondition(n >= 1, "the backoff is defined from the first failure on")
        var delay = initialDelay
        for _ in 1..<n {
            delay = delay * 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return delay
    }
}
