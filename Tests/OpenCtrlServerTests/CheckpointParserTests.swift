import Testing

@testable import OpenCtrlServer

/// The CHECK_POINT grammar and the `ERROR` marker (CONTRACT §12.4, §12.5).
struct CheckpointParserTests {
    static let valid = "CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096"
    static let validCheckpoint = Checkpoint(
        mode: 1, ping: 12, pool: 4, tcps: 10, udps: 2, tcprx: 123456, tcptx: 654321, udprx: 2048, udptx: 4096)
    /// `valid` with the digits of field `index` replaced by `digits` (the `ms` of PING is kept).
    static func line(field index: Int, digits: String) -> String {
        var values = ["1", "12", "4", "10", "2", "123456", "654321", "2048", "4096"]
        values[index] = digits
        return "CHECK_POINT|MODE=\(values[0])|PING=\(values[1])ms|POOL=\(values[2])|TCPS=\(values[3])|UDPS=\(values[4])"
            + "|TCPRX=\(values[5])|TCPTX=\(values[6])|UDPRX=\(values[7])|UDPTX=\(values[8])"
    }

    /// `validCheckpoint` with field `index` (0 = MODE … 8 = UDPTX) set to `value`, or nil for overflow.
    static func checkpoint(field index: Int, _ value: UInt64?) -> Checkpoint {
        var c = validCheckpoint
        switch index {
        case 0: c.mode = value.map { Int32($0) }
        case 1: c.ping = value.map { Int32($0) }
        case 2: c.pool = value.map { Int32($0) }
        case 3: c.tcps = value.map { Int32($0) }
        case 4: c.udps = value.map { Int32($0) }
        case 5: c.tcprx = value
        case 6: c.tcptx = value
        case 7: c.udprx = value
        default: c.udptx = value
        }
        return c
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var expected: Checkpoint?
        var line: UInt

        init(_ input: String, _ expected: Checkpoint?, line: UInt = #line) {
            self.init(bytes: Array(input.utf8), expected, line: line)
        }

        init(bytes input: [UInt8], _ expected: Checkpoint?, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var testDescription: String {
            String(decoding: input.prefix(90), as: UTF8.self).unicodeScalars
                .map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
                .joined()
        }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let goodCases: [Case] = [
        Case(valid, validCheckpoint),
        Case("2025-01-02T03:04:05.678Z EVENT " + valid, validCheckpoint),
        Case("EVENT " + valid, validCheckpoint),
        Case(valid + " trailing words", validCheckpoint),
        Case(valid + "|EXTRA=9", validCheckpoint),
        Case("xCHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096",
             validCheckpoint),
        Case(line(field: 8, digits: "4096abc"), validCheckpoint),
        Case("CHECK_POINT|MODE=0|PING=0ms|POOL=0|TCPS=0|UDPS=0|TCPRX=0|TCPTX=0|UDPRX=0|UDPTX=0",
             Checkpoint(mode: 0, ping: 0, pool: 0, tcps: 0, udps: 0, tcprx: 0, tcptx: 0, udprx: 0, udptx: 0)),
        Case("CHECK_POINT|MODE=007|PING=0012ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096",
             Checkpoint(mode: 7, ping: 12, pool: 4, tcps: 10, udps: 2, tcprx: 123456, tcptx: 654321, udprx: 2048, udptx: 4096)),
        Case(valid + " " + line(field: 0, digits: "9"), validCheckpoint),
        Case(line(field: 0, digits: "9") + valid, checkpoint(field: 0, 9)),
        Case("CHECK_POINT|MODE=1|PING=5|POOL=4|TCPS=10|UDPS=2|TCPRX=1|TCPTX=1|UDPRX=1|UDPTX=1 " + valid, validCheckpoint),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4 " + valid, validCheckpoint),
        Case("CHECK_POINT|MODE=" + valid, validCheckpoint),
        Case("CHECK_POINT|MODE=CHECK_POINT|MODE=-1|" + valid, validCheckpoint),
        Case(bytes: [0x00, 0xFF, 0xC3, 0x28] + Array(valid.utf8) + [0x00, 0xFE, 0x80], validCheckpoint),
        Case(bytes: Array("CHECK_POINT|MODE=1|PING=\u{0}ms ".utf8) + Array(valid.utf8), validCheckpoint),
    ]

    static let int32Limits: [Case] = (0..<5).flatMap { (i: Int) -> [Case] in
        [
            Case(line(field: i, digits: "2147483647"), checkpoint(field: i, UInt64(Int32.max))),
            Case(line(field: i, digits: "2147483648"), checkpoint(field: i, nil)),
            Case(line(field: i, digits: "4294967296"), checkpoint(field: i, nil)),
            Case(line(field: i, digits: String(repeating: "9", count: 40)), checkpoint(field: i, nil)),
            Case(line(field: i, digits: String(repeating: "0", count: 38) + "42"), checkpoint(field: i, 42)),
        ]
    }

    static let uint64Limits: [Case] = (5..<9).flatMap { (field: Int) -> [Case] in
        [
            Case(line(field: field, digits: "18446744073709551615"), checkpoint(field: field, UInt64.max)),
            Case(line(field: field, digits: "18446744073709551616"), checkpoint(field: field, nil)),
            Case(line(field: field, digits: "99999999999999999999"), checkpoint(field: field, nil)),
            Case(line(field: field, digits: "1234567890123456789012345678901234567890"), checkpoint(field: field, nil)),
            Case(line(field: field, digits: String(repeating: "0", count: 38) + "42"), checkpoint(field: field, 42)),
        ]
    }

    static let greedyAndMixed: [Case] = [
        // Digit runs are greedy and what follows the last one is free text.
        Case(line(field: 8, digits: "1 "), checkpoint(field: 8, 1)),
        Case(line(field: 8, digits: "1.5"), checkpoint(field: 8, 1)),
        Case(line(field: 8, digits: "0x1F"), checkpoint(field: 8, 0)),
        Case("CHECK_POINT|MODE=2147483648|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=18446744073709551616|TCPTX=654321|UDPRX=2048|UDPTX=4096",
             Checkpoint(mode: nil, ping: 12, pool: 4, tcps: 10, udps: 2, tcprx: nil, tcptx: 654321, udprx: 2048, udptx: 4096)),
    ]

    static let badCases: [Case] = [
        Case("", nil),
        Case("CHECK_POINT", nil),
        Case("CHECK_POINT|MODE=", nil),
        Case("CHECK_POINT|MODE=1|PI", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|UDPS=2|TCPS=10|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|PING=12ms|MODE=1|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPTX=654321|TCPRX=123456|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|EXTRA=1|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=5|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=5MS|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=5 ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=5s|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PINGms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("check_point|mode=1|ping=12ms|pool=4|tcps=10|udps=2|tcprx=123456|tcptx=654321|udprx=2048|udptx=4096", nil),
        Case("Check_Point|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|Ping=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|udptx=4096", nil),
        Case("CHECK_POINT MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1||PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1,PING=12ms,POOL=4,TCPS=10,UDPS=2,TCPRX=123456,TCPTX=654321,UDPRX=2048,UDPTX=4096", nil),
        Case("CHECK_POINT | MODE=1 | PING=12ms | POOL=4 | TCPS=10 | UDPS=2 | TCPRX=123456 | TCPTX=654321 | UDPRX=2048 | UDPTX=4096", nil),
        Case("CHECK_POINT|MODE =1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1_000|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1e6|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=\u{0661}|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case("CHECK_POINT|MODE=\u{FF11}|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048|UDPTX=4096", nil),
        Case(bytes: Array("CHECK_POINT|MO".utf8) + [0xFF] + Array("DE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1|TCPTX=1|UDPRX=1|UDPTX=1".utf8), nil),
        Case(bytes: Array("CHECK_POINT|MODE=1\u{0}|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1|TCPTX=1|UDPRX=1|UDPTX=1".utf8), nil),
        Case(bytes: Array("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1|TCPTX=1|UDPRX=1|UDPTX=".utf8) + [0x00, 0x31], nil),
        Case("CHECK_POINT|MODE=1|PING=5|POOL=4 CHECK_POINT|MODE=-1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=1|TCPTX=1|UDPRX=1|UDPTX=1", nil),
        Case("CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=123456|TCPTX=654321|UDPRX=2048\nUDPTX=4096", nil),
    ]

    static let badCharacters: [Case] = (0..<9).flatMap { (i: Int) -> [Case] in
        ["-1", "+1", " 1", "ff", "", "\u{0663}", "\u{FF11}"].map { digits in Case(line(field: i, digits: digits), nil) }
    }

    /// Before the last field, text after the digits breaks the next separator.
    static let badSuffixes: [Case] = (0..<8).flatMap { (i: Int) -> [Case] in
        ["1 ", "1.5", "0x1F"].map { digits in Case(line(field: i, digits: digits), nil) }
    }

    static let allGood = goodCases + int32Limits + uint64Limits + greedyAndMixed
    static let allBad = badCases + badCharacters + badSuffixes

    @Test(arguments: allGood + allBad)
    func parse(_ c: Case) {
        #expect(CheckpointParser.parse(c.input) == c.expected, sourceLocation: c.location)
        if let text = String(validating: c.input, as: UTF8.self) {
            #expect(CheckpointParser.parse(text) == c.expected, sourceLocation: c.location)
        }
    }

    @Test func asManyMalformedRowsAsValidOnes() {
        #expect(Self.allBad.count >= Self.allGood.count)
        #expect(Self.allGood.allSatisfy { $0.expected != nil })
        #expect(Self.allBad.allSatisfy { $0.expected == nil })
    }

    /// The parser reads only the bytes it is given, even when the buffer continues in memory: a line
    /// handed over by the splitter is a window into a larger read.
    @Test func staysInsideTheBuffer() {
        let bytes = Array(Self.valid.utf8)
        bytes.withUnsafeBytes { all in
            #expect(CheckpointParser.parse(UnsafeRawBufferPointer(rebasing: all.dropLast(4))) == nil)
            var expected = Self.validCheckpoint
            expected.udptx = 40
            #expect(CheckpointParser.parse(UnsafeRawBufferPointer(rebasing: all.dropLast(2))) == expected)
            #expect(CheckpointParser.parse(UnsafeRawBufferPointer(rebasing: all.dropFirst(1))) == nil)
        }
        #expect(CheckpointParser.parse(UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
    }

    struct MarkerCase: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var expected: Bool
        var line: UInt

        init(_ input: String, _ expected: Bool, line: UInt = #line) {
            self.init(bytes: Array(input.utf8), expected, line: line)
        }

        init(bytes input: [UInt8], _ expected: Bool, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var testDescription: String { String(decoding: input, as: UTF8.self).debugDescription }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let markerCases: [MarkerCase] = [
        MarkerCase("ERROR", true),
        MarkerCase("2025-01-02 03:04:05 ERROR dial failed", true),
        MarkerCase("NO_ERRORS", true),
        MarkerCase("ERRORS", true),
        MarkerCase("xERROR", true),
        MarkerCase("connection lost: ERROR", true),
        MarkerCase("EERROR", true),
        MarkerCase("ERRERROR", true),
        MarkerCase("ERRORERROR", true),
        MarkerCase(bytes: [0x00, 0xFF] + Array("ERROR".utf8) + [0xFE, 0x00], true),
        MarkerCase("error", false),
        MarkerCase("Error", false),
        MarkerCase("ERRoR", false),
        MarkerCase("ERRO R", false),
        MarkerCase("ERR OR", false),
        MarkerCase("ERRO", false),
        MarkerCase("RROR", false),
        MarkerCase("EROR", false),
        MarkerCase("", false),
        MarkerCase("E", false),
        MarkerCase("\u{FF25}\u{FF32}\u{FF32}\u{FF2F}\u{FF32}", false),
        MarkerCase(bytes: Array("ERR".utf8) + [0x00] + Array("OR".utf8), false),
        MarkerCase("ERRO\nR", false),
    ]

    @Test(arguments: markerCases)
    func errorMarker(_ c: MarkerCase) {
        let found = c.input.withUnsafeBytes { CheckpointParser.containsErrorMarker($0) }
        #expect(found == c.expected, sourceLocation: c.location)
    }

    /// A marker that only the bytes past the window would complete is not there.
    @Test func errorMarkerStaysInsideTheBuffer() {
        Array("xERROR".utf8).withUnsafeBytes { all in
            #expect(!CheckpointParser.containsErrorMarker(UnsafeRawBufferPointer(rebasing: all.dropLast(1))))
            #expect(CheckpointParser.containsErrorMarker(UnsafeRawBufferPointer(rebasing: all.dropFirst(1))))
        }
        #expect(!CheckpointParser.containsErrorMarker(UnsafeRawBufferPointer(start: nil, count: 0)))
    }
}
