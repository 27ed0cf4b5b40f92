import Testing
@testable import OpenCtrlServer

private typealias Raw = RawState

/// The change log's byte format (`ChangeLog`): what the writer emits must decode to exactly what
/// it was given, replay must equal applying the changes in order, and damage must never decode
/// to a change that was not written. Torn tails are tolerated only where a crash can leave them:
/// after the last intact frame.
struct ChangeLogCodecTests {
    static let base = ChangeLogBase(stateFile: StateCodec.encode(Fixture.generation(2)))
    static let threeFrames = LogFixture.log(over: StateCodec.encode(Fixture.generation(2)), LogFixture.frames)

    // MARK: Round trip

    /// The header layout from the type's documentation, built by hand.
    @Test func headerLayout() throws {
        let base = ChangeLogBase(length: 0x0102_0304, crc: 0xA0B0_C0D0)
        let body: [UInt8] = Array("OCTLLOG\n".utf8) + [0, 1, 0, 0, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0]
        let header = ChangeLog.header(base: base)
        #expect(header == body + Raw.u32(CRC32.checksum(body)))
        #expect(header.count == ChangeLog.headerSize)
        #expect(try ChangeLog.base(of: header) == base)
        #expect(try ChangeLog.decode(header) == ChangeLogContents(base: base, frames: [], tornTailBytes: 0))
    }

    /// The base names the state file by its length and trailer CRC.
    @Test func baseOfAStateFile() {
        let state = StateCodec.encode(Fixture.generation(3))
        let trailer = state.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(ChangeLogBase(stateFile: state) == ChangeLogBase(length: UInt32(state.count), crc: trailer))
        #expect(ChangeLogBase(stateFile: state) != ChangeLogBase(stateFile: StateCodec.encode(Fixture.generation(4))))
    }

    /// A remove is `u8 2` and a length-prefixed id; a put is `u8 1` and the record exactly as
    /// the state file stores it.
    @Test func frameLayout() throws {
        let payload: [UInt8] = [0, 0, 0, 1, 2, 0, 0, 0, 2, 0x61, 0x62]
        #expect(ChangeLog.frame([.remove(id: "ab")]) == Raw.u32(11) + Raw.u32(~11) + payload + Raw.u32(CRC32.checksum(payload)))

        let record = LogFixture.patched
        let state = StateCodec.encode([record])
        let storedRecord = Array(state[(StateCodec.headerSize + 4)..<(state.count - 4)])
        let frame = ChangeLog.frame([.put(record)])
        #expect(Array(frame[8..<(frame.count - 4)]) == Raw.u32(1) + [1] + storedRecord)
    }

    @Test func threeFramesRoundTrip() throws {
        let contents = try ChangeLog.decode(Self.threeFrames)
        #expect(contents == ChangeLogContents(base: Self.base, frames: LogFixture.frames, tornTailBytes: 0))
        #expect(try ChangeLog.base(of: Self.threeFrames) == Self.base)
    }

    /// Many frames of every shape (seeded, so a failure reproduces), including ids and strings
    /// outside ASCII, the largest counters, and frames with many changes.
    @Test func manyFramesRoundTrip() throws {
        var rng = StateCodecCorruptionTests.SplitMix64(seed: 0x106)
        let ids = ["a1", "b2", "c3", "\u{E9}t\u{E9}", "\u{1F600}", InstanceRecord.keyRecordID]
        var frames: [[StateChange]] = []
        for n in 0..<300 {
            frames.append((0..<Int.random(in: 1...6, using: &rng)).map { i -> StateChange in
                let id = ids.randomElement(using: &rng)!
                if Bool.random(using: &rng) { return .remove(id: id) }
                var record = LogFixture.instance(id, "frame \(n) change \(i) \u{2603}", tcprx: UInt64.random(in: 0...UInt64.max, using: &rng))
                record.mode = Int32.random(in: Int32.min...Int32.max, using: &rng)
                record.restart = Bool.random(using: &rng)
                record.peer = Peer(sid: "s\(n)", type: "t", alias: "")
                return .put(record)
            })
        }
        let bytes = ChangeLog.header(base: Self.base) + frames.flatMap { ChangeLog.frame($0) }
        #expect(try ChangeLog.decode(bytes) == ChangeLogContents(base: Self.base, frames: frames, tornTailBytes: 0))
        let start = Fixture.generation(2)
        #expect(ChangeLog.replay(frames, over: start) == LogFixture.applying(frames, over: start))
    }

    // MARK: Replay

    @Test func replayOfTheFixtureFrames() {
        let replayed = ChangeLog.replay(LogFixture.frames, over: Fixture.generation(2))
        #expect(replayed == LogFixture.replayedOverGeneration2)
        #expect(replayed == LogFixture.applying(LogFixture.frames, over: Fixture.generation(2)))
        #expect(ChangeLog.replay([], over: Fixture.generation(2)) == Fixture.generation(2))
    }

    /// Order matters only between changes to one id, and the last one wins, across frames and
    /// within one frame; removing an id that does not exist is a no-op.
    @Test func replayOrder() {
        let a = LogFixture.instance("x", "a"), b = LogFixture.instance("x", "b")
        #expect(ChangeLog.replay([[.put(a), .put(b)]], over: []) == [b])
        #expect(ChangeLog.replay([[.put(b)], [.put(a)]], over: []) == [a])
        #expect(ChangeLog.replay([[.put(a)], [.remove(id: "x")]], over: []) == [])
        #expect(ChangeLog.replay([[.remove(id: "x"), .put(a)]], over: [b]) == [a])
        #expect(ChangeLog.replay([[.remove(id: "nobody")]], over: [a]) == [a])
    }

    /// Output is in the state file's order, ascending id bytes, whatever the input order; the
    /// pair `e\u{301}x` / `\u{E9}a` sorts the other way round as Swift strings.
    @Test func replayOutputIsSortedByIDBytes() {
        let ids = ["zz", "\u{E9}a", "e\u{301}x", "A", InstanceRecord.keyRecordID, "a1b2c3d4", "0"]
        let replayed = ChangeLog.replay([ids.map { .put(InstanceRecord(id: $0)) }], over: [InstanceRecord(id: "m")])
        #expect(replayed.map(\.id) == [InstanceRecord.keyRecordID, "0", "A", "a1b2c3d4", "e\u{301}x", "m", "zz", "\u{E9}a"])
        #expect(replayed == StateCodec.decodeOrNil(StateCodec.encode(replayed)))
    }

    // MARK: Header errors

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var error: ChangeLogError
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(name: "empty", bytes: [], error: .truncatedHeader(length: 0)),
        HeaderCase(name: "magic only", bytes: ChangeLog.magic, error: .truncatedHeader(length: 8)),
        HeaderCase(name: "one byte short", bytes: Array(LogFixture.rawHeader().dropLast()), error: .truncatedHeader(length: 23)),
        HeaderCase(name: "a state file", bytes: StateCodec.encode(Fixture.generation(1)), error: .badMagic),
        HeaderCase(name: "gob data", bytes: Raw.hex("3fff810301010b496e7374616e63654d617001ff8200010c01ff840000"), error: .badMagic),
        HeaderCase(name: "magic with CR LF", bytes: Array("OCTLLOG\r\n".utf8) + LogFixture.rawHeader().dropFirst(8), error: .badMagic),
        HeaderCase(name: "wrong first byte, short", bytes: [0x00], error: .badMagic),
        HeaderCase(name: "zeros", bytes: [UInt8](repeating: 0, count: 24), error: .badMagic),
        HeaderCase(name: "header CRC wrong", bytes: LogFixture.rawHeader(crc: 0), error: .headerChecksumMismatch),
        HeaderCase(name: "header CRC of the magic only", bytes: LogFixture.rawHeader(crc: CRC32.checksum(ChangeLog.magic)),
                   error: .headerChecksumMismatch),
        HeaderCase(name: "version 0", bytes: LogFixture.rawHeader(version: 0), error: .invalidVersion),
        HeaderCase(name: "version 2", bytes: LogFixture.rawHeader(version: 2), error: .unsupportedVersion(2)),
        HeaderCase(name: "version 2 with frames we cannot read", bytes: LogFixture.rawHeader(version: 2) + [9, 9, 9],
                   error: .unsupportedVersion(2)),
        HeaderCase(name: "version 0xFFFF", bytes: LogFixture.rawHeader(version: 0xFFFF), error: .unsupportedVersion(0xFFFF)),
        HeaderCase(name: "flag bit 0", bytes: LogFixture.rawHeader(flags: 1), error: .unknownFlags(1)),
        HeaderCase(name: "flag bit 15", bytes: LogFixture.rawHeader(flags: 0x8000), error: .unknownFlags(0x8000)),
    ]

    @Test(arguments: headerCases)
    func headerError(_ c: HeaderCase) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(throws: c.error, sourceLocation: location) { try ChangeLog.base(of: c.bytes) }
        #expect(throws: c.error, sourceLocation: location) { try ChangeLog.decode(c.bytes) }
    }

    @Test func fileSizeLimit() {
        let huge = ChangeLog.header(base: Self.base) + [UInt8](repeating: 0, count: ChangeLog.maxFileSize + 1 - ChangeLog.headerSize)
        #expect(throws: ChangeLogError.fileTooLarge(ChangeLog.maxFileSize + 1)) { try ChangeLog.decode(huge) }
    }

    struct Reason: Sendable {
        var error: ChangeLogError
        var text: String
        var line: UInt = #line
    }

    /// The reasons operators read after `state log unreadable: <path>:`.
    static let reasons: [Reason] = [
        Reason(error: .badMagic, text: "not an OpenCtrl change log"),
        Reason(error: .truncatedHeader(length: 7), text: "truncated header (7 of 24 bytes)"),
        Reason(error: .headerChecksumMismatch, text: "header checksum mismatch"),
        Reason(error: .invalidVersion, text: "invalid format version 0"),
        Reason(error: .unsupportedVersion(3), text: "unsupported change log format version 3"),
        Reason(error: .unknownFlags(16), text: "unknown flags 16"),
        Reason(error: .fileTooLarge(70_000_000), text: "file too large (70000000 bytes, limit 67108864)"),
        Reason(error: .damagedFrame(index: 2, offset: 100, intactAt: 180),
               text: "entry 2 at byte 100 is damaged and an intact entry follows at byte 180"),
        Reason(error: .badFrame(index: 1, offset: 24, .countMismatch(declared: 3, found: 1)),
               text: "bad entry 1 at byte 24: change count 3 does not match (1 found)"),
        Reason(error: .badFrame(index: 4, offset: 90, .unknownKind(2, 7)), text: "bad entry 4 at byte 90: change 2 has unknown kind 7"),
        Reason(error: .badFrame(index: 1, offset: 24, .change(1, .emptyID)), text: "bad entry 1 at byte 24: change 1: empty id"),
        Reason(error: .badFrame(index: 1, offset: 24, .trailingBytes(3)), text: "bad entry 1 at byte 24: 3 bytes after the last change"),
        Reason(error: .badFrame(index: 1, offset: 24, .noChanges), text: "bad entry 1 at byte 24: no changes"),
    ]

    @Test(arguments: reasons)
    func reasonText(_ r: Reason) {
        #expect(r.error.description == r.text,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(r.line), column: 1))
    }
}

/// Damage, after `StateCodecCorruptionTests`: every truncation and every single-bit flip of a
/// three-frame log, tails a crash can leave, and checksummed frames we never write.
extension ChangeLogCodecTests {
    static let offsets = LogFixture.offsets(LogFixture.frames)

    /// The frame a byte belongs to (1-based), 0 for the header.
    static func frameIndex(of byte: Int) -> Int { offsets.lastIndex { $0 <= byte }.map { $0 + 1 } ?? 0 }

    /// A power loss can cut an append anywhere: the whole frames before the cut are the log,
    /// the rest is a torn tail. Inside the header (written before the log had its name) the
    /// cut is damage.
    @Test func everyTruncationIsACleanPrefixOrAHeaderError() throws {
        let bytes = Self.threeFrames
        for length in 0..<bytes.count {
            let cut = Array(bytes[..<length])
            if length < ChangeLog.headerSize {
                #expect(throws: ChangeLogError.truncatedHeader(length: length), "length \(length)") { try ChangeLog.decode(cut) }
                continue
            }
            let whole = Self.offsets.lastIndex { $0 <= length }!
            let expected = ChangeLogContents(base: Self.base, frames: Array(LogFixture.frames.prefix(whole)),
                                             tornTailBytes: length - Self.offsets[whole])
            #expect(try ChangeLog.decode(cut) == expected, "length \(length)")
        }
    }

    /// CRC-32 catches every single-bit error, so the flipped frame is never read. Before the
    /// last frame the flip is damage in front of an acknowledged frame: refused, naming both
    /// positions. In the last frame it looks like a torn append: dropped, and only it.
    @Test func everySingleBitFlip() throws {
        let bytes = Self.threeFrames
        for index in bytes.indices {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[index] ^= 1 << bit
                let result = Result { () throws(ChangeLogError) in try ChangeLog.decode(flipped) }
                let frame = Self.frameIndex(of: index)
                let expected: Result<ChangeLogContents, ChangeLogError> = switch frame {
                case 0 where index < ChangeLog.magic.count: .failure(.badMagic)
                case 0: .failure(.headerChecksumMismatch)
                case LogFixture.frames.count:
                    .success(ChangeLogContents(base: Self.base, frames: Array(LogFixture.frames.prefix(frame - 1)),
                                               tornTailBytes: bytes.count - Self.offsets[frame - 1]))
                default:
                    .failure(.damagedFrame(index: frame, offset: Self.offsets[frame - 1], intactAt: Self.offsets[frame]))
                }
                #expect(result == expected, "byte \(index) bit \(bit)")
            }
        }
    }

    /// The size of an append reached the disk but not its data, or only some of its sectors.
    @Test func zeroFilledAndGarbageTails() throws {
        let bytes = Self.threeFrames
        let last = Self.offsets[2]
        for count in [1, 4, 11, 12, 512] {
            let zeros = try ChangeLog.decode(bytes + [UInt8](repeating: 0, count: count))
            #expect(zeros == ChangeLogContents(base: Self.base, frames: LogFixture.frames, tornTailBytes: count), "\(count) zeros")
        }
        var rng = StateCodecCorruptionTests.SplitMix64(seed: 0x7A11)
        for count in [1, 7, 100, 4096] {
            let garbage = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let decoded = try ChangeLog.decode(bytes + garbage)
            #expect(decoded == ChangeLogContents(base: Self.base, frames: LogFixture.frames, tornTailBytes: count), "\(count) garbage")
        }
        let lastZeroed = Array(bytes[..<last]) + [UInt8](repeating: 0, count: bytes.count - last)
        #expect(try ChangeLog.decode(lastZeroed)
            == ChangeLogContents(base: Self.base, frames: Array(LogFixture.frames.prefix(2)), tornTailBytes: bytes.count - last))
        var middleZeroed = bytes
        middleZeroed.replaceSubrange(Self.offsets[1]..<last, with: [UInt8](repeating: 0, count: last - Self.offsets[1]))
        #expect(throws: ChangeLogError.damagedFrame(index: 2, offset: Self.offsets[1], intactAt: last)) { try ChangeLog.decode(middleZeroed) }
        // A cut append followed by a whole one: the whole one was acknowledged, so no torn tail.
        let cutThenWhole = Array(bytes[..<(Self.offsets[1] + 9)]) + ChangeLog.frame(LogFixture.frames[2])
        #expect(throws: ChangeLogError.damagedFrame(index: 2, offset: Self.offsets[1], intactAt: Self.offsets[1] + 9)) {
            try ChangeLog.decode(cutThenWhole)
        }
        // Length fields that promise more than the file holds are a torn tail, not a crash.
        let huge = bytes + Raw.u32(.max) + Raw.u32(0) + [1, 2, 3]
        #expect(try ChangeLog.decode(huge).tornTailBytes == 11)
        // A checksummed frame shorter than any we write is not a frame.
        let tiny = bytes + LogFixture.rawFrame(Raw.u32(1))
        #expect(try ChangeLog.decode(tiny) == ChangeLogContents(base: Self.base, frames: LogFixture.frames, tornTailBytes: 16))
    }

    struct FrameCase: Sendable, CustomTestStringConvertible {
        var name: String
        var payload: [UInt8]
        var error: ChangeLogFrameError
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let put = Raw.record(id: "a")
    static func remove(_ id: [UInt8]) -> [UInt8] { [2] + Raw.u32(UInt32(id.count)) + id }

    /// A frame that passed its checksum but does not hold what we write is not a torn append
    /// (a torn append fails its checksum): refused, wherever it is.
    static let frameCases: [FrameCase] = [
        FrameCase(name: "count 0", payload: Raw.u32(0) + [1], error: .noChanges),
        FrameCase(name: "unknown kind 3", payload: Raw.u32(1) + [3] + put, error: .unknownKind(1, 3)),
        FrameCase(name: "unknown kind 0 second", payload: Raw.u32(2) + [1] + put + [0], error: .unknownKind(2, 0)),
        FrameCase(name: "count larger than the changes", payload: Raw.u32(2) + [1] + put, error: .countMismatch(declared: 2, found: 1)),
        FrameCase(name: "count smaller than the changes", payload: Raw.u32(1) + [1] + put + remove([0x62]), error: .trailingBytes(6)),
        FrameCase(name: "trailing byte", payload: Raw.u32(1) + remove([0x62]) + [0], error: .trailingBytes(1)),
        FrameCase(name: "empty id in a remove", payload: Raw.u32(1) + remove([]), error: .change(1, .emptyID)),
        FrameCase(name: "invalid UTF-8 in a remove", payload: Raw.u32(1) + remove([0x61, 0xFF]), error: .change(1, .invalidUTF8(.tag(1)))),
        FrameCase(name: "remove id past the payload", payload: Raw.u32(1) + [2] + Raw.u32(9) + [0x61], error: .change(1, .runsPastPayload)),
        FrameCase(name: "put past the payload", payload: Raw.u32(1) + [1] + Raw.u32(99) + [0], error: .change(1, .runsPastPayload)),
        FrameCase(name: "put with an empty id", payload: Raw.u32(1) + [1] + Raw.record([Raw.field(1, "")]), error: .change(1, .emptyID)),
        FrameCase(name: "put without an id", payload: Raw.u32(1) + [1] + Raw.record([Raw.field(2, "x")]), error: .change(1, .missingID)),
        FrameCase(name: "put with invalid UTF-8", payload: Raw.u32(2) + remove([0x62]) + [1] + Raw.record([Raw.field(1, "a"), Raw.field(2, [0xC0, 0xAF])]),
                  error: .change(2, .invalidUTF8(.tag(2)))),
        FrameCase(name: "put with a bad restart", payload: Raw.u32(1) + [1] + Raw.record([Raw.field(1, "a"), Raw.field(7, [2])]),
                  error: .change(1, .invalidRestart(2))),
    ]

    @Test(arguments: frameCases)
    func checksummedButMalformedFrame(_ c: FrameCase) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        let header = ChangeLog.header(base: Self.base)
        let first = ChangeLog.frame(LogFixture.frames[0])
        #expect(throws: ChangeLogError.badFrame(index: 1, offset: 24, c.error), sourceLocation: location) {
            try ChangeLog.decode(header + LogFixture.rawFrame(c.payload))
        }
        #expect(throws: ChangeLogError.badFrame(index: 2, offset: 24 + first.count, c.error), sourceLocation: location) {
            try ChangeLog.decode(header + first + LogFixture.rawFrame(c.payload) + first)
        }
    }

    /// Random damage behind valid checksums reaches the change parser: it throws or decodes,
    /// never traps, and what decodes re-encodes to a log that decodes the same. Seeded.
    @Test func resealedRandomDamageNeverTraps() throws {
        var rng = StateCodecCorruptionTests.SplitMix64(seed: 0x106F)
        let header = ChangeLog.header(base: Self.base)
        let payloads = LogFixture.frames.map { Array(ChangeLog.frame($0).dropFirst(8).dropLast(4)) }
        for round in 0..<3000 {
            var payload = payloads[round % payloads.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                payload[Int.random(in: 0..<payload.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            guard let contents = try? ChangeLog.decode(header + LogFixture.rawFrame(payload)) else { continue }
            let again = header + contents.frames.flatMap { ChangeLog.frame($0) }
            #expect(try ChangeLog.decode(again) == contents, "round \(round)")
        }
    }
}

extension StateCodec {
    static func decodeOrNil(_ bytes: [UInt8]) -> [InstanceRecord]? { try? decode(bytes) }
}
