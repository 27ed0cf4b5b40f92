import Testing
@testable import OpenCtrlServer

private typealias Raw = RawState

struct StateCodecTests {
    static var keyRecord: InstanceRecord {
        var r = InstanceRecord(id: InstanceRecord.keyRecordID)
        r.url = "0123456789abcdef0123456789abcdef"
        r.config = "fedcba9876543210"
        r.alias = "Master – Zürich"
        return r
    }

    static var fullRecord: InstanceRecord {
        var r = InstanceRecord(id: "a1b2c3d4")
        r.alias = "naïve 東京 🚀"
        r.type = "server"
        r.status = "running"
        r.url = "server://:10101/127.0.0.1:8080?log=debug&tls=1"
        r.config = "{\"k\":\"v\",\"nul\":\"\u{0}\"}"
        r.restart = true
        r.peer = Peer(sid: "sid-é", type: "1", alias: "peer \u{1F600}")
        r.tags = (0..<200).map { Tag(key: padded($0), value: "value \($0) ✓") }
        r.mode = Int32.min
        r.ping = Int32.max
        r.pool = -1
        r.tcps = 0
        r.udps = 42
        r.tcprx = UInt64.max
        r.tcptx = 1 << 63
        r.udprx = 0
        r.udptx = 0x0102_0304_0506_0708
        return r
    }

    @Test func roundTripsEveryField() throws {
        var empty = InstanceRecord(id: "ffffffff")
        empty.restart = false
        var canonical = InstanceRecord(id: "e\u{301}")   // decomposed é: must survive byte for byte
        canonical.tags = [Tag(key: "\u{E9}", value: "e\u{301}")]
        let records = [Self.fullRecord, empty, canonical, Self.keyRecord]
        let decoded = try StateCodec.decode(StateCodec.encode(records))
        let expected = records.sorted { bytesLess($0.id, $1.id) }
        #expect(decoded == expected)
        #expect(decoded.map { Array($0.id.utf8) } == expected.map { Array($0.id.utf8) })
        let decomposed = try #require(decoded.first { $0.id.utf8.elementsEqual("e\u{301}".utf8) })
        #expect(decomposed.tags.map { Array($0.key.utf8) } == [[0xC3, 0xA9]])
        #expect(decomposed.tags.map { Array($0.value.utf8) } == [[0x65, 0xCC, 0x81]])
        #expect(decoded.first?.id == InstanceRecord.keyRecordID)
    }

    @Test func roundTripsNoRecords() throws {
        #expect(try StateCodec.decode(StateCodec.encode([])) == [])
    }

    /// Installers find the API key as the first run of 32 lowercase hex characters in the file.
    @Test func keyRecordComesFirstSoItsKeyIsTheFirstHexRun() throws {
        var decoy = InstanceRecord(id: "00000000")
        decoy.url = "ffffffffffffffffffffffffffffffffffffffff"
        decoy.config = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        let bytes = StateCodec.encode([decoy, Self.fullRecord, Self.keyRecord])
        #expect(firstHexRun(bytes, length: 32) == Self.keyRecord.url)
    }

    @Test func goldenEmptyFile() {
        #expect(StateCodec.encode([]) == Raw.hex("4f43544c53540d0a 0001 0000 00000004 00000000 a3eb455a"))
    }

    /// Bytes and CRC computed outside Swift (Python `struct` and `zlib.crc32`), so this pins the
    /// layout rather than restating the encoder.
    @Test func goldenRecord() throws {
        var r = InstanceRecord(id: "a")
        r.restart = true
        r.tags = [Tag(key: "k", value: "v")]
        r.mode = -1
        r.udps = 7
        r.tcprx = 0x0102_0304_0506_0708
        r.udptx = UInt64.max
        let golden = Raw.hex("""
            4f43544c53540d0a 0001 0000 000000b0 00000001 000000a8
            01 00000001 61 02 00000000 03 00000000 04 00000000 05 00000000 06 00000000
            07 00000001 01 08 00000000 09 00000000 0a 00000000
            0b 0000000e 00000001 00000001 6b 00000001 76
            0c 00000004 ffffffff 0d 00000004 00000000 0e 00000004 00000000 0f 00000004 00000000
            10 00000004 00000007
            11 00000008 0102030405060708 12 00000008 0000000000000000
            13 00000008 0000000000000000 14 00000008 ffffffffffffffff
            8b09e77e
            """.split(separator: "\n").joined(separator: " "))
        #expect(StateCodec.encode([r]) == golden)
        #expect(try StateCodec.decode(golden) == [r])
    }

    @Test func headerFields() {
        let bytes = StateCodec.encode([Self.keyRecord])
        #expect(Array(bytes[0..<8]) == [0x4F, 0x43, 0x54, 0x4C, 0x53, 0x54, 0x0D, 0x0A])
        #expect(Array(bytes[8..<12]) == [0, 1, 0, 0])
        #expect(Array(bytes[12..<16]) == Raw.u32(UInt32(bytes.count - 20)))
        #expect(Array(bytes.suffix(4)) == Raw.u32(CRC32.checksum(bytes.dropLast(4))))
    }

    @Test func encodingDoesNotDependOnInputOrder() {
        let records = [Self.fullRecord, Self.keyRecord, InstanceRecord(id: "0"), InstanceRecord(id: "zz")]
        #expect(StateCodec.encode(records) == StateCodec.encode(records.reversed()))
    }

    struct Case: Sendable {
        var name: String
        var fields: [[UInt8]]
        var expected: InstanceRecord
        var line: UInt = #line
    }

    static let tolerated: [Case] = [
        Case(name: "only an id: every other field takes its zero value",
             fields: [Raw.field(1, "x")], expected: InstanceRecord(id: "x")),
        Case(name: "unknown tag 21 skipped",
             fields: [Raw.field(1, "x"), Raw.field(21, [1, 2, 3])], expected: InstanceRecord(id: "x")),
        Case(name: "unknown tags 21 and 255 skipped between known ones",
             fields: [Raw.field(1, "x"), Raw.field(5, "u"), Raw.field(21, []), Raw.field(255, [0xFF])],
             expected: { var r = InstanceRecord(id: "x"); r.url = "u"; return r }()),
        Case(name: "restart 0 and an empty tags value list",
             fields: [Raw.field(1, "x"), Raw.field(7, [0]), Raw.field(11, Raw.tags([]))],
             expected: InstanceRecord(id: "x")),
        Case(name: "counters without the other numeric tags",
             fields: [Raw.field(1, "x"), Raw.field(13, Raw.u32(0xFFFF_FFFE)), Raw.field(20, Raw.u64(5))],
             expected: { var r = InstanceRecord(id: "x"); r.ping = -2; r.udptx = 5; return r }()),
    ]

    @Test(arguments: tolerated)
    func decodesTolerated(_ c: Case) throws {
        let bytes = Raw.file(Raw.payload([Raw.record(c.fields)]))
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(try StateCodec.decode(bytes) == [c.expected], "\(c.name)", sourceLocation: location)
    }
}

/// Zero-padded to three digits so the keys' byte order is their numeric order.
private func padded(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
}

private func firstHexRun(_ bytes: [UInt8], length: Int) -> String? {
    var run: [UInt8] = []
    for byte in bytes {
        if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) {
            run.append(byte)
            if run.count == length { return String(decoding: run, as: UTF8.self) }
        } else {
            run = []
        }
    }
    return nil
}
