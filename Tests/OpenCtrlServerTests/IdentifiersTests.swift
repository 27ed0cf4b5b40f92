import Testing

@testable import OpenCtrlServer

/// Identifier formats and the API-key comparison (CONTRACT §4.1–§4.3).
struct IdentifiersTests {
    static let hexDigits = Set("0123456789abcdef".utf8)

    static func isLowercaseHex(_ s: String, length: Int) -> Bool {
        s.utf8.count == length && s.utf8.allSatisfy { hexDigits.contains($0) }
    }

    struct GeneratorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var length: Int
        var generate: @Sendable () -> String
        var testDescription: String { name }
    }

    static let generators: [GeneratorCase] = [
        GeneratorCase(name: "apiKey", length: 32, generate: Identifiers.apiKey),
        GeneratorCase(name: "masterID", length: 16, generate: Identifiers.masterID),
        GeneratorCase(name: "instanceID", length: 8, generate: Identifiers.instanceID),
        GeneratorCase(name: "eventBootID", length: 8, generate: Identifiers.eventBootID),
    ]

    @Test(arguments: generators)
    func generatedFormat(_ g: GeneratorCase) {
        for _ in 0..<200 {
            let value = g.generate()
            #expect(Self.isLowercaseHex(value, length: g.length), "\(g.name): \(value)")
        }
    }

    /// 1000 draws of 64 or 128 random bits never repeat by chance. 1000 draws of 32 bits hold a
    /// repeat with probability about 1e-4, so for those the bound is a handful of repeats.
    @Test(arguments: generators)
    func drawsAreDistinct(_ g: GeneratorCase) {
        let draws = (0..<1000).map { _ in g.generate() }
        let allowedRepeats = g.length <= 8 ? 5 : 0
        #expect(Set(draws).count >= 1000 - allowedRepeats, "\(g.name)")
    }

    struct HexCase: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var hex: String
        var line: UInt

        init(bytes: [UInt8], hex: String, line: UInt = #line) {
            self.bytes = bytes
            self.hex = hex
            self.line = line
        }

        var testDescription: String { hex }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let hexCases: [HexCase] = [
        HexCase(bytes: [], hex: ""),
        HexCase(bytes: [0x00], hex: "00"),
        HexCase(bytes: [0x0f, 0xf0], hex: "0ff0"),
        HexCase(bytes: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef], hex: "0123456789abcdef"),
        HexCase(bytes: [0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10], hex: "fedcba9876543210"),
        HexCase(bytes: [0xff, 0xff, 0xff, 0xff], hex: "ffffffff"),
    ]

    @Test(arguments: hexCases)
    func hexEncoding(_ c: HexCase) {
        #expect(Identifiers.hex(c.bytes) == c.hex, sourceLocation: c.location)
    }

    /// Each nibble position of a random key must range over all 16 digits; a generator that
    /// dropped or masked a nibble would leave digits unused at its positions.
    @Test func everyHexDigitAppearsInBothNibbles() {
        var high = Set<UInt8>()
        var low = Set<UInt8>()
        for _ in 0..<200 {
            for (index, digit) in Identifiers.apiKey().utf8.enumerated() {
                if index % 2 == 0 { high.insert(digit) } else { low.insert(digit) }
            }
        }
        #expect(high == Self.hexDigits)
        #expect(low == Self.hexDigits)
    }

    @Test func fillRandomFillsBeyondOneGetentropyCall() {
        // getentropy takes at most 256 bytes per call; a buffer of 1000 needs four calls.
        var bytes = [UInt8](repeating: 0, count: 1000)
        bytes.withUnsafeMutableBytes { Identifiers.fillRandom($0) }
        #expect(bytes[744...].contains { $0 != 0 })
        #expect(bytes[..<256].contains { $0 != 0 })
    }

    @Test func urandomFallbackFillsTheBuffer() {
        var bytes = [UInt8](repeating: 0, count: 300)
        let filled = bytes.withUnsafeMutableBytes { Identifiers.readURandom($0) }
        #expect(filled)
        #expect(bytes[268...].contains { $0 != 0 })
    }

    struct ValidationCase: Sendable, CustomTestStringConvertible {
        var input: String
        var valid: Bool
        var line: UInt

        init(input: String, valid: Bool, line: UInt = #line) {
            self.input = input
            self.valid = valid
            self.line = line
        }

        var testDescription: String { "\"\(input)\"" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let apiKeyCases: [ValidationCase] = [
        ValidationCase(input: "0123456789abcdef0123456789abcdef", valid: true),
        ValidationCase(input: "00000000000000000000000000000000", valid: true),
        ValidationCase(input: "ffffffffffffffffffffffffffffffff", valid: true),
        ValidationCase(input: "9f86d081884c7d659a2feaa0c55ad015", valid: true),
        ValidationCase(input: "", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcde", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcdef0", valid: false),
        ValidationCase(input: "0123456789ABCDEF0123456789ABCDEF", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcdeF", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcdeg", valid: false),
        ValidationCase(input: "0123456789abcdef 123456789abcdef", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcde\n", valid: false),
        ValidationCase(input: "********", valid: false),
        // 32 characters but 33 bytes: lengths count UTF-8 bytes.
        ValidationCase(input: "é123456789abcdef0123456789abcde", valid: false),
        ValidationCase(input: "0123456789abcdef", valid: false),
    ]

    @Test(arguments: apiKeyCases)
    func apiKeyValidation(_ c: ValidationCase) {
        #expect(Identifiers.isValidAPIKey(c.input) == c.valid, sourceLocation: c.location)
    }

    static let masterIDCases: [ValidationCase] = [
        ValidationCase(input: "1a2b3c4d5e6f7890", valid: true),
        ValidationCase(input: "0000000000000000", valid: true),
        ValidationCase(input: "ffffffffffffffff", valid: true),
        ValidationCase(input: "", valid: false),
        ValidationCase(input: "1a2b3c4d5e6f789", valid: false),
        ValidationCase(input: "1a2b3c4d5e6f78901", valid: false),
        ValidationCase(input: "1A2B3C4D5E6F7890", valid: false),
        ValidationCase(input: "1a2b3c4d5e6f789g", valid: false),
        ValidationCase(input: "1a2b3c4d-e6f7890", valid: false),
        ValidationCase(input: "0123456789abcdef0123456789abcdef", valid: false),
    ]

    @Test(arguments: masterIDCases)
    func masterIDValidation(_ c: ValidationCase) {
        #expect(Identifiers.isValidMasterID(c.input) == c.valid, sourceLocation: c.location)
    }

    @Test func generatedValuesPassTheirValidators() {
        for _ in 0..<100 {
            #expect(Identifiers.isValidAPIKey(Identifiers.apiKey()))
            #expect(Identifiers.isValidMasterID(Identifiers.masterID()))
        }
    }

    struct EqualityCase: Sendable, CustomTestStringConvertible {
        var a: String
        var b: String
        var equal: Bool
        var line: UInt

        init(a: String, b: String, equal: Bool, line: UInt = #line) {
            self.a = a
            self.b = b
            self.equal = equal
            self.line = line
        }

        var testDescription: String { "\"\(a)\" vs \"\(b)\"" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let key = "0123456789abcdef0123456789abcdef"

    static let equalityCases: [EqualityCase] = [
        EqualityCase(a: "", b: "", equal: true),
        EqualityCase(a: "a", b: "a", equal: true),
        EqualityCase(a: key, b: key, equal: true),
        EqualityCase(a: "é", b: "é", equal: true),
        EqualityCase(a: "", b: "a", equal: false),
        EqualityCase(a: "a", b: "", equal: false),
        EqualityCase(a: "a", b: "b", equal: false),
        EqualityCase(a: "1" + key.dropFirst(), b: key, equal: false),
        EqualityCase(a: key.dropLast() + "0", b: key, equal: false),
        EqualityCase(a: String(key.dropLast()), b: key, equal: false),
        EqualityCase(a: key, b: key + "0", equal: false),
        EqualityCase(a: key.uppercased(), b: key, equal: false),
        // Zero padding must not make a prefix equal: the length difference counts.
        EqualityCase(a: "a", b: "a\u{0}", equal: false),
        EqualityCase(a: "\u{0}", b: "", equal: false),
        // Canonically equivalent but different bytes: a key compares by bytes, unlike String ==.
        EqualityCase(a: "\u{E9}", b: "e\u{301}", equal: false),
    ]

    @Test(arguments: equalityCases)
    func constantTimeEquals(_ c: EqualityCase) {
        #expect(Identifiers.constantTimeEquals(c.a, c.b) == c.equal, sourceLocation: c.location)
        #expect(Identifiers.constantTimeEquals(c.b, c.a) == c.equal, sourceLocation: c.location)
    }
}
