import Glibc

/// Timestamps as the master prints them: Go's `time.RFC3339Nano` in local time for event `time`
/// fields (CONTRACT §7.1) and Go's default `log` prefix for stderr lines (§17).
public enum RFC3339 {
    /// `nanoseconds` must be in `0..<1_000_000_000`. The offset is printed in whole minutes,
    /// truncated toward zero as Go does; only an offset of exactly 0 prints `Z`.
    public static func format(seconds: Int64, nanoseconds: Int32, utcOffsetSeconds: Int32) -> String {
        precondition(nanoseconds >= 0 && nanoseconds < 1_000_000_000, "nanoseconds out of range")
        let civil = CivilTime(seconds: seconds, utcOffsetSeconds: utcOffsetSeconds)
        return String(unsafeUninitializedCapacity: 48) { buffer in
            var out = ASCIIBuffer(buffer)
            civil.appendDate(to: &out, separator: UInt8(ascii: "-"))
            out.append(UInt8(ascii: "T"))
            civil.appendTime(to: &out)
            if nanoseconds != 0 {
                var digits = 9
                var fraction = nanoseconds
                while fraction % 10 == 0 {
                    fraction /= 10
                    digits -= 1
                }
                out.append(UInt8(ascii: "."))
                out.appendPadded(UInt64(fraction), width: digits)
            }
            if utcOffsetSeconds == 0 {
                out.append(UInt8(ascii: "Z"))
            } else {
                var minutes = utcOffsetSeconds / 60
                if minutes < 0 {
                    out.append(UInt8(ascii: "-"))
                    minutes = -minutes
                } else {
                    out.append(UInt8(ascii: "+"))
                }
                out.appendPadded(UInt64(minutes / 60), width: 2)
                out.append(UInt8(ascii: ":"))
                out.appendPadded(UInt64(minutes % 60), width: 2)
            }
            return out.count
        }
    }

    public static func now() -> String {
        let (ts, offset) = localClock()
        return format(seconds: Int64(ts.tv_sec), nanoseconds: Int32(ts.tv_nsec), utcOffsetSeconds: offset)
    }

    /// The local time `delay` from now (a scheduled restart's due time).
    public static func fromNow(_ delay: Duration) -> String {
        let (ts, offset) = localClock()
        let nanos = Int64(ts.tv_nsec) + delay.components.attoseconds / 1_000_000_000
        let seconds = Int64(ts.tv_sec) + delay.components.seconds + nanos / 1_000_000_000
        let fraction = nanos % 1_000_000_000
        return format(seconds: fraction < 0 ? seconds - 1 : seconds,
                      nanoseconds: Int32(fraction < 0 ? fraction + 1_000_000_000 : fraction), utcOffsetSeconds: offset)
    }

    /// `YYYY/MM/DD HH:MM:SS`, the prefix Go's `log` package puts before every master message.
    public static func logStamp(seconds: Int64, utcOffsetSeconds: Int32) -> String {
        let civil = CivilTime(seconds: seconds, utcOffsetSeconds: utcOffsetSeconds)
        return String(unsafeUninitializedCapacity: 32) { buffer in
            var out = ASCIIBuffer(buffer)
            civil.appendDate(to: &out, separator: UInt8(ascii: "/"))
            out.append(UInt8(ascii: " "))
            civil.appendTime(to: &out)
            return out.count
        }
    }

    public static func logStamp() -> String {
        let (ts, offset) = localClock()
        return logStamp(seconds: Int64(ts.tv_sec), utcOffsetSeconds: offset)
    }

    /// The wall clock and the local zone's offset at that instant, from the same zone rules
    /// (TZ, /etc/localtime) Go's `time.Local` reads.
    private static func localClock() -> (timespec, Int32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var fields = tm()
        guard localtime_r(&seconds, &fields) != nil else {
            return (ts, 0)
        }
        return (ts, Int32(truncatingIfNeeded: fields.tm_gmtoff))
    }
}

extension RFC3339 {
    /// Broken-down local time from Unix seconds, with the proleptic Gregorian calendar
    /// (days-to-civil algorithm of Howard Hinnant's `chrono`-compatible date library).
    fileprivate struct CivilTime {
        var year: Int64
        var month: Int64
        var day: Int64
        var secondOfDay: Int64

        init(seconds: Int64, utcOffsetSeconds: Int32) {
            let local = seconds + Int64(utcOffsetSeconds)
            var days = local / 86_400
            var rest = local % 86_400
            if rest < 0 {
                rest += 86_400
                days -= 1
            }
            secondOfDay = rest
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let shiftedMonth = (5 * dayOfYear + 2) / 153
            day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
            month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
            year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        }

        /// Years print with at least four digits and a leading `-` when negative, like Go's `2006`.
        func appendDate(to out: inout ASCIIBuffer, separator: UInt8) {
            if year < 0 {
                out.append(UInt8(ascii: "-"))
            }
            out.appendPadded(year.magnitude, width: 4)
            out.append(separator)
            out.appendPadded(UInt64(month), width: 2)
            out.append(separator)
            out.appendPadded(UInt64(day), width: 2)
        }

        func appendTime(to out: inout ASCIIBuffer) {
            out.appendPadded(UInt64(secondOfDay / 3600), width: 2)
            out.append(UInt8(ascii: ":"))
            out.appendPadded(UInt64(secondOfDay / 60 % 60), width: 2)
            out.append(UInt8(ascii: ":"))
            out.appendPadded(UInt64(secondOfDay % 60), width: 2)
        }
    }

    fileprivate struct ASCIIBuffer {
        let storage: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        init(_ storage: UnsafeMutableBufferPointer<UInt8>) {
            self.storage = storage
        }

        mutating func append(_ byte: UInt8) {
            storage[count] = byte
            count += 1
        }

        /// Zero-padded to `width`, wider when the number needs it.
        mutating func appendPadded(_ value: UInt64, width: Int) {
            var digits = 0
            var probe = value
            repeat {
                digits += 1
                probe /= 10
            } while probe != 0
            let total = max(width, digits)
            var rest = value
            for position in stride(from: count + total - 1, through: count, by: -1) {
                storage[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            count += total
        }
    }
}
