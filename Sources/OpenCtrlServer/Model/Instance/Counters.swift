/// One cumulative byte counter with its base and reset offset (CONTRACT §10, "Our rule").
///
/// `displayed` (D) is what clients see and what is persisted; `base` (B) is D at the start of the
/// current run; `resetOffset` (R) is the raw value that counts as zero in this run after a reset.
///
/// Decisions beyond the contract's formulas, all so that no input can trap:
/// - Every stored D and B is at most `maximum` (2^63 − 1). A persisted value above it (left by the
///   Go original's wrap-around, or a hand-edited file) is taken as saturated when loaded, so it is
///   shown as 2^63 − 1 from the start and stays there until a reset, like any saturated counter;
///   letting it through would break dashboards that decode counters as signed 64-bit integers.
/// - Reset sets R to the last raw value of the run instead of computing `R + (D − B)`. The two are
///   equal until saturation cuts D; after that the formula would leave R too small, and the next
///   checkpoint would show more bytes than passed since the reset.
/// - Reset while stopped zeroes D and B as the contract says; R then holds the last raw value of
///   the finished run, which nothing reads, because the next `start()` clears it before any
///   checkpoint can arrive.
public struct ByteCounter: Equatable, Sendable {
    /// 2^63 − 1: dashboards decode counters as signed 64-bit integers, and one larger value breaks
    /// their decoding of the whole instance list.
    public static let maximum: UInt64 = 9_223_372_036_854_775_807

    public private(set) var displayed: UInt64
    public private(set) var base: UInt64 = 0
    public private(set) var resetOffset: UInt64 = 0
    /// The raw value of the latest checkpoint in this run (0 before the first one).
    public private(set) var lastRaw: UInt64 = 0

    /// A counter as loaded at master boot: bases and offsets live in memory only (§21.3).
    public init(displayed: UInt64 = 0) {
        self.displayed = min(displayed, Self.maximum)
    }

    /// T2: the new child's raw values count from zero on top of what is displayed.
    public mutating func start() {
        base = displayed
        resetOffset = 0
        lastRaw = 0
    }

    /// A raw value below the offset means the child's counter restarted from zero since the reset,
    /// so all of it is new traffic.
    public mutating func apply(raw v: UInt64) {
        if v >= resetOffset {
            displayed = Self.saturatingSum(base, v - resetOffset)
        } else {
            displayed = Self.saturatingSum(base, v)
            resetOffset = 0
        }
        lastRaw = v
    }

    public mutating func reset() {
        resetOffset = lastRaw
        displayed = 0
        base = 0
    }

    private static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? maximum : min(sum, maximum)
    }
}

/// The four byte counters of one instance, driven together by lifecycle events and checkpoints.
public struct CounterSet: Equatable, Sendable {
    public var tcprx: ByteCounter
    public var tcptx: ByteCounter
    public var udprx: ByteCounter
    public var udptx: ByteCounter

    public init(tcprx: UInt64 = 0, tcptx: UInt64 = 0, udprx: UInt64 = 0, udptx: UInt64 = 0) {
        self.tcprx = ByteCounter(displayed: tcprx)
        self.tcptx = ByteCounter(displayed: tcptx)
        self.udprx = ByteCounter(displayed: udprx)
        self.udptx = ByteCounter(displayed: udptx)
    }

    public mutating func start() {
        tcprx.start()
        tcptx.start()
        udprx.start()
        udptx.start()
    }

    /// A nil field overflowed UInt64 in the checkpoint; that counter keeps its value.
    public mutating func apply(_ checkpoint: Checkpoint) {
        if let v = checkpoint.tcprx { tcprx.apply(raw: v) }
        if let v = checkpoint.tcptx { tcptx.apply(raw: v) }
        if let v = checkpoint.udprx { udprx.apply(raw: v) }
        if let v = checkpoint.udptx { udptx.apply(raw: v) }
    }

    public mutating func reset() {
        tcprx.reset()
        tcptx.reset()
        udprx.reset()
        udptx.reset()
    }
}
