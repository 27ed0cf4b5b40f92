/// The `/tcping` answer, always `200` (CONTRACT §8.10): failures are results, not HTTP errors.
public struct TCPingResult: Sendable, Equatable {
    /// The query value as received, echoed verbatim.
    public var target: [UInt8]
    public var connected: Bool
    /// Whole milliseconds from slot acquisition to connect completion; 0 on failure.
    public var latency: Int64
    public var error: [UInt8]?

    public static func connected(target: [UInt8], after elapsed: Duration) -> TCPingResult {
        TCPingResult(target: target, connected: true, latency: wholeMilliseconds(elapsed), error: nil)
    }

    public static func failed(target: [UInt8], error: [UInt8]) -> TCPingResult {
        TCPingResult(target: target, connected: false, latency: 0, error: error)
    }

    /// No slot within the wait (CONTRACT §20: 256 slots, 1 s).
    public static func tooManyRequests(target: [UInt8]) -> TCPingResult {
        failed(target: target, error: DialErrors.tooManyRequests)
    }

    /// Go's `Duration.Milliseconds()`: truncated, never negative here.
    static func wholeMilliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// `{"target":…,"connected":…,"latency":…,"error":null|"…"}` and Go's trailing newline, the
    /// field order of the original struct.
    public var json: [UInt8] {
        var w = JSONWriter(reservingCapacity: 64 + target.count + (error?.count ?? 0))
        w.raw("{\"target\":")
        w.string(utf8: target)
        w.raw(",\"connected\":")
        w.bool(connected)
        w.raw(",\"latency\":")
        w.int(latency)
        w.raw(",\"error\":")
        if let error { w.string(utf8: error) } else { w.null() }
        w.raw("}\n")
        return w.bytes
    }
}
