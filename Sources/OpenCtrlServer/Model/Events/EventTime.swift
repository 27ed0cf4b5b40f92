import Glibc

/// An event's `time` field (Go's `RFC3339Nano` in local time), made cheap enough for one event
/// per log line: the date, time of day and zone are formatted once per second and shared, so a
/// timestamp is two cached byte arrays and a fraction.
public struct EventTime: Sendable {
    let prefix: [UInt8]
    let zone: [UInt8]
    let nanoseconds: Int32

    /// Bytes written by `write`, quotes included.
    var quotedCount: Int {
        var fraction = 0
        if nanoseconds != 0 {
            var n = nanoseconds, digits = 9
            while n % 10 == 0 {
                n /= 10
                digits -= 1
            }
            fraction = 1 + digits
        }
        return 2 + prefix.count + fraction + zone.count
    }

    func write(into w: inout JSONWriter) {
        w.raw("\"")
        writeUnquoted(into: &w)
        w.raw("\"")
    }

    /// The bare timestamp, for plain-text renderings such as `format=text` history (§22.2).
    func writeUnquoted(into w: inout JSONWriter) {
        w.encoded(prefix)
        if nanoseconds != 0 {
            var n = nanoseconds, digits = 9
            while n % 10 == 0 {
                n /= 10
                digits -= 1
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10) { buffer in
                buffer[0] = UInt8(ascii: ".")
                var value = n
                for i in stride(from: digits, through: 1, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                w.rawBytes(UnsafeBufferPointer(rebasing: buffer[..<(digits + 1)]))
            }
        }
        w.encoded(zone)
    }

    public var text: String {
        var w = JSONWriter(reservingCapacity: 40)
        write(into: &w)
        return String(decoding: w.bytes.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// Hands out `EventTime`s, re-formatting the per-second part only when the second (or the
/// zone's offset) changes.
public struct EventClock: Sendable {
    private var second: Int64 = .min
    private var prefix: [UInt8] = []
    private var zone: [UInt8] = []

    public init() {}

    public mutating func now() -> EventTime {
        let (seconds, nanoseconds) = Self.wallTime()
        return time(seconds: seconds, nanoseconds: nanoseconds, utcOffset: Self.localOffset)
    }

    /// The wall clock as raw numbers, for callers that store a time and format it later
    /// (history entries, §22.2), so the hot path pays no formatting.
    public static func wallTime() -> (seconds: Int64, nanoseconds: Int32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int32(ts.tv_nsec))
    }

    /// The local zone's offset at `seconds`, as events show it.
    public static func localOffset(_ seconds: Int64) -> Int32 {
        var t = time_t(seconds)
        var fields = tm()
        return localtime_r(&t, &fields) != nil ? Int32(truncatingIfNeeded: fields.tm_gmtoff) : 0
    }

    /// `utcOffset` is asked once per new second (injectable for tests).
    public mutating func time(seconds: Int64, nanoseconds: Int32, utcOffset: (Int64) -> Int32) -> EventTime {
        if seconds != second {
            second = seconds
            let newOffset = utcOffset(seconds)
            // `format` with no fraction yields exactly "<prefix><zone>"; the prefix is the first
            // 19 bytes (or 20+ for years past 9999 or before 0: split at the zone instead).
            let whole = Array(RFC3339.format(seconds: seconds, nanoseconds: 0, utcOffsetSeconds: newOffset).utf8)
            let zoneLength = newOffset == 0 ? 1 : 6
            prefix = Array(whole.dropLast(zoneLength))
            zone = Array(whole.suffix(zoneLength))
        }
        return EventTime(prefix: prefix, zone: zone, nanoseconds: nanoseconds)
    }
}
