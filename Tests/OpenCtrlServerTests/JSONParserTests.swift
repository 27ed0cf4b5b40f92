import Testing
@testable import OpenCtrlServer

/// Structural equality with strings compared by bytes, which `JSONValue ==` (canonical
/// equivalence) does not do.
private func sameValueBytes(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case let (.bool(x), .bool(y)): return x == y
    case let (.number(x), .number(y)), let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy(sameValueBytes)
    case let (.object(x), .object(y)):
        return x.count == y.count && zip(x, y).allSatisfy { m, n in
            m.key.utf8.elementsEqual(n.key.utf8) && sameValueBytes(m.value, n.value)
        }
    default: return false
    }
}

private func nestedDocument(_ depth: Int, open: String, close: String, innermost: String = "") -> [UInt8] {
    Array((String(repeating: open, count: depth) + innermost + String(repeating: close, count: depth)).utf8)
}

struct JSONParserValidTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var expected: JSONValue
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        init(_ input: String, _ expected: JSONValue, line: UInt = #line) {
            self.input = Array(input.utf8)
            self.expected = expected
            self.line = line
        }
    }

    static let cases: [Case] = [
        Case("null", .null),
        Case("true", .bool(true)),
        Case("false", .bool(false)),
        Case(" \t\n\r null \t\n\r ", .null),
        Case("0", .number("0")),
        Case("-0", .number("-0")),
        Case("7", .number("7")),
        Case("-123", .number("-123")),
        Case("1.5", .number("1.5")),
        Case("-0.0", .number("-0.0")),
        Case("1e10", .number("1e10")),
        Case("1E+10", .number("1E+10")),
        Case("2.5e-3", .number("2.5e-3")),
        Case("0e0", .number("0e0")),
        Case("123456789012345678901234567890", .number("123456789012345678901234567890")),
        Case(#""""#, .string("")),
        Case(#""abc""#, .string("abc")),
        Case(#""\"\\\/\b\f\n\r\t""#, .string("\"\\/\u{8}\u{c}\n\r\t")),
        Case(#""\u0041\u00e9\u00E9\u4e2D""#, .string("Aéé中")),
        Case(#""\u0000""#, .string("\u{0}")),
        Case(#""\ud83d\ude00""#, .string("😀")),
        Case(#""\uD83D\uDE00x""#, .string("😀x")),
        Case(#""\ud800""#, .string("\u{fffd}")),
        Case(#""\udc00""#, .string("\u{fffd}")),
        Case(#""\ude00\ud83d""#, .string("\u{fffd}\u{fffd}")),
        Case(#""\ud800\u0041""#, .string("\u{fffd}A")),
        Case(#""\ud800\ud800\udc00""#, .string("\u{fffd}\u{10000}")),
        Case(#""\ud800x""#, .string("\u{fffd}x")),
        Case(#""\ud800\n""#, .string("\u{fffd}\n")),
        Case(#""\ufffd""#, .string("\u{fffd}")),
        Case("\"e\\u0301 e\u{301}\"", .string("e\u{301} e\u{301}")),
        Case("\"日本 😀 \u{7f} \u{2028}\"", .string("日本 😀 \u{7f} \u{2028}")),
        Case(#""a\u003cb""#, .string("a<b")),
        Case("[]", .array([])),
        Case("[ ]", .array([])),
        Case(#"[1,"a",null,true,[]]"#, .array([.number("1"), .string("a"), .null, .bool(true), .array([])])),
        Case("{}", .object([])),
        Case("{ \n}", .object([])),
        Case(#"{"a":1}"#, .object([JSONMember(key: "a", value: .number("1"))])),
        Case(#"{"b":1,"a":2}"#, .object([
            JSONMember(key: "b", value: .number("1")),
            JSONMember(key: "a", value: .number("2")),
        ])),
        Case(#"{"a":1,"a":null,"A":true}"#, .object([
            JSONMember(key: "a", value: .number("1")),
            JSONMember(key: "a", value: .null),
            JSONMember(key: "A", value: .bool(true)),
        ])),
        Case(#"{"\u0061\n":"x"}"#, .object([JSONMember(key: "a\n", value: .string("x"))])),
        Case(#" { "a" : [ 1 , { "b" : { } } ] , "c" : "" } "#, .object([
            JSONMember(key: "a", value: .array([.number("1"), .object([JSONMember(key: "b", value: .object([]))])])),
            JSONMember(key: "c", value: .string("")),
        ])),
        Case(#"[[[["deep"]]]]"#, .array([.array([.array([.array([.string("deep")])])])])),
    ]

    @Test(arguments: cases)
    func parses(_ c: Case) throws {
        let value = try JSONParser.parse(c.input)
        #expect(sameValueBytes(value, c.expected), "got \(value)", sourceLocation: c.location)
    }

    @Test func acceptsTheDepthLimit() throws {
        let arrays = try JSONParser.parse(nestedDocument(JSONParser.maxDepth, open: "[", close: "]"))
        var depth = 0
        var cursor = arrays
        while case .array(let inner) = cursor {
            depth += 1
            cursor = inner.first ?? .null
        }
        #expect(depth == JSONParser.maxDepth)
        let objects = try JSONParser.parse(nestedDocument(JSONParser.maxDepth, open: #"{"a":"#, close: "}", innermost: "1"))
        depth = 0
        cursor = objects
        while case .object(let members) = cursor {
            depth += 1
            cursor = members.first?.value ?? .null
        }
        #expect(depth == JSONParser.maxDepth)
        #expect(cursor == .number("1"))
    }
}

struct JSONParserInvalidTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var reason: JSONParseError.Reason
        var offset: Int
        var line: UInt
        var testDescription: String { "line \(line)" }
        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        init(_ input: String, _ reason: JSONParseError.Reason, at offset: Int, line: UInt = #line) {
            self.init(bytes: Array(input.utf8), reason, at: offset, line: line)
        }

        init(bytes: [UInt8], _ reason: JSONParseError.Reason, at offset: Int, line: UInt = #line) {
            self.input = bytes
            self.reason = reason
            self.offset = offset
            self.line = line
        }
    }

    static let cases: [Case] = [
        // Empty, whitespace only, truncated.
        Case("", .unexpectedEnd, at: 0),
        Case("   ", .unexpectedEnd, at: 3),
        Case("\n\t\r", .unexpectedEnd, at: 3),
        Case("{", .unexpectedEnd, at: 1),
        Case("[", .unexpectedEnd, at: 1),
        Case(#"{"a""#, .unexpectedEnd, at: 4),
        Case(#"{"a":"#, .unexpectedEnd, at: 5),
        Case(#"{"a":1"#, .unexpectedEnd, at: 6),
        Case("[1,", .unexpectedEnd, at: 3),
        Case(#""abc"#, .unexpectedEnd, at: 4),
        Case(#""\"#, .unexpectedEnd, at: 2),
        Case("nul", .unexpectedEnd, at: 3),
        // Trailing data: Go's decoder would ignore it, our rule rejects it.
        Case("{}x", .trailingData, at: 2),
        Case("{} {}", .trailingData, at: 3),
        Case("null null", .trailingData, at: 5),
        Case("1 2", .trailingData, at: 2),
        Case("[]]", .trailingData, at: 2),
        Case(#"{"url":"x"},"#, .trailingData, at: 11),
        Case("0x10", .trailingData, at: 1),
        Case("1.5.5", .trailingData, at: 3),
        // Structure.
        Case("{,}", .unexpectedByte, at: 1),
        Case(#"{"a":1,}"#, .unexpectedByte, at: 7),
        Case("[1,]", .unexpectedByte, at: 3),
        Case("[,1]", .unexpectedByte, at: 1),
        Case(#"{"a" 1}"#, .unexpectedByte, at: 5),
        Case("{a:1}", .unexpectedByte, at: 1),
        Case("{1:1}", .unexpectedByte, at: 1),
        Case("[1 2]", .unexpectedByte, at: 3),
        Case(#"{"a":1 "b":2}"#, .unexpectedByte, at: 7),
        Case("[}", .unexpectedByte, at: 1),
        Case(#"{"a":1]"#, .unexpectedByte, at: 6),
        Case("'a'", .unexpectedByte, at: 0),
        Case("nulL", .unexpectedByte, at: 3),
        Case("True", .unexpectedByte, at: 0),
        Case("NaN", .unexpectedByte, at: 0),
        Case("Infinity", .unexpectedByte, at: 0),
        Case("undefined", .unexpectedByte, at: 0),
        Case("\u{a0}{}", .unexpectedByte, at: 0),
        // Numbers.
        Case("01", .invalidNumber, at: 1),
        Case("00", .invalidNumber, at: 1),
        Case("-01", .invalidNumber, at: 2),
        Case("-", .invalidNumber, at: 1),
        Case("- 1", .invalidNumber, at: 1),
        Case("-a", .invalidNumber, at: 1),
        Case("1.", .invalidNumber, at: 2),
        Case("1.e5", .invalidNumber, at: 2),
        Case("1e", .invalidNumber, at: 2),
        Case("1e+", .invalidNumber, at: 3),
        Case("[1E-]", .invalidNumber, at: 4),
        Case("+1", .unexpectedByte, at: 0),
        Case(".5", .unexpectedByte, at: 0),
        // Escapes.
        Case(#""\x""#, .invalidEscape, at: 2),
        Case(#""\a""#, .invalidEscape, at: 2),
        Case(#""\'""#, .invalidEscape, at: 2),
        Case(#""\U0041""#, .invalidEscape, at: 2),
        Case(#""\u12""#, .invalidEscape, at: 2),
        Case(#""\u12g4""#, .invalidEscape, at: 2),
        Case(#""\ud800\u12""#, .invalidEscape, at: 8),
        Case(#""ok\n\"#, .unexpectedEnd, at: 6),
        // Raw control characters inside strings.
        Case("\"a\nb\"", .controlCharacterInString, at: 2),
        Case("\"\t\"", .controlCharacterInString, at: 1),
        Case("\"\u{0}\"", .controlCharacterInString, at: 1),
        Case("\"\u{1f}\"", .controlCharacterInString, at: 1),
        Case("{\"a\r\":1}", .controlCharacterInString, at: 3),
        // Invalid UTF-8 inside strings (Go would substitute U+FFFD; our rule rejects).
        Case(bytes: [0x22, 0xFF, 0x22], .invalidUTF8, at: 1),
        Case(bytes: [0x22, 0x61, 0x62, 0x80, 0x22], .invalidUTF8, at: 3),
        Case(bytes: [0x22, 0xC0, 0x80, 0x22], .invalidUTF8, at: 1),
        Case(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, at: 1),
        Case(bytes: [0x22, 0xE2, 0x80, 0x22], .invalidUTF8, at: 1),
        Case(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8, at: 1),
        Case(bytes: [0x22, 0x5C, 0x6E, 0xFE, 0x22], .invalidUTF8, at: 3),
        Case(bytes: Array(#"{"k":""#.utf8) + [0xC3] + Array(#""}"#.utf8), .invalidUTF8, at: 6),
        Case(bytes: [0x7B, 0x22, 0xF0, 0x9F, 0x98, 0x22, 0x3A, 0x31, 0x7D], .invalidUTF8, at: 2),
        // Invalid UTF-8 and other non-ASCII bytes outside strings.
        Case(bytes: [0xFF], .unexpectedByte, at: 0),
        Case(bytes: [0xEF, 0xBB, 0xBF, 0x7B, 0x7D], .unexpectedByte, at: 0),
        Case(bytes: [0x5B, 0xFF, 0x5D], .unexpectedByte, at: 1),
        Case(bytes: [0x7B, 0xC3, 0xA9, 0x3A, 0x31, 0x7D], .unexpectedByte, at: 1),
        Case(bytes: [0x7B, 0x7D, 0x20, 0xFF], .trailingData, at: 3),
        // Nesting beyond the limit, at the first container too many.
        Case(bytes: nestedDocument(JSONParser.maxDepth + 1, open: "[", close: "]"), .tooDeep, at: JSONParser.maxDepth),
        Case(bytes: nestedDocument(JSONParser.maxDepth + 1, open: #"{"a":"#, close: "}", innermost: "1"), .tooDeep,
             at: JSONParser.maxDepth * 5),
        Case(bytes: nestedDocument(100_000, open: "[", close: ""), .tooDeep, at: JSONParser.maxDepth),
    ]

    @Test(arguments: cases)
    func rejects(_ c: Case) {
        #expect(throws: JSONParseError(c.reason, at: c.offset), sourceLocation: c.location) {
            try JSONParser.parse(c.input)
        }
    }
}
