/// State-file write procedures (an append or a fold, CONTRACT §21.4) by outcome, and how long
/// each took on the writer thread.
public struct StateWriteCounters: Sendable, Equatable {
    /// The buckets of `openctrl_state_write_duration_seconds` (§22.4): an `fdatasync` on a
    /// quiet SSD lands in the first few, a fold on a busy disk in the last.
    public static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    public private(set) var ok: UInt64 = 0
    public private(set) var failed: UInt64 = 0
    public private(set) var durations = Histogram(bounds: StateWriteCounters.bounds)

    public init() {}

    public mutating func record(succeeded: Bool, seconds: Double) {
        if succeeded { ok += 1 } else { failed += 1 }
        durations.observe(seconds)
    }
}
