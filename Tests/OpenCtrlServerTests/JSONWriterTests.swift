import Testing
@testable import OpenCtrlServer

private func utf8String(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

struct JSONWriterStringTests {
    /// `input` is raw bytes so invalid UTF-8 can be expressed; `expected` is the JSON text.
    struct Case: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var expected: String
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        init(_ input: String, _ expected: String, line: UInt = #line) {
            self.input = Array(input.utf8)
            self.expected = expected
            self.line = line
        }

        init(bytes: [UInt8], _ expected: String, line: UInt = #line) {
            self.input = bytes
            self.expected = expected
            self.line = line
        }
    }

    static let valid: [Case] = [
        Case("", #""""#),
        Case("plain text", #""plain text""#),
        Case("\"", #""\"""#),
        Case("\\", #""\\""#),
        Case("\u{8}", #""\b""#),
        Case("\u{c}", #""\f""#),
        Case("\n", #""\n""#),
        Case("\r", #""\r""#),
        Case("\t", #""\t""#),
        Case("\u{0}", #""\u0000""#),
        Case("\u{1}", #""\u0001""#),
        Case("\u{7}", #""\u0007""#),
        Case("\u{b}", #""\u000b""#),
        Case("\u{e}", #""\u000e""#),
        Case("\u{1b}[0m", #""\u001b[0m""#),
        Case("\u{1f}", #""\u001f""#),
        Case("<", #""\u003c""#),
        Case(">", #""\u003e""#),
        Case("&", #""\u0026""#),
        Case("<script>&amp;</script>", #""\u003cscript\u003e\u0026amp;\u003c/script\u003e""#),
        Case("\u{7f}", "\"\u{7f}\""),
        Case("/ ' ` ~ ^ { } [ ] :", #""/ ' ` ~ ^ { } [ ] :""#),
        Case(" ", #"" ""#),
        Case("\u{2028}", #""\u2028""#),
        Case("\u{2029}", #""\u2029""#),
        Case("a\u{2028}b\u{2029}c", #""a\u2028b\u2029c""#),
        Case("\u{2027}\u{202a}\u{2000}", "\"\u{2027}\u{202a}\u{2000}\""),
        Case("\u{80}\u{a0}", "\"\u{80}\u{a0}\""),
        Case("héllo 日本語", "\"héllo 日本語\""),
        Case("😀 🇫🇷", "\"😀 🇫🇷\""),
        Case("\u{fffd}", "\"\u{fffd}\""),
        Case("\u{10ffff}", "\"\u{10ffff}\""),
        Case("e\u{301}", "\"e\u{301}\""),
        Case("line1\nline2\t<x>", #""line1\nline2\t\u003cx\u003e""#),
    ]

    static let invalid: [Case] = [
        Case(bytes: [0xFF], #""\ufffd""#),
        Case(bytes: [0xFE], #""\ufffd""#),
        Case(bytes: [0x80], #""\ufffd""#),
        Case(bytes: [0xBF, 0x80], #""\ufffd\ufffd""#),
        Case(bytes: [0xC3], #""\ufffd""#),
        Case(bytes: [0xC3, 0x41], #""\ufffdA""#),
        Case(bytes: [0xC0, 0xAF], #""\ufffd\ufffd""#),
        Case(bytes: [0xC1, 0xBF], #""\ufffd\ufffd""#),
        Case(bytes: [0xE2, 0x80], #""\ufffd\ufffd""#),
        Case(bytes: [0xE2, 0x80, 0x41], #""\ufffd\ufffdA""#),
        Case(bytes: [0xE0, 0x80, 0x80], #""\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xED, 0xA0, 0x80], #""\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xED, 0xBF, 0xBF], #""\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xF0, 0x80, 0x80, 0x80], #""\ufffd\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xF4, 0x90, 0x80, 0x80], #""\ufffd\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xF5, 0x80, 0x80, 0x80], #""\ufffd\ufffd\ufffd\ufffd""#),
        Case(bytes: [0xF0, 0x9F, 0x98], #""\ufffd\ufffd\ufffd""#),
        Case(bytes: [0x61, 0xFF, 0x3C, 0x0A], #""a\ufffd\u003c\n""#),
        Case(bytes: [0xE2, 0x80, 0xA8, 0xFF], #""\u2028\ufffd""#),
        Case(bytes: [0xFF, 0xF0, 0x9F, 0x98, 0x80], "\"\\ufffd😀\""),
        Case(bytes: [0xC3, 0xA9, 0xC3], "\"é\\ufffd\""),
    ]

    @Test("String escaping matches Go", arguments: valid)
    func escapesString(_ c: Case) {
        var w = JSONWriter()
        w.string(utf8String(c.input))
        #expect(utf8String(w.bytes) == c.expected, sourceLocation: c.location)
        #expect(w.bytes == Array(c.expected.utf8), sourceLocation: c.location)
    }

    @Test("Byte escaping matches Go, replacing each invalid byte", arguments: valid + invalid)
    func escapesBytes(_ c: Case) {
        var w = JSONWriter()
        w.string(utf8: c.input)
        #expect(w.bytes == Array(c.expected.utf8), "got \(utf8String(w.bytes))", sourceLocation: c.location)
    }

    @Test("Non-contiguous byte sequences escape the same", arguments: valid + invalid)
    func escapesLazySequence(_ c: Case) {
        var w = JSONWriter()
        w.string(utf8: c.input.lazy.map { $0 })
        #expect(w.bytes == Array(c.expected.utf8), sourceLocation: c.location)
    }

    @Test("quotedLength is what string(utf8:) appends", arguments: valid + invalid)
    func quotedLength(_ c: Case) {
        #expect(JSONWriter.quotedLength(utf8: c.input) == c.expected.utf8.count, sourceLocation: c.location)
        #expect(
            JSONWriter.quotedLength(utf8: c.input.lazy.map { $0 }) == c.expected.utf8.count,
            sourceLocation: c.location)
    }

    /// Long strings are scanned eight bytes at a time; padding moves each case through every
    /// position of that word and across word boundaries.
    @Test("Escaping is the same at every offset", arguments: valid + invalid)
    func escapesAtEveryOffset(_ c: Case) {
        let inner = c.expected.dropFirst().dropLast()
        let validUTF8 = String(validating: c.input, as: UTF8.self) != nil
        for prefix in 0...17 {
            for suffix in [0, 1, 7, 8, 9, 16] {
                let input = Array(repeating: UInt8(ascii: "a"), count: prefix) + c.input
                    + Array(repeating: UInt8(ascii: "z"), count: suffix)
                let expected = "\"" + String(repeating: "a", count: prefix) + inner
                    + String(repeating: "z", count: suffix) + "\""
                var w = JSONWriter()
                w.string(utf8: input)
                let position = "prefix \(prefix) suffix \(suffix)"
                #expect(utf8String(w.bytes) == expected, "\(position)", sourceLocation: c.location)
                #expect(JSONWriter.quotedLength(utf8: input) == expected.utf8.count, sourceLocation: c.location)
                if validUTF8 {
                    var s = JSONWriter()
                    s.string(utf8String(input))
                    #expect(utf8String(s.bytes) == expected, "\(position)", sourceLocation: c.location)
                }
            }
        }
    }

    /// Every byte below 0x20, against an independent statement of Go's rule.
    @Test func everyControlByte() {
        let short: [UInt8: String] = [0x08: #"\b"#, 0x09: #"\t"#, 0x0A: #"\n"#, 0x0C: #"\f"#, 0x0D: #"\r"#]
        for byte in UInt8(0)..<0x20 {
            let hex = String(byte, radix: 16)
            let expected = "\"" + (short[byte] ?? "\\u00" + (hex.count == 1 ? "0" + hex : hex)) + "\""
            var w = JSONWriter()
            w.string(utf8: [byte])
            #expect(utf8String(w.bytes) == expected, "byte \(byte)")
        }
    }

    @Test func appendsAfterExistingBytes() {
        var w = JSONWriter(reservingCapacity: 1)
        w.raw("[")
        w.string("a<")
        w.raw(",")
        w.string(utf8: [0xFF])
        w.raw(",")
        w.bool(true)
        w.raw(",")
        w.bool(false)
        w.raw(",")
        w.null()
        w.raw("]")
        #expect(utf8String(w.bytes) == #"["a\u003c","\ufffd",true,false,null]"#)
    }

    @Test func longStringWithScatteredEscapes() {
        let unit = "abcdefgh<"
        let input = String(repeating: unit, count: 1000)
        var w = JSONWriter()
        w.string(input)
        let expected = "\"" + String(repeating: "abcdefgh\\u003c", count: 1000) + "\""
        #expect(w.bytes == Array(expected.utf8))
    }
}

struct JSONWriterNumberTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var value: Int64
        var expected: String
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }
        init(_ value: Int64, _ expected: String, line: UInt = #line) {
            self.value = value
            self.expected = expected
            self.line = line
        }
    }

    struct UnsignedCase: Sendable, CustomTestStringConvertible {
        var value: UInt64
        var expected: String
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }
        init(_ value: UInt64, _ expected: String, line: UInt = #line) {
            self.value = value
            self.expected = expected
            self.line = line
        }
    }

    @Test(arguments: [
        Case(0, "0"),
        Case(7, "7"),
        Case(9, "9"),
        Case(10, "10"),
        Case(100, "100"),
        Case(-1, "-1"),
        Case(-9, "-9"),
        Case(-10, "-10"),
        Case(Int64(Int32.max), "2147483647"),
        Case(Int64(Int32.min), "-2147483648"),
        Case(Int64.max, "9223372036854775807"),
        Case(Int64.min, "-9223372036854775808"),
        Case(Int64.min + 1, "-9223372036854775807"),
    ])
    func signed(_ c: Case) {
        var w = JSONWriter()
        w.int(c.value)
        #expect(utf8String(w.bytes) == c.expected, sourceLocation: c.location)
    }

    @Test(arguments: [
        UnsignedCase(0, "0"),
        UnsignedCase(1, "1"),
        UnsignedCase(10, "10"),
        UnsignedCase(1 << 53 + 1, "9007199254740993"),
        UnsignedCase(UInt64(Int64.max), "9223372036854775807"),
        UnsignedCase(UInt64(Int64.max) + 1, "9223372036854775808"),
        UnsignedCase(10_000_000_000_000_000_000, "10000000000000000000"),
        UnsignedCase(UInt64.max, "18446744073709551615"),
    ])
    func unsigned(_ c: UnsignedCase) {
        var w = JSONWriter()
        w.uint(c.value)
        #expect(utf8String(w.bytes) == c.expected, sourceLocation: c.location)
    }
}

struct InstanceJSONTests {
    /// The example of CONTRACT §9.1 with its line breaks removed.
    @Test func contractExample() {
        var record = InstanceRecord(id: "d34db33f")
        record.alias = "edge-a"
        record.type = "managed"
        record.status = "running"
        record.url = "managed://edge-a"
        record.restart = true
        record.ping = 12
        record.pool = 4
        record.tcps = 10
        record.udps = 2
        record.tcprx = 123_456
        record.tcptx = 654_321
        record.udprx = 2048
        record.udptx = 4096
        let expected = #"{"id":"d34db33f","alias":"edge-a","type":"managed","status":"running","#
            + #""url":"managed://edge-a","#
            + #""config":"","restart":true,"meta":{"peer":{"sid":"","type":"","alias":""},"tags":{}},"#
            + #""mode":0,"ping":12,"pool":4,"tcps":10,"udps":2,"#
            + #""tcprx":123456,"tcptx":654321,"udprx":2048,"udptx":4096}"#
        #expect(utf8String(record.jsonBytes) == expected)
    }

    @Test func tagsEscapesAndExtremes() {
        var record = InstanceRecord(id: InstanceRecord.keyRecordID)
        record.alias = "a\"b"
        record.type = ""
        record.status = ""
        record.url = "k<&>"
        record.config = "1a2b3c4d5e6f7890"
        record.restart = false
        record.peer = Peer(sid: "s\n1", type: "edge", alias: "Site\u{2028}1 ☃")
        record.tags = [Tag(key: "", value: "empty"), Tag(key: "Zone", value: "\u{1}"), Tag(key: "région", value: "eu")]
        record.mode = -1
        record.ping = Int32.min
        record.pool = Int32.max
        record.tcprx = UInt64.max
        record.udptx = 1
        let expected = #"{"id":"********","alias":"a\"b","type":"","status":"","url":"k\u003c\u0026\u003e","#
            + #""config":"1a2b3c4d5e6f7890","restart":false,"#
            + #""meta":{"peer":{"sid":"s\n1","type":"edge","alias":"Site\u20281 ☃"},"#
            + #""tags":{"":"empty","Zone":"\u0001","région":"eu"}},"#
            + #""mode":-1,"ping":-2147483648,"pool":2147483647,"tcps":0,"udps":0,"#
            + #""tcprx":18446744073709551615,"tcptx":0,"udprx":0,"udptx":1}"#
        #expect(utf8String(record.jsonBytes) == expected)
    }

    @Test func writesIntoExistingWriter() {
        let record = InstanceRecord(id: "00000001")
        var w = JSONWriter()
        w.raw("{\"instance\":")
        record.writeJSON(into: &w)
        w.raw("}")
        #expect(w.bytes == Array("{\"instance\":".utf8) + record.jsonBytes + [UInt8(ascii: "}")])
        let defaults = #"{"id":"00000001","alias":"","type":"","status":"","url":"","config":"","restart":false,"#
        #expect(utf8String(record.jsonBytes).hasPrefix(defaults))
    }
}
