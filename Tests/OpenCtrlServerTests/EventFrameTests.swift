import Testing
@testable import OpenCtrlServer

/// Go's `encoding/json` string quoting (CONTRACT §7.1), written apart from `JSONWriter` so the
/// frame tests do not grade the writer with itself. A unit is one strictly valid UTF-8 sequence
/// or one byte that starts none, as Go's `utf8.DecodeRune` decodes.
enum ReferenceJSON {
    /// The byte length of each unit of `bytes`, in order.
    static func unitLengths(_ bytes: [UInt8]) -> [Int] {
        var lengths: [Int] = []
        var i = 0
        while i < bytes.count {
            let length = decode(bytes, at: i)?.length ?? 1
            lengths.append(length)
            i += length
        }
        return lengths
    }

    static func quote(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(bytes.count + 2)
        var i = 0
        while i < bytes.count {
            guard let (length, scalar) = decode(bytes, at: i) else {
                out += #"\ufffd"#.utf8
                i += 1
                continue
            }
            if let escaped = escape(scalar) { out += escaped.utf8 } else { out += bytes[i..<i + length] }
            i += length
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    /// RFC 3629 by scalar value: the lead byte gives the length, every other byte is `10xxxxxx`,
    /// and the value must need that length, not be a surrogate, and not pass U+10FFFF.
    private static func decode(_ bytes: [UInt8], at i: Int) -> (length: Int, scalar: UInt32)? {
        let lead = bytes[i]
        let (length, minimum, bits): (Int, UInt32, UInt8) = switch lead {
        case 0..<0x80: (1, 0, 0x7F)
        case 0xC0..<0xE0: (2, 0x80, 0x1F)
        case 0xE0..<0xF0: (3, 0x800, 0x0F)
        case 0xF0..<0xF8: (4, 0x10000, 0x07)
        default: (0, 0, 0)
        }
        guard length > 0, i + length <= bytes.count else { return nil }
        var scalar = UInt32(lead & bits)
        for k in 1..<length {
            guard bytes[i + k] & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(bytes[i + k] & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return nil }
        return (length, scalar)
    }

    /// Go's escape for one scalar, or nil when its bytes are written as they are.
    private static func escape(_ scalar: UInt32) -> String? {
        switch scalar {
        case 0x22: #"\""#
        case 0x5C: #"\\"#
        case 0x08: #"\b"#
        case 0x0C: #"\f"#
        case 0x0A: #"\n"#
        case 0x0D: #"\r"#
        case 0x09: #"\t"#
        case 0..<0x10: #"\u000"# + String(scalar, radix: 16)
        case 0x10..<0x20, 0x3C, 0x3E, 0x26: #"\u00"# + String(scalar, radix: 16)
        case 0x2028, 0x2029: #"\u"# + String(scalar, radix: 16)
        default: nil
        }
    }
}

/// A fixed event time and the text §7.1 gives it.
struct FrameTime: Sendable, CustomTestStringConvertible {
    let time: EventTime
    let text: String
    var testDescription: String { text }

    init(seconds: Int64, nanoseconds: Int32, offset: Int32, _ text: String) {
        var clock = EventClock()
        time = clock.time(seconds: seconds, nanoseconds: nanoseconds) { _ in offset }
        self.text = text
    }

    /// 2026-06-08T04:00:00Z is 1,780,891,200 seconds after the epoch.
    static let standard = FrameTime(seconds: 1_780_891_200, nanoseconds: 123_456_789, offset: 8 * 3600,
                                    "2026-06-08T12:00:00.123456789+08:00")
    static let all: [FrameTime] = [
        standard,
        FrameTime(seconds: 1_780_891_200, nanoseconds: 0, offset: 0, "2026-06-08T04:00:00Z"),
        FrameTime(seconds: 1_780_891_200, nanoseconds: 500_000_000, offset: 8 * 3600, "2026-06-08T12:00:00.5+08:00"),
        FrameTime(seconds: 1_780_891_200, nanoseconds: 1, offset: -12_600, "2026-06-08T00:30:00.000000001-03:30"),
        FrameTime(seconds: 1_780_891_200, nanoseconds: 120_000, offset: 20_700, "2026-06-08T09:45:00.00012+05:45"),
        FrameTime(seconds: 1_780_891_200, nanoseconds: 999_999_999, offset: -36_000, "2026-06-07T18:00:00.999999999-10:00"),
    ]
}

func eventID(_ sequence: UInt64, boot: String = "0123abcd") -> EventID { EventID(boot: boot, sequence: sequence) }

/// Everything of a frame but its `logs`, spelled out as §13.2 gives it.
struct FrameShape {
    var id: EventID?
    var type: EventType = .log
    var time = FrameTime.standard
    var instance: String? = #"{"id":"d34db33f"}"#

    func expected(logsJSON: [UInt8]) -> [UInt8] {
        let head = (id.map { "id: \($0.boot).\($0.sequence)\n" } ?? "") + "event: instance\ndata: {\"type\":\"\(type.rawValue)\""
            + ",\"time\":\"\(time.text)\",\"instance\":\(instance ?? "null"),\"logs\":"
        return Array(head.utf8) + logsJSON + Array("}\n\n".utf8)
    }

    /// Bytes left for the quoted `logs` string, quotes included.
    var budget: Int { EventFrame.maxBytes - expected(logsJSON: []).count }

    func encode(_ logs: [UInt8]) -> [UInt8] {
        logs.withUnsafeBytes {
            EventFrame.encode(id: id, type: type, time: time.time, instance: instance.map { Array($0.utf8) }, logs: $0)
        }
    }

    static func marker(_ n: Int) -> [UInt8] { Array(" [truncated \(n) bytes]".utf8) }
}

/// Checks a frame cut from `logs` against §13.2 without knowing how the cut was searched for:
/// the frame fits, the marker counts exactly the bytes removed, the text is escaped as Go does,
/// no character is split and, with `closest`, keeping the next character would not fit.
/// Returns the marker's count.
@discardableResult
func checkFrameCut(_ frame: [UInt8], logs: [UInt8], shape: FrameShape, closest: Bool, at loc: SourceLocation) -> Int? {
    #expect(frame.count <= EventFrame.maxBytes, "frame is \(frame.count) bytes", sourceLocation: loc)
    let open = FrameShape.marker(0).prefix(12)
    guard let start = frame.indices.reversed().first(where: { frame[$0...].starts(with: open) }) else {
        Issue.record("no truncation marker", sourceLocation: loc)
        return nil
    }
    let digits = frame[(start + open.count)...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    guard let n = Int(String(decoding: digits, as: UTF8.self)), n >= 1, n <= logs.count else {
        Issue.record("bad marker count \(String(decoding: digits, as: UTF8.self))", sourceLocation: loc)
        return nil
    }
    let kept = logs.count - n
    #expect(frame == shape.expected(logsJSON: ReferenceJSON.quote(Array(logs[..<kept]) + FrameShape.marker(n))),
            "marker \(n) is not the bytes removed, or the text is escaped wrongly", sourceLocation: loc)
    var boundary = 0
    var units = ReferenceJSON.unitLengths(logs)[...]
    while boundary < kept, let unit = units.popFirst() { boundary += unit }
    #expect(boundary == kept, "cut at byte \(kept) splits a character", sourceLocation: loc)
    if closest, boundary == kept, let next = units.first {
        let more = kept + next
        let longer = more == logs.count
            ? shape.expected(logsJSON: ReferenceJSON.quote(logs))
            : shape.expected(logsJSON: ReferenceJSON.quote(Array(logs[..<more]) + FrameShape.marker(logs.count - more)))
        #expect(longer.count > EventFrame.maxBytes,
                "keeping \(next) more bytes after \(kept) still fits (\(longer.count) bytes)", sourceLocation: loc)
    }
    return n
}

private func location(_ line: UInt) -> SourceLocation {
    SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
}

struct EventFrameShapeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var id: EventID?
        var type: EventType
        var instance: [UInt8]?
        var logs: [UInt8]
        var expected: String
        var line: UInt
        var testDescription: String { "line \(line)" }

        init(id: EventID? = nil, _ type: EventType, instance: String? = nil, logs: [UInt8] = [], _ expected: String, line: UInt = #line) {
            (self.id, self.type, self.logs, self.expected, self.line) = (id, type, logs, expected, line)
            self.instance = instance.map { Array($0.utf8) }
        }
    }

    static let rec = #"{"id":"d34db33f"}"#
    static let t = FrameTime.standard.text

    static let valid: [Case] = [
        Case(.initial, instance: rec, #"event: instance\#ndata: {"type":"initial","time":"\#(t)","instance":{"id":"d34db33f"},"logs":""}\#n\#n"#),
        Case(id: eventID(1), .create, instance: rec,
             #"id: 0123abcd.1\#nevent: instance\#ndata: {"type":"create","time":"\#(t)","instance":{"id":"d34db33f"},"logs":""}\#n\#n"#),
        Case(id: eventID(2), .update, instance: rec,
             #"id: 0123abcd.2\#nevent: instance\#ndata: {"type":"update","time":"\#(t)","instance":{"id":"d34db33f"},"logs":""}\#n\#n"#),
        Case(id: eventID(3), .delete, instance: rec,
             #"id: 0123abcd.3\#nevent: instance\#ndata: {"type":"delete","time":"\#(t)","instance":{"id":"d34db33f"},"logs":""}\#n\#n"#),
        Case(id: eventID(4), .log, instance: rec, logs: Array("hello world".utf8),
             #"id: 0123abcd.4\#nevent: instance\#ndata: {"type":"log","time":"\#(t)","instance":{"id":"d34db33f"},"logs":"hello world"}\#n\#n"#),
        Case(id: eventID(5), .shutdown, #"id: 0123abcd.5\#nevent: instance\#ndata: {"type":"shutdown","time":"\#(t)","instance":null,"logs":""}\#n\#n"#),
        Case(.shutdown, #"event: instance\#ndata: {"type":"shutdown","time":"\#(t)","instance":null,"logs":""}\#n\#n"#),
        Case(.log, logs: Array(LogPressure.gapNotice(skipped: 3).utf8),
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"OpenCtrl dropped 3 log events for this connection"}\#n\#n"#),
        Case(.log, logs: Array(LogPressure.resumeGapNotice.utf8),
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"OpenCtrl dropped log events before this connection"}\#n\#n"#),
        Case(.log, logs: Array("a<b>&c\"d\\e\tf\r".utf8),
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"a\u003cb\u003e\u0026c\"d\\e\tf\r"}\#n\#n"#),
        Case(.log, logs: Array("\u{1b}[0m\u{7f}\u{0}\u{8}\u{c}".utf8),
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\u001b[0m"#
             + "\u{7f}" + #"\u0000\b\f"}\#n\#n"#),
        Case(.log, logs: Array("é日😀\u{2028}\u{2029}".utf8),
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"é日😀\u2028\u2029"}\#n\#n"#),
    ]

    /// Child output is not necessarily UTF-8: each byte that starts no valid sequence is `\ufffd`.
    static let invalidUTF8: [Case] = [
        Case(.log, logs: [0x66, 0xFF, 0x6F], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"f\ufffdo"}\#n\#n"#),
        Case(.log, logs: [0x80, 0xBF], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xC3, 0x28], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd("}\#n\#n"#),
        Case(.log, logs: [0x61, 0xE2, 0x80], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"a\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xC0, 0xAF], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xED, 0xA0, 0x80], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xF4, 0x90, 0x80, 0x80],
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xF5, 0x3C], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\u003c"}\#n\#n"#),
        Case(.log, logs: [0xE2, 0x80, 0xA8, 0xE2, 0x80],
             #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\u2028\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xF0, 0x9F, 0x98], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd\ufffd"}\#n\#n"#),
        Case(.log, logs: [0xFE, 0xC1, 0xBF], #"event: instance\#ndata: {"type":"log","time":"\#(t)","instance":null,"logs":"\ufffd\ufffd\ufffd"}\#n\#n"#),
        Case(id: eventID(6), .log, instance: rec, logs: [0x5B, 0x00, 0xFF, 0x5D],
             #"id: 0123abcd.6\#nevent: instance\#ndata: {"type":"log","time":"\#(t)","instance":{"id":"d34db33f"},"logs":"[\u0000\ufffd]"}\#n\#n"#),
    ]

    @Test(arguments: valid + invalidUTF8)
    func frameIsByteExact(_ c: Case) {
        let frame = c.logs.withUnsafeBytes {
            EventFrame.encode(id: c.id, type: c.type, time: FrameTime.standard.time, instance: c.instance, logs: $0)
        }
        #expect(String(decoding: frame, as: UTF8.self) == c.expected, sourceLocation: location(c.line))
    }

    @Test func stringOverloadMatchesBytes() {
        let text = "x<y> 日本 \u{2028}"
        let viaString = EventFrame.encode(id: eventID(9), type: .log, time: FrameTime.standard.time, instance: nil, logs: text)
        #expect(viaString == FrameShape(id: eventID(9), instance: nil).encode(Array(text.utf8)))
        #expect(EventFrame.encode(id: nil, type: .update, time: FrameTime.standard.time, instance: nil)
            == FrameShape(type: .update, instance: nil).expected(logsJSON: Array(#""""#.utf8)))
    }

    /// The `time` field's length is counted before the frame is written (for the 65,000-byte
    /// budget), so each form of it must come out exactly as counted.
    @Test(arguments: FrameTime.all)
    func timeField(_ time: FrameTime) {
        let frame = EventFrame.encode(id: nil, type: .update, time: time.time, instance: nil)
        #expect(String(decoding: frame, as: UTF8.self)
            == #"event: instance\#ndata: {"type":"update","time":"\#(time.text)","instance":null,"logs":""}\#n\#n"#)
    }

    /// The instance object arrives encoded; the frame carries it verbatim (the §9.1 example).
    @Test func realInstanceObjectIsEmbeddedVerbatim() {
        var r = InstanceRecord(id: "d34db33f")
        (r.alias, r.type, r.status, r.url, r.restart) = ("edge-a", "managed", "running", "managed://edge-a", true)
        (r.ping, r.pool, r.tcps, r.udps) = (12, 4, 10, 2)
        (r.tcprx, r.tcptx, r.udprx, r.udptx) = (123456, 654321, 2048, 4096)
        let json = #"{"id":"d34db33f","alias":"edge-a","type":"managed","status":"running","url":"managed://edge-a","#
            + #""config":"","restart":true,"meta":{"peer":{"sid":"","type":"","alias":""},"tags":{}},"#
            + #""mode":0,"ping":12,"pool":4,"tcps":10,"udps":2,"tcprx":123456,"tcptx":654321,"udprx":2048,"udptx":4096}"#
        let frame = EventFrame.encode(id: nil, type: .initial, time: FrameTime.standard.time, instance: r.jsonBytes)
        #expect(String(decoding: frame, as: UTF8.self)
            == #"event: instance\#ndata: {"type":"initial","time":"\#(Self.t)","instance":"# + json + #","logs":""}\#n\#n"#)
    }

    @Test func retryFrameAndLogTypes() {
        #expect(String(decoding: EventFrame.retry, as: UTF8.self) == "retry: 3000\n\n")
        let logTypes: [EventType] = [.initial, .create, .update, .delete, .log, .shutdown].filter(\.isLog)
        #expect(logTypes == [.log])
    }
}

struct EventFrameTruncationTests {
    static let ids: [EventID?] = [nil, eventID(1), eventID(.max, boot: "ffffffff")]

    /// A frame of exactly 65,000 bytes is sent whole; one byte more and the line is cut.
    @Test(arguments: ids, FrameTime.all)
    func limitIsInclusive(_ id: EventID?, _ time: FrameTime) {
        let shape = FrameShape(id: id, time: time)
        let exact = [UInt8](repeating: UInt8(ascii: "a"), count: shape.budget - 2)
        let whole = shape.encode(exact)
        #expect(whole.count == EventFrame.maxBytes)
        #expect(whole == shape.expected(logsJSON: ReferenceJSON.quote(exact)))
        let over = exact + [UInt8(ascii: "a")]
        let frame = shape.encode(over)
        #expect(frame.count == EventFrame.maxBytes)
        // 1 byte over, plus ` [truncated ` (12), `22` (2) and ` bytes]` (7): 22 bytes go.
        #expect(checkFrameCut(frame, logs: over, shape: shape, closest: true, at: location(#line)) == 22)
    }

    struct DigitCase: Sendable, CustomTestStringConvertible {
        var over: Int
        var cut: Int
        var line: UInt
        var testDescription: String { "\(over) over, line \(line)" }
        init(_ over: Int, _ cut: Int, line: UInt = #line) { (self.over, self.cut, self.line) = (over, cut, line) }
    }

    /// For plain ASCII `cut - digits(cut) == over + 19`; where `cut` gains a digit two counts give
    /// the same frame length and the one keeping more text wins, so 100, 1000 and 10000 never
    /// appear and every frame is exactly the limit.
    static let digitEdges: [DigitCase] = [
        DigitCase(1, 22), DigitCase(2, 23), DigitCase(78, 99), DigitCase(79, 101), DigitCase(80, 102),
        DigitCase(977, 999), DigitCase(978, 1001), DigitCase(9976, 9999), DigitCase(9977, 10001),
        DigitCase(65_000, 65_024),
    ]

    @Test(arguments: digitEdges)
    func markerDigitCountEdge(_ c: DigitCase) {
        let shape = FrameShape(id: eventID(77))
        let logs = [UInt8](repeating: UInt8(ascii: "x"), count: shape.budget - 2 + c.over)
        let frame = shape.encode(logs)
        #expect(frame.count == EventFrame.maxBytes, sourceLocation: location(c.line))
        #expect(checkFrameCut(frame, logs: logs, shape: shape, closest: true, at: location(c.line)) == c.cut,
                sourceLocation: location(c.line))
    }

    /// ASCII escaped to six bytes (two for `"`), around the longest line that fits whole and up to
    /// the contract's 32 KiB line of `<` (a 190 KiB frame in the original).
    @Test(arguments: ["<", ">", "&", "\u{1}", "\u{1f}", "\"", "\\"])
    func escapedASCII(_ char: String) {
        let shape = FrameShape(id: eventID(5))
        let width = ReferenceJSON.quote(Array(char.utf8)).count - 2
        let whole = (shape.budget - 2) / width
        for count in [1, whole - 1, whole, whole + 1, whole + 2, whole + 5, 32 * 1024, 200_000] {
            let logs = Array(String(repeating: char, count: count).utf8)
            let frame = shape.encode(logs)
            if count <= whole {
                #expect(frame == shape.expected(logsJSON: ReferenceJSON.quote(logs)), "\(count) characters")
            } else {
                #expect(checkFrameCut(frame, logs: logs, shape: shape, closest: true, at: location(#line)) != nil,
                        "\(count) characters")
            }
        }
    }

    /// Bytes that start no sequence are `\ufffd` (six bytes each) in the cut line as in a whole one.
    @Test(arguments: [[0xFF], [0xC3], [0xF5, 0x41], [0xC0, 0xAF], [0xFE, 0x3C]] as [[UInt8]])
    func invalidLeadBytes(_ pattern: [UInt8]) {
        let shape = FrameShape(id: eventID(8))
        for repeats in [shape.budget / 6, shape.budget / 2, 40_000] {
            let logs = Array([[UInt8]](repeating: pattern, count: repeats).joined())
            let frame = shape.encode(logs)
            let whole = ReferenceJSON.quote(logs)
            if whole.count <= shape.budget {
                #expect(frame == shape.expected(logsJSON: whole), "\(repeats) × \(pattern)")
            } else {
                #expect(checkFrameCut(frame, logs: logs, shape: shape, closest: true, at: location(#line)) != nil,
                        "\(repeats) × \(pattern)")
            }
        }
    }

    /// Lines of multi-byte characters after 0...3 ASCII bytes put the cut at every offset inside a
    /// character; the kept text stays valid UTF-8 and the frame within the limit.
    @Test(arguments: ["é", "日", "😀", "\u{2028}", "é日😀", "a😀"])
    func multiByteCharactersAreNeverSplit(_ char: String) throws {
        for shift in 0..<4 {
            for extra in [1, 1_000] {
                let (shape, logs) = Self.line(of: char, after: shift, over: extra)
                let frame = shape.encode(logs)
                let n = try #require(checkFrameCut(frame, logs: logs, shape: shape, closest: false, at: location(#line)),
                                     "shift \(shift), extra \(extra)")
                #expect(String(validating: logs[..<(logs.count - n)], as: UTF8.self) != nil, "shift \(shift), extra \(extra)")
            }
        }
    }

    /// `shift` ASCII bytes, then `char` repeated until the quoted line passes the budget by `over`.
    static func line(of char: String, after shift: Int, over: Int) -> (FrameShape, [UInt8]) {
        let shape = FrameShape()
        let unit = Array(char.utf8)
        let unitQuoted = ReferenceJSON.quote(unit).count - 2
        var logs = [UInt8](repeating: UInt8(ascii: "a"), count: shift)
        var quoted = 2 + shift
        while quoted < shape.budget + over {
            logs += unit
            quoted += unitQuoted
        }
        return (shape, logs)
    }
}

struct EventFrameRandomLineTests {
    /// Vigna's SplitMix64, so every seed names one reproducible line.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let wide: [[UInt8]] = ["é", "ß", "日", "€", "😀", "𝄞", "\u{2028}", "\u{2029}", "\u{FFFD}", "\u{10FFFF}", "\u{80}"]
        .map { Array($0.utf8) }
    static let broken: [[UInt8]] = [[0xE2, 0x80], [0xF0, 0x9F, 0x98], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xF4, 0x90]]

    /// A random piece of a line and roughly how long it is quoted (exact unless it merges with a
    /// neighbour into another UTF-8 sequence).
    static func piece(_ rng: inout SplitMix64) -> (bytes: [UInt8], quoted: Int) {
        switch rng.next() % 100 {
        case 0..<45:
            let run = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
            return (run, run.reduce(0) { $0 + (Array("<>&".utf8).contains($1) ? 6 : Array("\"\\".utf8).contains($1) ? 2 : 1) })
        case 45..<55: return ([Array("<>&\"\\".utf8).randomElement(using: &rng)!], 6)
        case 55..<62: return ([UInt8.random(in: 0x00...0x1F, using: &rng)], 6)
        case 62..<85:
            let char = wide.randomElement(using: &rng)!
            return (char, char.count)
        case 85..<92: return ([UInt8.random(in: 0x80...0xFF, using: &rng)], 6)
        default:
            let bytes = broken.randomElement(using: &rng)!
            return (bytes, 6 * bytes.count)
        }
    }

    /// A quarter of the lines fit easily, half end within a few hundred bytes of the budget, and
    /// a quarter are up to twice too long.
    static func line(seed: UInt64, budget: Int) -> [UInt8] {
        var rng = SplitMix64(state: seed)
        let target = switch seed % 4 {
        case 0: Int.random(in: 0...300, using: &rng)
        case 1, 2: budget + Int.random(in: -40...200, using: &rng)
        default: Int.random(in: budget...(2 * budget), using: &rng)
        }
        var line: [UInt8] = []
        var quoted = 2
        while quoted < target {
            let next = piece(&rng)
            line += next.bytes
            quoted += next.quoted
        }
        return line
    }

    static func shape(seed: UInt64) -> FrameShape {
        FrameShape(id: seed % 3 == 0 ? nil : eventID(seed + 1, boot: "abcdef01"), instance: seed % 5 == 0 ? nil : #"{"id":"0000beef"}"#)
    }

    @Test(arguments: 0..<200)
    func randomLineFitsAndIsEscapedAsGo(_ seed: Int) {
        let shape = Self.shape(seed: UInt64(seed))
        let logs = Self.line(seed: UInt64(seed), budget: shape.budget)
        let frame = shape.encode(logs)
        let whole = ReferenceJSON.quote(logs)
        if whole.count <= shape.budget {
            #expect(frame == shape.expected(logsJSON: whole), "seed \(seed): whole line")
        } else {
            #expect(checkFrameCut(frame, logs: logs, shape: shape, closest: false, at: location(#line)) != nil, "seed \(seed)")
        }
    }
}
