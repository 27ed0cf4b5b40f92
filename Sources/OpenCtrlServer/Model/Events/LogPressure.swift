/// One watcher's log-skipping state (CONTRACT §13.5): while the output the master holds for it
/// is above 256 KiB its `log` events are skipped and counted; once it falls under 64 KiB it gets
/// one gap notice and live logs again. State events are never skipped.
public struct LogPressure: Sendable, Equatable {
    public static let skipAbove = 256 * 1024
    public static let resumeBelow = 64 * 1024

    public private(set) var skipping = false
    public private(set) var skipped = 0

    public init() {}

    /// Whether a `log` event is delivered to a watcher holding `pending` bytes.
    public mutating func admitLog(pending: Int) -> Bool {
        if !skipping, pending <= Self.skipAbove { return true }
        skipping = true
        skipped += 1
        return false
    }

    /// Counts `n` log events skipped at once (a batch of them while already skipping).
    public mutating func skip(_ n: Int) {
        precondition(skipping)
        skipped += n
    }

    /// When the watcher caught up: the number of skipped events its gap notice reports.
    public mutating func caughtUp(pending: Int) -> Int? {
        guard skipping, pending < Self.resumeBelow else { return nil }
        defer {
            skipping = false
            skipped = 0
        }
        return skipped
    }

    public static func gapNotice(skipped: Int) -> String {
        "OpenCtrl dropped \(skipped) log events for this connection"
    }

    public static let resumeGapNotice = "OpenCtrl dropped log events before this connection"
}
