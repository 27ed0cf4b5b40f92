import Testing
@testable import OpenCtrlServer

private typealias Raw = RawState

/// Every way a state file can be damaged or forged must be rejected with its own reason
/// (CONTRACT §21.2); none may decode, and none may trap.
struct StateCodecCorruptionTests {
    static var small: [UInt8] {
        var key = InstanceRecord(id: InstanceRecord.keyRecordID)
        key.url = "0123456789abcdef0123456789abcdef"
        var other = InstanceRecord(id: "a1")
        other.tags = [Tag(key: "k", value: "v")]
        other.restart = true
        other.tcprx = 9
        return StateCodec.encode([key, other])
    }

    @Test func everyTruncationIsRejected() {
        let bytes = Self.small
        for length in 0..<bytes.count {
            #expect(throws: StateDecodeError.self, "length \(length)") {
                try StateCodec.decode(Array(bytes[..<length]))
            }
        }
    }

    @Test func everyTruncationReportsItsLength() throws {
        let bytes = Self.small
        for length in 0..<bytes.count {
            let error = #expect(throws: StateDecodeError.self) { try StateCodec.decode(Array(bytes[..<length])) }
            #expect(error == .truncated(length: length, expected: length < 16 ? 20 : bytes.count), "length \(length)")
        }
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let bytes = Self.small
        let original = try StateCodec.decode(bytes)
        for index in bytes.indices {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[index] ^= 1 << bit
                let result = Result { () throws(StateDecodeError) in try StateCodec.decode(flipped) }
                if case let .success(records) = result {
                    Issue.record("byte \(index) bit \(bit) decoded (\(records == original ? "same" : "different") value)")
                }
            }
        }
    }

    /// Damage behind a valid checksum reaches the record parser: it must throw or decode, never
    /// trap. Seeded, so a failure reproduces.
    @Test func resealedRandomDamageNeverTraps() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let bytes = Self.small
        for round in 0..<5000 {
            var damaged = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                damaged[Int.random(in: 16..<(bytes.count - 4), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if round % 5 == 0 {
                damaged = Raw.file((0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            if let records = try? StateCodec.decode(Raw.resealed(damaged)) {
                #expect(try StateCodec.decode(StateCodec.encode(records)) == records, "round \(round)")
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        let bytes = Self.small
        #expect(throws: StateDecodeError.trailingBytes(length: bytes.count + 1, expected: bytes.count)) {
            try StateCodec.decode(bytes + [0])
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var error: StateDecodeError
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let id = Raw.field(1, "a")
    static func one(_ fields: [[UInt8]]) -> [UInt8] { Raw.file(Raw.payload([Raw.record(fields)])) }

    static let header: [Case] = [
        Case(name: "empty file", bytes: [], error: .truncated(length: 0, expected: 20)),
        Case(name: "gob stream from the Go original",
             bytes: Raw.hex("3fff810301010b496e7374616e63654d617001ff8200010c01ff840000"), error: .badMagic),
        Case(name: "text file", bytes: Array("{\"instances\":[]}".utf8), error: .badMagic),
        Case(name: "magic without CR LF", bytes: Array("OCTLST\n\n".utf8) + Array(Self.small.dropFirst(8)), error: .badMagic),
        Case(name: "short garbage", bytes: [0x00], error: .badMagic),
        Case(name: "version 0", bytes: Raw.file(Raw.payload([]), version: 0), error: .invalidVersion),
        Case(name: "version 2", bytes: Raw.file(Raw.payload([]), version: 2), error: .unsupportedVersion(2)),
        Case(name: "version 0xFFFF", bytes: Raw.file(Raw.payload([]), version: 0xFFFF), error: .unsupportedVersion(0xFFFF)),
        Case(name: "version 2 with a layout we do not know",
             bytes: StateCodec.magic + Raw.u16(2) + [1, 2, 3], error: .unsupportedVersion(2)),
        Case(name: "flag bit 0", bytes: Raw.file(Raw.payload([]), flags: 1), error: .unknownFlags(1)),
        Case(name: "flag bit 15", bytes: Raw.file(Raw.payload([]), flags: 0x8000), error: .unknownFlags(0x8000)),
        Case(name: "payload length too long", bytes: Raw.file(Raw.payload([]), length: 5), error: .truncated(length: 24, expected: 25)),
        Case(name: "payload length too short", bytes: Raw.file(Raw.payload([]), length: 3), error: .trailingBytes(length: 24, expected: 23)),
        Case(name: "payload length at the u32 maximum", bytes: Raw.file(Raw.payload([]), length: .max),
             error: .truncated(length: 24, expected: 20 + Int(UInt32.max))),
        Case(name: "bad CRC", bytes: Raw.file(Raw.payload([]), crc: 0), error: .checksumMismatch),
        Case(name: "CRC of the payload only", bytes: Raw.file(Raw.payload([]), crc: CRC32.checksum(Raw.payload([]))),
             error: .checksumMismatch),
    ]

    static let payload: [Case] = [
        Case(name: "empty payload", bytes: Raw.file([]), error: .missingRecordCount),
        Case(name: "payload of 3 bytes", bytes: Raw.file([0, 0, 0]), error: .missingRecordCount),
        Case(name: "count above the limit", bytes: Raw.file(Raw.payload([], count: 65537)), error: .tooManyRecords(65537)),
        Case(name: "count at the u32 maximum", bytes: Raw.file(Raw.payload([], count: .max)), error: .tooManyRecords(Int(UInt32.max))),
        Case(name: "count larger than the records", bytes: Raw.file(Raw.payload([Raw.record(id: "a")], count: 2)),
             error: .recordCountMismatch(declared: 2, found: 1)),
        Case(name: "count smaller than the records",
             bytes: Raw.file(Raw.payload([Raw.record(id: "a"), Raw.record(id: "b")], count: 1)),
             error: .trailingPayload(declared: 1, bytes: 10)),
        Case(name: "zero count with a record", bytes: Raw.file(Raw.payload([Raw.record(id: "a")], count: 0)),
             error: .trailingPayload(declared: 0, bytes: 10)),
        Case(name: "record length cut short", bytes: Raw.file(Raw.payload([[0, 0]], count: 1)), error: .badRecord(1, .runsPastPayload)),
        Case(name: "record length past the payload", bytes: Raw.file(Raw.payload([Raw.u32(100) + id], count: 1)),
             error: .badRecord(1, .runsPastPayload)),
        Case(name: "duplicate id", bytes: Raw.file(Raw.payload([Raw.record(id: "a"), Raw.record(id: "a")])),
             error: .badRecord(2, .duplicateID)),
        Case(name: "ids out of order", bytes: Raw.file(Raw.payload([Raw.record(id: "b"), Raw.record(id: "a")])),
             error: .badRecord(2, .idOutOfOrder)),
        Case(name: "ids in String order but not byte order",
             bytes: Raw.file(Raw.payload([Raw.record(id: "\u{E9}"), Raw.record(id: "f")])), error: .badRecord(2, .idOutOfOrder)),
    ]

    static let record: [Case] = [
        Case(name: "empty record", bytes: one([]), error: .badRecord(1, .missingID)),
        Case(name: "no id", bytes: one([Raw.field(2, "alias")]), error: .badRecord(1, .missingID)),
        Case(name: "empty id", bytes: one([Raw.field(1, "")]), error: .badRecord(1, .emptyID)),
        Case(name: "tag 0", bytes: one([Raw.field(0, []), id]), error: .badRecord(1, .invalidTag(0))),
        Case(name: "tags out of order", bytes: one([id, Raw.field(5, "u"), Raw.field(3, "t")]),
             error: .badRecord(1, .tagOutOfOrder(3))),
        Case(name: "id after another tag", bytes: one([Raw.field(2, "x"), id]), error: .badRecord(1, .tagOutOfOrder(1))),
        Case(name: "repeated tag", bytes: one([id, Raw.field(5, "u"), Raw.field(5, "u")]), error: .badRecord(1, .tagRepeated(5))),
        Case(name: "repeated unknown tag", bytes: one([id, Raw.field(30, []), Raw.field(30, [])]),
             error: .badRecord(1, .tagRepeated(30))),
        Case(name: "unknown tags out of order", bytes: one([id, Raw.field(40, []), Raw.field(30, [])]),
             error: .badRecord(1, .tagOutOfOrder(30))),
        Case(name: "field header cut short", bytes: one([id, [5, 0, 0]]), error: .badRecord(1, .fieldHeaderPastRecord)),
        Case(name: "value past the record", bytes: one([id, [5] + Raw.u32(10) + [0x61]]),
             error: .badRecord(1, .runsPastContainer(.tag(5)))),
        Case(name: "restart empty", bytes: one([id, Raw.field(7, [])]), error: .badRecord(1, .wrongLength(tag: 7, length: 0))),
        Case(name: "restart 2 bytes", bytes: one([id, Raw.field(7, [0, 1])]), error: .badRecord(1, .wrongLength(tag: 7, length: 2))),
        Case(name: "restart value 2", bytes: one([id, Raw.field(7, [2])]), error: .badRecord(1, .invalidRestart(2))),
        Case(name: "mode in 8 bytes", bytes: one([id, Raw.field(12, Raw.u64(1))]), error: .badRecord(1, .wrongLength(tag: 12, length: 8))),
        Case(name: "udps in 3 bytes", bytes: one([id, Raw.field(16, [0, 0, 1])]), error: .badRecord(1, .wrongLength(tag: 16, length: 3))),
        Case(name: "tcprx in 4 bytes", bytes: one([id, Raw.field(17, Raw.u32(1))]), error: .badRecord(1, .wrongLength(tag: 17, length: 4))),
        Case(name: "udptx in 9 bytes", bytes: one([id, Raw.field(20, Raw.u64(1) + [0])]),
             error: .badRecord(1, .wrongLength(tag: 20, length: 9))),
        Case(name: "invalid UTF-8 in id", bytes: one([Raw.field(1, [0x61, 0xFF])]), error: .badRecord(1, .invalidUTF8(.tag(1)))),
        Case(name: "overlong encoding in url", bytes: one([id, Raw.field(5, [0xC0, 0xAF])]), error: .badRecord(1, .invalidUTF8(.tag(5)))),
        Case(name: "surrogate in config", bytes: one([id, Raw.field(6, [0xED, 0xA0, 0x80])]),
             error: .badRecord(1, .invalidUTF8(.tag(6)))),
        Case(name: "cut sequence in peer alias", bytes: one([id, Raw.field(10, [0xE6, 0x9D])]),
             error: .badRecord(1, .invalidUTF8(.tag(10)))),
        Case(name: "second record bad", bytes: Raw.file(Raw.payload([Raw.record(id: "a"), Raw.record([Raw.field(1, "b"), Raw.field(7, [9])])])),
             error: .badRecord(2, .invalidRestart(9))),
    ]

    static let tags: [Case] = [
        Case(name: "tags value shorter than its count", bytes: one([id, Raw.field(11, [0, 0])]),
             error: .badRecord(1, .wrongLength(tag: 11, length: 2))),
        Case(name: "more tags than the limit", bytes: one([id, Raw.field(11, Raw.u32(4097))]), error: .badRecord(1, .tooManyTags(4097))),
        Case(name: "tag count larger than entries", bytes: one([id, Raw.field(11, Raw.tags([([0x61], [])], count: 2))]),
             error: .badRecord(1, .runsPastContainer(.tagKey(entry: 2)))),
        Case(name: "tag key past the value", bytes: one([id, Raw.field(11, Raw.u32(1) + Raw.u32(5) + [0x61])]),
             error: .badRecord(1, .runsPastContainer(.tagKey(entry: 1)))),
        Case(name: "tag value length missing", bytes: one([id, Raw.field(11, Raw.u32(1) + Raw.u32(1) + [0x61])]),
             error: .badRecord(1, .runsPastContainer(.tagValue(entry: 1)))),
        Case(name: "tag value past the value", bytes: one([id, Raw.field(11, Raw.u32(1) + Raw.u32(1) + [0x61] + Raw.u32(2) + [0x62])]),
             error: .badRecord(1, .runsPastContainer(.tagValue(entry: 1)))),
        Case(name: "bytes after the last tag", bytes: one([id, Raw.field(11, Raw.tags([([0x61], [0x62])]) + [0, 0])]),
             error: .badRecord(1, .tagsTrailingBytes(2))),
        Case(name: "tag keys out of order", bytes: one([id, Raw.field(11, Raw.tags([([0x62], []), ([0x61], [])]))]),
             error: .badRecord(1, .tagKeyOutOfOrder(entry: 2))),
        Case(name: "duplicate tag key", bytes: one([id, Raw.field(11, Raw.tags([([0x61], []), ([0x62], []), ([0x62], [])]))]),
             error: .badRecord(1, .duplicateTagKey(entry: 3))),
        Case(name: "invalid UTF-8 in a tag key", bytes: one([id, Raw.field(11, Raw.tags([([0x80], [])]))]),
             error: .badRecord(1, .invalidUTF8(.tagKey(entry: 1)))),
        Case(name: "invalid UTF-8 in a tag value", bytes: one([id, Raw.field(11, Raw.tags([([0x61], []), ([0x62], [0xFE])]))]),
             error: .badRecord(1, .invalidUTF8(.tagValue(entry: 2)))),
    ]

    @Test(arguments: header + payload + record + tags)
    func rejects(_ c: Case) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(throws: c.error, "\(c.name)", sourceLocation: location) { try StateCodec.decode(c.bytes) }
    }

    @Test func invalidUTF8IsCaughtEvenWithAValidChecksum() throws {
        var record = InstanceRecord(id: "a")
        record.alias = "abc"
        var bytes = StateCodec.encode([record])
        let alias = try #require(bytes.firstRange(of: Array("abc".utf8)))
        bytes[alias.lowerBound + 1] = 0xFF
        #expect(throws: StateDecodeError.checksumMismatch) { try StateCodec.decode(bytes) }
        #expect(throws: StateDecodeError.badRecord(1, .invalidUTF8(.tag(2)))) { try StateCodec.decode(Raw.resealed(bytes)) }
    }

    @Test func stringLimit() throws {
        let limit = StateCodec.maxStringBytes
        let atLimit = Self.one([Self.id, Raw.field(5, [UInt8](repeating: 0x61, count: limit))])
        #expect(try StateCodec.decode(atLimit).first?.url.utf8.count == limit)
        let over = Self.one([Self.id, Raw.field(5, [UInt8](repeating: 0x61, count: limit + 1))])
        #expect(throws: StateDecodeError.badRecord(1, .stringTooLong(.tag(5)))) { try StateCodec.decode(over) }
        let overTag = Self.one([Self.id, Raw.field(11, Raw.tags([([0x61], [UInt8](repeating: 0x61, count: limit + 1))]))])
        #expect(throws: StateDecodeError.badRecord(1, .stringTooLong(.tagValue(entry: 1)))) { try StateCodec.decode(overTag) }
    }

    @Test func countLimits() throws {
        let ids = (0..<StateCodec.maxRecords).map { String(100_000 + $0) }
        let full = Raw.file(Raw.payload(ids.map { Raw.record(id: $0) }))
        #expect(try StateCodec.decode(full).map(\.id) == ids)
        var tagged = InstanceRecord(id: "a")
        tagged.tags = (0..<StateCodec.maxTags).map { Tag(key: String(10_000 + $0), value: "") }
        #expect(try StateCodec.decode(StateCodec.encode([tagged])) == [tagged])
    }

    @Test func fileSizeLimit() {
        let huge = StateCodec.magic + [UInt8](repeating: 0, count: StateCodec.maxFileSize + 1 - 8)
        #expect(throws: StateDecodeError.fileTooLarge(StateCodec.maxFileSize + 1)) { try StateCodec.decode(huge) }
    }

    struct Reason: Sendable {
        var error: StateDecodeError
        var text: String
        var line: UInt = #line
    }

    /// Reasons are read by operators in the startup error, so their wording is part of the output.
    static let reasons: [Reason] = [
        Reason(error: .badMagic, text: "not an OpenCtrl state file (gob data from the Go original?)"),
        Reason(error: .checksumMismatch, text: "checksum mismatch"),
        Reason(error: .truncated(length: 10, expected: 20), text: "truncated file (10 of 20 bytes)"),
        Reason(error: .trailingBytes(length: 30, expected: 24), text: "file length 30 exceeds the 24 bytes its header announces"),
        Reason(error: .unsupportedVersion(2), text: "unsupported state format version 2"),
        Reason(error: .invalidVersion, text: "invalid format version 0"),
        Reason(error: .unknownFlags(0x10), text: "unknown flags 0x0010"),
        Reason(error: .tooManyRecords(70000), text: "too many records (70000, limit 65536)"),
        Reason(error: .recordCountMismatch(declared: 3, found: 2), text: "record count 3 does not match payload (2 records found)"),
        Reason(error: .badRecord(3, .tagOutOfOrder(5)), text: "bad record 3: tag 5 out of order"),
        Reason(error: .badRecord(1, .wrongLength(tag: 12, length: 3)), text: "bad record 1: tag 12 has length 3, expected 4"),
        Reason(error: .badRecord(1, .wrongLength(tag: 7, length: 0)), text: "bad record 1: tag 7 has length 0, expected 1"),
        Reason(error: .badRecord(1, .wrongLength(tag: 18, length: 4)), text: "bad record 1: tag 18 has length 4, expected 8"),
        Reason(error: .badRecord(2, .invalidUTF8(.tagKey(entry: 4))), text: "bad record 2: tag entry 4 key is not valid UTF-8"),
        Reason(error: .badRecord(2, .runsPastContainer(.tagValue(entry: 1))), text: "bad record 2: tag entry 1 value runs past tag 11"),
        Reason(error: .badRecord(2, .runsPastContainer(.tag(6))), text: "bad record 2: tag 6 runs past the record"),
        Reason(error: .badRecord(4, .duplicateID), text: "bad record 4: duplicate id"),
    ]

    @Test(arguments: reasons)
    func reasonText(_ r: Reason) {
        #expect(r.error.description == r.text,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(r.line), column: 1))
    }
}

extension StateCodecCorruptionTests {
    /// A small deterministic generator (Vigna's SplitMix64) for reproducible fuzzing.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
