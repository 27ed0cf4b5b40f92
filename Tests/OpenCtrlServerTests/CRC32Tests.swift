import Testing
@testable import OpenCtrlServer

struct CRC32Tests {
    struct Case: Sendable {
        var input: String
        var crc: UInt32
        var line: UInt = #line
    }

    /// Published check values of the zlib CRC-32 (`crc32()` in zlib, Python's `zlib.crc32`).
    static let known: [Case] = [
        Case(input: "", crc: 0),
        Case(input: "a", crc: 0xE8B7_BE43),
        Case(input: "abc", crc: 0x3524_41C2),
        Case(input: "123456789", crc: 0xCBF4_3926),
        Case(input: "The quick brown fox jumps over the lazy dog", crc: 0x414F_A339),
    ]

    @Test(arguments: known)
    func knownValues(_ c: Case) {
        #expect(CRC32.checksum(Array(c.input.utf8)) == c.crc,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    /// The bit-at-a-time definition, to check the sliced tables at every tail length.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func matchesBitwiseDefinitionAtEveryLength() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(CRC32.checksum(bytes) == Self.reference(bytes), "length \(length)")
        }
    }

    @Test func continuesFromAPreviousResult() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        for split in 0...bytes.count {
            let first = CRC32.checksum(bytes[..<split])
            #expect(CRC32.checksum(bytes[split...], initial: first) == 0x414F_A339, "split at \(split)")
        }
    }
}
