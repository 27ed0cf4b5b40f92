import Testing
@testable import OpenCtrlServer

struct EventIDTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: EventID?
        var line: UInt
        var testDescription: String { "line \(line): \(input.debugDescription)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }

        init(_ input: String, _ boot: String, _ sequence: UInt64, line: UInt = #line) {
            (self.input, self.expected, self.line) = (input, EventID(boot: boot, sequence: sequence), line)
        }

        init(_ input: String, line: UInt = #line) {
            (self.input, self.expected, self.line) = (input, nil, line)
        }
    }

    /// `<8 lowercase hex>.<decimal>`, the decimal without sign or leading zeros and within 64 bits.
    static let valid: [Case] = [
        Case("0123abcd.1", "0123abcd", 1),
        Case("deadbeef.42", "deadbeef", 42),
        Case("00000000.0", "00000000", 0),
        Case("ffffffff.9", "ffffffff", 9),
        Case("a1b2c3d4.10", "a1b2c3d4", 10),
        Case("0a0a0a0a.1024", "0a0a0a0a", 1024),
        Case("12345678.4294967296", "12345678", 4_294_967_296),
        Case("abcdef01.9999999999999999999", "abcdef01", 9_999_999_999_999_999_999),
        Case("ffffffff.18446744073709551614", "ffffffff", UInt64.max - 1),
        Case("ffffffff.18446744073709551615", "ffffffff", UInt64.max),
        Case("99999999.100", "99999999", 100),
        Case("cafebabe.1000000", "cafebabe", 1_000_000),
    ]

    static let invalid: [Case] = [
        Case(""),
        Case("."),
        Case("DEADBEEF.1"),
        Case("deadBeef.1"),
        Case("deadbee.1"),
        Case("deadbeef0.1"),
        Case("deadbeef1"),
        Case("deadbeef."),
        Case(".1"),
        Case("deadbeef.01"),
        Case("deadbeef.00"),
        Case("deadbeef.+1"),
        Case("deadbeef.-1"),
        Case("deadbeef.18446744073709551616"),
        Case("deadbeef.99999999999999999999"),
        Case("deadbeef.100000000000000000000"),
        Case(" deadbeef.1"),
        Case("deadbeef.1 "),
        Case("deadbeef. 1"),
        Case("dead beef.1"),
        Case("deadbeeg.1"),
        Case("deadbeef.1a"),
        Case("deadbeef.0x1"),
        Case("deadbeef.1.2"),
        Case("deadbeef,1"),
        Case("deadbeef.１"),
        Case("deadbeéf.1"),
        Case("deadbeef.1\n"),
    ]

    @Test(arguments: valid + invalid)
    func parse(_ c: Case) {
        #expect(EventID(parsing: c.input) == c.expected, sourceLocation: c.location)
    }

    /// What the master sends in `id:` is what a reconnecting browser returns in `Last-Event-ID`.
    @Test(arguments: [0, 1, 9, 10, 99, 100, 123_456_789, UInt64.max - 1, UInt64.max] as [UInt64])
    func textRoundTrips(_ sequence: UInt64) throws {
        let id = EventID(boot: "0123abcd", sequence: sequence)
        #expect(id.text == "0123abcd.\(sequence)")
        #expect(try #require(EventID(parsing: id.text)) == id)
    }
}
