/// One change the log carries: a record's whole image after the change, or its removal. Whole
/// images make replay idempotent and order the only thing that matters.
public enum StateChange: Equatable, Sendable {
    case put(InstanceRecord)
    case remove(id: String)
}

/// Which state file a change log extends: that file's length and trailer CRC. A log is replayed
/// only over the file it names, so a log left behind by an interrupted fold (whose changes the
/// newer primary already holds) is never applied twice.
public struct ChangeLogBase: Equatable, Sendable {
    public var length: UInt32
    public var crc: UInt32

    public init(length: UInt32, crc: UInt32) {
        self.length = length
        self.crc = crc
    }

    /// The base of an encoded state file (at least its trailer long).
    public init(stateFile bytes: [UInt8]) {
        var trailer = StateCodec.Reader(bytes, window: max(0, bytes.count - 4)..<bytes.count)
        self.init(length: UInt32(truncatingIfNeeded: bytes.count), crc: trailer.u32() ?? 0)
    }
}

/// What a change log held, replayable over its base.
public struct ChangeLogContents: Equatable, Sendable {
    public var base: ChangeLogBase
    /// One entry per group commit, in append order.
    public var frames: [[StateChange]]
    /// Bytes after the last whole frame: the one append that was under way when the machine
    /// stopped. It was never fsynced, so never acknowledged.
    public var tornTailBytes: Int
}

/// The append-only change log beside the state file (`openctrl.gob.log`), so an acknowledged
/// change costs one append and one `fdatasync` instead of the whole §21.4 procedure.
///
/// Layout, integers big-endian: a 24-byte header (magic `OCTLLOG` LF, `u16` version 1, `u16`
/// flags 0, the base's `u32` length and `u32` CRC, then the `u32` CRC-32 of those 20 bytes),
/// then frames. A frame is one group commit: `u32` payload length L, `u32` ~L, the payload, and
/// the `u32` CRC-32 of the payload. The payload is a `u32` change count (at least 1) and the
/// changes: `u8` 1 and a record exactly as the state file stores it (`u32` length and tagged
/// fields), or `u8` 2 and a `u32`-length-prefixed id.
///
/// Only the frame being appended when the machine stopped can be incomplete: every earlier one
/// was fdatasynced before its requests were answered. So bytes after the last whole frame are a
/// torn tail only when no intact frame follows them; damage followed by intact frames means
/// acknowledged changes cannot be read, and the log is refused rather than cut short.
public enum ChangeLog {
    public static let magic: [UInt8] = [0x4F, 0x43, 0x54, 0x4C, 0x4C, 0x4F, 0x47, 0x0A]
    public static let formatVersion: UInt16 = 1
    public static let headerSize = 24
    /// A frame's length, its complement and its CRC.
    public static let frameOverhead = 12
    /// The same bound as the state file: a log is folded long before it gets near it.
    public static let maxFileSize = StateCodec.maxFileSize
    static let putKind: UInt8 = 1
    static let removeKind: UInt8 = 2
    /// A count and one change's kind byte: no frame we write is shorter.
    static let minimumPayload = 5

    // MARK: Encoding

    public static func header(base: ChangeLogBase) -> [UInt8] {
        var out = magic
        out.reserveCapacity(headerSize)
        out.appendBigEndian(formatVersion)
        out.appendBigEndian(UInt16(0))
        out.appendBigEndian(base.length)
        out.appendBigEndian(base.crc)
        out.appendBigEndian(CRC32.checksum(out))
        return out
    }

    public static func frame(_ changes: [StateChange]) -> [UInt8] {
        precondition(!changes.isEmpty, "a frame carries at least one change")
        var payload: [UInt8] = []
        payload.appendBigEndian(UInt32(changes.count))
        for change in changes {
            switch change {
            case .put(let record):
                payload.append(putKind)
                StateCodec.encodeRecord(record, into: &payload)
            case .remove(let id):
                payload.append(removeKind)
                payload.appendBigEndian(UInt32(id.utf8.count))
                payload.append(contentsOf: id.utf8)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + frameOverhead)
        out.appendBigEndian(UInt32(payload.count))
        out.appendBigEndian(~UInt32(payload.count))
        out += payload
        out.appendBigEndian(CRC32.checksum(payload))
        return out
    }

    // MARK: Decoding

    /// The header alone: which file the log extends. Checked before the frames so a log that
    /// extends another file can be set aside whatever its frames hold.
    public static func base(of bytes: [UInt8]) throws(ChangeLogError) -> ChangeLogBase {
        let count = bytes.count
        if count > maxFileSize { throw .fileTooLarge(count) }
        let magicLength = min(count, magic.count)
        guard bytes[..<magicLength].elementsEqual(magic[..<magicLength]) else { throw .badMagic }
        guard count >= headerSize else { throw .truncatedHeader(length: count) }
        var header = StateCodec.Reader(bytes, window: magic.count..<headerSize)
        let version = header.u16()!, flags = header.u16()!
        let base = ChangeLogBase(length: header.u32()!, crc: header.u32()!)
        guard header.u32()! == CRC32.checksum(bytes[..<(headerSize - 4)]) else { throw .headerChecksumMismatch }
        if version == 0 { throw .invalidVersion }
        if version > formatVersion { throw .unsupportedVersion(version) }
        if flags != 0 { throw .unknownFlags(flags) }
        return base
    }

    public static func decode(_ bytes: [UInt8]) throws(ChangeLogError) -> ChangeLogContents {
        let base = try base(of: bytes)
        let count = bytes.count
        var frames: [[StateChange]] = []
        var at = headerSize
        while let payload = intactFrame(bytes, at: at) {
            do throws(ChangeLogFrameError) {
                frames.append(try decodePayload(StateCodec.Reader(bytes, window: payload)))
            } catch {
                throw .badFrame(index: frames.count + 1, offset: at, error)
            }
            at = payload.upperBound + 4
        }
        if at < count, let next = ((at + 1)..<count).first(where: { intactFrame(bytes, at: $0) != nil }) {
            throw .damagedFrame(index: frames.count + 1, offset: at, intactAt: next)
        }
        return ChangeLogContents(base: base, frames: frames, tornTailBytes: count - at)
    }

    /// The payload range of a whole frame starting at `offset`: consistent length, inside the
    /// file, matching CRC.
    static func intactFrame(_ bytes: [UInt8], at offset: Int) -> Range<Int>? {
        var reader = StateCodec.Reader(bytes, window: offset..<bytes.count)
        guard let length = reader.u32(), let check = reader.u32(), check == ~length,
              Int(length) >= minimumPayload,
              let payload = reader.take(Int(length)), let crc = reader.u32(),
              crc == CRC32.checksum(bytes[payload]) else { return nil }
        return payload
    }

    private static func decodePayload(_ reader: StateCodec.Reader) throws(ChangeLogFrameError) -> [StateChange] {
        var payload = reader
        guard let declared = payload.u32(), declared > 0 else { throw .noChanges }
        var changes: [StateChange] = []
        for index in 1...Int(declared) {
            guard let kind = payload.u8() else { throw .countMismatch(declared: Int(declared), found: index - 1) }
            switch kind {
            case putKind:
                guard let length = payload.u32(), let body = payload.take(Int(length)) else {
                    throw .change(index, .runsPastPayload)
                }
                do throws(StateRecordError) {
                    changes.append(.put(try StateCodec.decodeRecord(StateCodec.Reader(reader.bytes, window: body)).0))
                } catch {
                    throw .change(index, error)
                }
            case removeKind:
                guard let length = payload.u32(), let id = payload.take(Int(length)) else {
                    throw .change(index, .runsPastPayload)
                }
                if id.isEmpty { throw .change(index, .emptyID) }
                guard let text = String(validating: reader.bytes[id], as: UTF8.self) else {
                    throw .change(index, .invalidUTF8(.tag(1)))
                }
                changes.append(.remove(id: text))
            default:
                throw .unknownKind(index, kind)
            }
        }
        if payload.remaining > 0 { throw .trailingBytes(payload.remaining) }
        return changes
    }

    // MARK: Replay

    /// The records after every frame, in the state file's order (ascending id bytes).
    /// IDs match by bytes, as the state file compares them (`String ==` would merge
    /// canonically equivalent IDs).
    public static func replay(_ frames: [[StateChange]], over records: [InstanceRecord]) -> [InstanceRecord] {
        var byID: [[UInt8]: InstanceRecord] = [:]
        for record in records { byID[Array(record.id.utf8)] = record }
        for change in frames.joined() {
            switch change {
            case .put(let record): byID[Array(record.id.utf8)] = record
            case .remove(let id): byID[Array(id.utf8)] = nil
            }
        }
        return byID.values.sorted { bytesLess($0.id, $1.id) }
    }
}
