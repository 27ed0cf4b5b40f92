import Glibc
import Testing
@testable import OpenCtrlServer

/// Expected values are Go's `time.Unix(s, ns).In(time.FixedZone("", offset)).Format(...)`.
struct RFC3339Tests {
    struct Case: Sendable, CustomTestStringConvertible {
        var seconds: Int64
        var nanoseconds: Int32
        var offset: Int32
        var rfc3339: String
        var logStamp: String
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        init(_ seconds: Int64, _ nanoseconds: Int32, _ offset: Int32, _ rfc3339: String, _ logStamp: String,
             line: UInt = #line) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
            self.offset = offset
            self.rfc3339 = rfc3339
            self.logStamp = logStamp
            self.line = line
        }
    }

    static let cases: [Case] = [
        Case(0, 0, 0, "1970-01-01T00:00:00Z", "1970/01/01 00:00:00"),
        Case(1_780_891_200, 123_456_789, 28_800, "2026-06-08T12:00:00.123456789+08:00", "2026/06/08 12:00:00"),
        Case(1_780_891_200, 0, 28_800, "2026-06-08T12:00:00+08:00", "2026/06/08 12:00:00"),
        Case(1_780_891_200, 120_000_000, 0, "2026-06-08T04:00:00.12Z", "2026/06/08 04:00:00"),
        Case(1_780_891_200, 100, 0, "2026-06-08T04:00:00.0000001Z", "2026/06/08 04:00:00"),
        Case(1_780_891_200, 1, 0, "2026-06-08T04:00:00.000000001Z", "2026/06/08 04:00:00"),
        Case(1_780_891_200, 999_999_999, 0, "2026-06-08T04:00:00.999999999Z", "2026/06/08 04:00:00"),
        Case(1_780_891_200, 500_000_000, -19_800, "2026-06-07T22:30:00.5-05:30", "2026/06/07 22:30:00"),
        Case(97_200, 0, -18_000, "1970-01-01T22:00:00-05:00", "1970/01/01 22:00:00"),
        Case(1_735_696_800, 250_000_000, -28_800, "2024-12-31T18:00:00.25-08:00", "2024/12/31 18:00:00"),
        Case(4_102_444_799, 0, 3600, "2100-01-01T00:59:59+01:00", "2100/01/01 00:59:59"),
        Case(1_709_164_800, 0, 0, "2024-02-29T00:00:00Z", "2024/02/29 00:00:00"),
        Case(951_782_400, 0, 0, "2000-02-29T00:00:00Z", "2000/02/29 00:00:00"),
        Case(-1, 0, 0, "1969-12-31T23:59:59Z", "1969/12/31 23:59:59"),
        Case(-1, 999_999_999, 0, "1969-12-31T23:59:59.999999999Z", "1969/12/31 23:59:59"),
        Case(1_780_891_200, 0, 50_400, "2026-06-08T18:00:00+14:00", "2026/06/08 18:00:00"),
        Case(1_780_891_200, 0, -43_200, "2026-06-07T16:00:00-12:00", "2026/06/07 16:00:00"),
        Case(1_780_891_200, 0, 60, "2026-06-08T04:01:00+00:01", "2026/06/08 04:01:00"),
        // Offsets with seconds print whole minutes, truncated toward zero, as Go does.
        Case(1_780_891_200, 0, 19_830, "2026-06-08T09:30:30+05:30", "2026/06/08 09:30:30"),
        Case(1_780_891_200, 0, -19_830, "2026-06-07T22:29:30-05:30", "2026/06/07 22:29:30"),
        Case(1_780_891_200, 0, -30, "2026-06-08T03:59:30+00:00", "2026/06/08 03:59:30"),
        Case(253_402_300_800, 0, 0, "10000-01-01T00:00:00Z", "10000/01/01 00:00:00"),
        Case(-62_135_596_800, 0, 0, "0001-01-01T00:00:00Z", "0001/01/01 00:00:00"),
        Case(-62_135_683_200, 0, 0, "0000-12-31T00:00:00Z", "0000/12/31 00:00:00"),
    ]

    @Test(arguments: cases)
    func format(_ c: Case) {
        let got = RFC3339.format(seconds: c.seconds, nanoseconds: c.nanoseconds, utcOffsetSeconds: c.offset)
        #expect(got == c.rfc3339, sourceLocation: c.location)
    }

    @Test(arguments: cases)
    func logStamp(_ c: Case) {
        #expect(RFC3339.logStamp(seconds: c.seconds, utcOffsetSeconds: c.offset) == c.logStamp,
                sourceLocation: c.location)
    }

    @Test func nowIsTheLocalWallClock() throws {
        let before = time(nil)
        let stamp = RFC3339.now()
        let after = time(nil)
        let parsed = try #require(ParsedStamp(rfc3339: stamp), "\(stamp)")
        #expect(parsed.offset == localOffset(at: before) || parsed.offset == localOffset(at: after), "\(stamp)")
        let instant = parsed.utcSeconds - Int(parsed.offset)
        #expect(instant >= before && instant <= after, "\(stamp)")
    }

    @Test func logStampIsTheLocalWallClock() throws {
        let before = time(nil)
        let stamp = RFC3339.logStamp()
        let after = time(nil)
        let parsed = try #require(ParsedStamp(logStamp: stamp), "\(stamp)")
        let instants = [before, after].map { parsed.utcSeconds - Int(localOffset(at: $0)) }
        #expect(instants.contains { $0 >= before && $0 <= after }, "\(stamp)")
    }

    private func localOffset(at seconds: time_t) -> Int32 {
        var t = seconds
        var fields = tm()
        localtime_r(&t, &fields)
        return Int32(fields.tm_gmtoff)
    }
}

/// An independent reading of the printed fields, converted back with libc's `timegm`.
private struct ParsedStamp {
    var utcSeconds: Int
    var offset: Int32

    init?(rfc3339 s: String) {
        let b = Array(s.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") else { return nil }
        guard let seconds = ParsedStamp.fields(b, dateSeparator: UInt8(ascii: "-"), timeSeparator: UInt8(ascii: "T"))
        else { return nil }
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
            // Between one and nine digits, never a trailing zero.
            guard i > start, i - start <= 9, b[i - 1] != UInt8(ascii: "0") else { return nil }
        }
        if i == b.count - 1, b[i] == UInt8(ascii: "Z") {
            offset = 0
        } else {
            guard i == b.count - 6, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"),
                  let hh = Int(String(decoding: b[i + 1..<i + 3], as: UTF8.self)),
                  let mm = Int(String(decoding: b[i + 4..<i + 6], as: UTF8.self)) else { return nil }
            let magnitude = Int32(hh * 3600 + mm * 60)
            guard magnitude != 0 else { return nil }
            offset = b[i] == UInt8(ascii: "+") ? magnitude : -magnitude
        }
        utcSeconds = seconds
    }

    init?(logStamp s: String) {
        let b = Array(s.utf8)
        guard b.count == 19, let seconds = ParsedStamp.fields(b, dateSeparator: UInt8(ascii: "/"),
                                                          timeSeparator: UInt8(ascii: " ")) else { return nil }
        utcSeconds = seconds
        offset = 0
    }

    private static func fields(_ b: [UInt8], dateSeparator: UInt8, timeSeparator: UInt8) -> Int? {
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: b[range], as: UTF8.self)) }
        guard b[4] == dateSeparator, b[7] == dateSeparator, b[10] == timeSeparator,
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var fields = tm()
        fields.tm_year = year - 1900
        fields.tm_mon = month - 1
        fields.tm_mday = day
        fields.tm_hour = hour
        fields.tm_min = minute
        fields.tm_sec = second
        return timegm(&fields)
    }
}
