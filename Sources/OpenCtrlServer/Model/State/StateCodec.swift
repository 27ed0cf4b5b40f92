/// The versioned binary state file (CONTRACT §21.2): a fixed header, a payload of
/// tag-length-value records, and a CRC-32 trailer over everything before it.
///
/// Decoding trusts nothing: a state file may be cut short by a crash, hold garbage sectors,
/// be a gob file from the Go original, or come from a newer master. Every read is bounds
/// checked and every rule of §21.2 is a distinct, named error, so the loader can fall back to
/// the backup or refuse to start with a reason an operator can act on.
public enum StateCodec {
    public static let formatVersion: UInt16 = 1
    /// `OCTLST` CR LF: the CR LF catches files mangled by text-mode transfers, as PNG's does.
    public static let magic: [UInt8] = [0x4F, 0x43, 0x54, 0x4C, 0x53, 0x54, 0x0D, 0x0A]
    public static let headerSize = 16
    public static let trailerSize = 4
    public static let maxFileSize = 64 << 20
    public static let maxRecords = 65536
    public static let maxStringBytes = 1 << 20
    public static let maxTags = 4096

    enum FieldTag {
        static let restart: UInt8 = 7
        static let tags: UInt8 = 11
    }

    // MARK: Encoding

    /// Records are written in ascending byte order of `id` so the `********` record, and the API
    /// key in its `url`, comes first: installer scripts take the first 32-hex run of the file.
    /// Every tag is written, even at its zero value, so the layout of a record never depends on
    /// its content. Callers keep ids unique and tags sorted by key bytes (registry invariants);
    /// a file breaking them would be refused at the next start.
    public static func encode(_ records: [InstanceRecord]) -> [UInt8] {
        let sorted = records.sorted { bytesLess($0.id, $1.id) }
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + 4 + trailerSize + sorted.count * 256)
        out.append(contentsOf: magic)
        out.appendBigEndian(formatVersion)
        out.appendBigEndian(UInt16(0))
        out.appendBigEndian(UInt32(0))
        out.appendBigEndian(UInt32(sorted.count))
        for record in sorted {
            encodeRecord(record, into: &out)
        }
        out.patchBigEndian(UInt32(out.count - headerSize), at: 12)
        out.appendBigEndian(CRC32.checksum(out))
        return out
    }

    static func encodeRecord(_ r: InstanceRecord, into out: inout [UInt8]) {
        assert(zip(r.tags, r.tags.dropFirst()).allSatisfy { bytesLess($0.key, $1.key) },
               "tags of \(r.id) must be strictly ascending by key bytes")
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.appendField(1, string: r.id)
        out.appendField(2, string: r.alias)
        out.appendField(3, string: r.type)
        out.appendField(4, string: r.status)
        out.appendField(5, string: r.url)
        out.appendField(6, string: r.config)
        out.appendField(7, bytes: [r.restart ? 1 : 0])
        out.appendField(8, string: r.peer.sid)
        out.appendField(9, string: r.peer.type)
        out.appendField(10, string: r.peer.alias)
        out.append(FieldTag.tags)
        let tagsStart = out.count
        out.appendBigEndian(UInt32(0))
        out.appendBigEndian(UInt32(r.tags.count))
        for tag in r.tags {
            out.appendBigEndian(UInt32(tag.key.utf8.count))
            out.append(contentsOf: tag.key.utf8)
            out.appendBigEndian(UInt32(tag.value.utf8.count))
            out.append(contentsOf: tag.value.utf8)
        }
        out.patchBigEndian(UInt32(out.count - tagsStart - 4), at: tagsStart)
        for (tag, value) in zip((12 as UInt8)..., [r.mode, r.ping, r.pool, r.tcps, r.udps]) {
            out.appendField(tag, u32: UInt32(bitPattern: value))
        }
        for (tag, value) in zip((17 as UInt8)..., [r.tcprx, r.tcptx, r.udprx, r.udptx]) {
            out.appendField(tag, u64: value)
        }
        out.patchBigEndian(UInt32(out.count - start - 4), at: start)
    }

    // MARK: Decoding

    /// Header checks run in an order that gives the most useful reason: the magic first (a gob
    /// file is named as such), then the version before the length and checksum, because a newer
    /// format may change everything after the version field and must still be recognised.
    public static func decode(_ bytes: [UInt8]) throws(StateDecodeError) -> [InstanceRecord] {
        let count = bytes.count
        if count > maxFileSize { throw .fileTooLarge(count) }
        let magicLength = min(count, magic.count)
        guard bytes[..<magicLength].elementsEqual(magic[..<magicLength]) else { throw .badMagic }
        if count < magic.count { throw .truncated(length: count, expected: headerSize + trailerSize) }
        var header = Reader(bytes, window: magic.count..<count)
        if let version = header.u16() {
            if version == 0 { throw .invalidVersion }
            if version > formatVersion { throw .unsupportedVersion(version) }
        }
        if let flags = header.u16(), flags != 0 { throw .unknownFlags(flags) }
        guard let payloadLength = header.u32() else {
            throw .truncated(length: count, expected: headerSize + trailerSize)
        }
        let expected = headerSize + Int(payloadLength) + trailerSize
        if count < expected { throw .truncated(length: count, expected: expected) }
        if count > expected { throw .trailingBytes(length: count, expected: expected) }
        let payloadEnd = headerSize + Int(payloadLength)
        var trailer = Reader(bytes, window: payloadEnd..<count)
        guard trailer.u32() == CRC32.checksum(bytes[..<payloadEnd]) else { throw .checksumMismatch }
        return try decodePayload(Reader(bytes, window: headerSize..<payloadEnd))
    }

    private static func decodePayload(_ reader: Reader) throws(StateDecodeError) -> [InstanceRecord] {
        var payload = reader
        guard let declared32 = payload.u32() else { throw .missingRecordCount }
        let declared = Int(declared32)
        if declared > maxRecords { throw .tooManyRecords(declared) }
        var records: [InstanceRecord] = []
        // Bounded by what the payload can hold (a record takes at least 10 bytes), so a forged
        // count in a tiny file cannot make us reserve memory for 65536 records.
        records.reserveCapacity(min(declared, payload.remaining / 10))
        var previousID: Range<Int>?
        for index in 1..<(declared + 1) {
            if payload.remaining == 0 {
                throw .recordCountMismatch(declared: declared, found: index - 1)
            }
            guard let length = payload.u32(), let body = payload.take(Int(length)) else {
                throw .badRecord(index, .runsPastPayload)
            }
            do throws(StateRecordError) {
                let (record, idRange) = try decodeRecord(Reader(reader.bytes, window: body))
                if let previousID {
                    let id = reader.bytes[idRange], previous = reader.bytes[previousID]
                    if id.elementsEqual(previous) { throw .duplicateID }
                    if id.lexicographicallyPrecedes(previous) { throw .idOutOfOrder }
                }
                previousID = idRange
                records.append(record)
            } catch {
                throw .badRecord(index, error)
            }
        }
        if payload.remaining > 0 {
            throw .trailingPayload(declared: declared, bytes: payload.remaining)
        }
        return records
    }

    /// Returns the record and where its id bytes are, for the order check against the previous one.
    static func decodeRecord(
        _ reader: Reader
    ) throws(StateRecordError) -> (InstanceRecord, Range<Int>) {
        var fields = reader
        let bytes = reader.bytes
        var record = InstanceRecord(id: "")
        var idRange: Range<Int>?
        var lastTag: UInt8 = 0
        while fields.remaining > 0 {
            guard fields.remaining >= 5, let tag = fields.u8(), let length = fields.u32() else {
                throw .fieldHeaderPastRecord
            }
            if tag == 0 { throw .invalidTag(tag) }
            if tag == lastTag { throw .tagRepeated(tag) }
            if tag < lastTag { throw .tagOutOfOrder(tag) }
            lastTag = tag
            guard let value = fields.take(Int(length)) else { throw .runsPastContainer(.tag(tag)) }
            switch tag {
            case 1:
                idRange = value
                record.id = try string(bytes, value, .tag(tag))
            case 2: record.alias = try string(bytes, value, .tag(tag))
            case 3: record.type = try string(bytes, value, .tag(tag))
            case 4: record.status = try string(bytes, value, .tag(tag))
            case 5: record.url = try string(bytes, value, .tag(tag))
            case 6: record.config = try string(bytes, value, .tag(tag))
            case 7:
                guard value.count == 1 else { throw .wrongLength(tag: tag, length: value.count) }
                let flag = bytes[value.lowerBound]
                guard flag <= 1 else { throw .invalidRestart(flag) }
                record.restart = flag == 1
            case 8: record.peer.sid = try string(bytes, value, .tag(tag))
            case 9: record.peer.type = try string(bytes, value, .tag(tag))
            case 10: record.peer.alias = try string(bytes, value, .tag(tag))
            case 11: record.tags = try decodeTags(Reader(bytes, window: value))
            case 12...16:
                var v = Reader(bytes, window: value)
                guard value.count == 4, let raw = v.u32() else {
                    throw .wrongLength(tag: tag, length: value.count)
                }
                let n = Int32(bitPattern: raw)
                switch tag {
                case 12: record.mode = n
                case 13: record.ping = n
                case 14: record.pool = n
                case 15: record.tcps = n
                default: record.udps = n
                }
            case 17...20:
                var v = Reader(bytes, window: value)
                guard value.count == 8, let n = v.u64() else {
                    throw .wrongLength(tag: tag, length: value.count)
                }
                switch tag {
                case 17: record.tcprx = n
                case 18: record.tcptx = n
                case 19: record.udprx = n
                default: record.udptx = n
                }
            default:
                break  // Tags above 20 are additive fields of a later minor revision: skipped.
            }
        }
        guard let idRange else { throw .missingID }
        if idRange.isEmpty { throw .emptyID }
        return (record, idRange)
    }

    private static func decodeTags(_ reader: Reader) throws(StateRecordError) -> [Tag] {
        var entries = reader
        let bytes = reader.bytes
        guard let declared32 = entries.u32() else {
            throw .wrongLength(tag: FieldTag.tags, length: entries.remaining)
        }
        let declared = Int(declared32)
        if declared > maxTags { throw .tooManyTags(declared) }
        var tags: [Tag] = []
        tags.reserveCapacity(min(declared, entries.remaining / 8))
        var previousKey: Range<Int>?
        for entry in 1..<(declared + 1) {
            guard let keyLength = entries.u32(), let key = entries.take(Int(keyLength)) else {
                throw .runsPastContainer(.tagKey(entry: entry))
            }
            guard let valueLength = entries.u32(), let value = entries.take(Int(valueLength)) else {
                throw .runsPastContainer(.tagValue(entry: entry))
            }
            if let previousKey {
                if bytes[key].elementsEqual(bytes[previousKey]) { throw .duplicateTagKey(entry: entry) }
                if bytes[key].lexicographicallyPrecedes(bytes[previousKey]) {
                    throw .tagKeyOutOfOrder(entry: entry)
                }
            }
            previousKey = key
            tags.append(Tag(
                key: try string(bytes, key, .tagKey(entry: entry)),
                value: try string(bytes, value, .tagValue(entry: entry))))
        }
        if entries.remaining > 0 { throw .tagsTrailingBytes(entries.remaining) }
        return tags
    }

    private static func string(
        _ bytes: [UInt8], _ range: Range<Int>, _ field: StateField
    ) throws(StateRecordError) -> String {
        if range.count > maxStringBytes { throw .stringTooLong(field) }
        guard let s = String(validating: bytes[range], as: UTF8.self) else { throw .invalidUTF8(field) }
        return s
    }

    static func expectedLengthText(tag: UInt8) -> String {
        switch tag {
        case FieldTag.restart: return "1"
        case FieldTag.tags: return "at least 4"
        case 12...16: return "4"
        default: return "8"
        }
    }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        for shift in stride(from: T.bitWidth - 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    fileprivate mutating func patchBigEndian(_ value: UInt32, at offset: Int) {
        for i in 0..<4 {
            self[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i))
        }
    }

    fileprivate mutating func appendField(_ tag: UInt8, string: String) {
        append(tag)
        appendBigEndian(UInt32(string.utf8.count))
        append(contentsOf: string.utf8)
    }

    fileprivate mutating func appendField(_ tag: UInt8, bytes: [UInt8]) {
        append(tag)
        appendBigEndian(UInt32(bytes.count))
        append(contentsOf: bytes)
    }

    fileprivate mutating func appendField(_ tag: UInt8, u32: UInt32) {
        append(tag)
        appendBigEndian(UInt32(4))
        appendBigEndian(u32)
    }

    fileprivate mutating func appendField(_ tag: UInt8, u64: UInt64) {
        append(tag)
        appendBigEndian(UInt32(8))
        appendBigEndian(u64)
    }
}
