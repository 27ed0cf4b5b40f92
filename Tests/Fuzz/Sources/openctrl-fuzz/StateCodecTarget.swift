import OpenCtrlServer

/// (6) The state file codec (CONTRACT §21.2). The first byte picks a mode:
/// - 0: the rest is a whole file;
/// - 1: the rest is a payload, wrapped in a valid header and checksum so the fuzzer gets past the
///   CRC and explores the record and tag parsers;
/// - 2: the rest drives `RecordGenerator`, whose records are encoded then decoded.
///
/// Invariants: decoding never traps and every error renders; an accepted file holds records with
/// strictly ascending ids and strictly ascending tag keys, and re-encoding it decodes to the same
/// records and encodes to the same bytes; `decode(encode(records))` gives back the records
/// (sorted by id) byte for byte.
enum StateCodecTarget: FuzzTarget {
    static let name = "state-codec"
    static let summary = "StateCodec.decode of raw/CRC-fixed bytes; decode(encode(x)) == x"

    static func run(_ data: [UInt8]) {
        guard let mode = data.first else { return }
        let rest = Array(data.dropFirst())
        switch mode % 3 {
        case 0: checkDecode(rest)
        case 1: checkDecode(wrap(payload: rest))
        default: checkRoundTrip(RecordGenerator.records(from: rest))
        }
    }

    static func wrap(payload: [UInt8]) -> [UInt8] {
        var file = StateCodec.magic + [0, 1, 0, 0]
        file += bigEndian(UInt32(payload.count))
        file += payload
        file += bigEndian(CRC32.checksum(file))
        return file
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
    }

    private static func checkDecode(_ file: [UInt8]) {
        let records: [InstanceRecord]
        do {
            records = try StateCodec.decode(file)
        } catch {
            require(!error.description.isEmpty, "empty description for \(error)")
            return
        }
        require(zip(records, records.dropFirst()).allSatisfy { bytesLess($0.id, $1.id) },
                "accepted ids not strictly ascending in \(show(file))")
        for record in records {
            require(!record.id.isEmpty, "accepted an empty id in \(show(file))")
            require(zip(record.tags, record.tags.dropFirst()).allSatisfy { bytesLess($0.key, $1.key) },
                    "accepted tags not strictly ascending in \(show(file))")
        }
        let encoded = StateCodec.encode(records)
        let again: [InstanceRecord]
        do {
            again = try StateCodec.decode(encoded)
        } catch {
            fail("re-encoding of accepted \(show(file)) is refused: \(error)")
        }
        require(fingerprint(again) == fingerprint(records), "re-encoding of \(show(file)) decodes differently")
        require(StateCodec.encode(again) == encoded, "re-encoding of \(show(file)) is not stable")
    }

    private static func checkRoundTrip(_ records: [InstanceRecord]) {
        let encoded = StateCodec.encode(records)
        let decoded: [InstanceRecord]
        do {
            decoded = try StateCodec.decode(encoded)
        } catch {
            fail("encoding of \(records.count) generated records is refused: \(error); \(show(encoded))")
        }
        let sorted = records.sorted { bytesLess($0.id, $1.id) }
        require(fingerprint(decoded) == fingerprint(sorted), "decode(encode(x)) != x for \(show(encoded))")
    }

    /// Records compare by the bytes of their JSON: escaping is injective, so equal bytes mean
    /// byte-equal fields (`InstanceRecord ==` uses canonical equivalence for strings).
    private static func fingerprint(_ records: [InstanceRecord]) -> [[UInt8]] {
        records.map(\.jsonBytes)
    }
}

/// Builds registry-valid records (unique non-empty ids, tags unique and sorted by key bytes)
/// from fuzz bytes; missing bytes read as zero.
enum RecordGenerator {
    static func records(from data: [UInt8]) -> [InstanceRecord] {
        var input = ByteReader(data)
        var records: [InstanceRecord] = []
        for index in 0..<Int(input.byte() % 8) {
            var record = InstanceRecord(id: input.string())
            if record.id.isEmpty { record.id = "r\(index)" }
            guard !records.contains(where: { $0.id.utf8.elementsEqual(record.id.utf8) }) else { continue }
            record.alias = input.string()
            record.type = input.string()
            record.status = input.string()
            record.url = input.string()
            record.config = input.string()
            record.restart = input.byte() & 1 == 1
            record.peer = Peer(sid: input.string(), type: input.string(), alias: input.string())
            var tags: [Tag] = []
            for _ in 0..<Int(input.byte() % 6) {
                let tag = Tag(key: input.string(), value: input.string())
                tags.removeAll { $0.key.utf8.elementsEqual(tag.key.utf8) }
                tags.append(tag)
            }
            record.tags = tags.sorted { bytesLess($0.key, $1.key) }
            record.mode = Int32(bitPattern: input.u32())
            record.ping = Int32(bitPattern: input.u32())
            record.pool = Int32(bitPattern: input.u32())
            record.tcps = Int32(bitPattern: input.u32())
            record.udps = Int32(bitPattern: input.u32())
            record.tcprx = input.u64()
            record.tcptx = input.u64()
            record.udprx = input.u64()
            record.udptx = input.u64()
            records.append(record)
        }
        return records
    }
}

struct ByteReader {
    private let data: [UInt8]
    private var at = 0

    init(_ data: [UInt8]) {
        self.data = data
    }

    mutating func byte() -> UInt8 {
        guard at < data.count else { return 0 }
        defer { at += 1 }
        return data[at]
    }

    /// Up to 31 bytes, decoded leniently (invalid UTF-8 becomes U+FFFD) as any `String` is valid.
    mutating func string() -> String {
        let count = Int(byte() % 32)
        let end = min(data.count, at + count)
        defer { at = end }
        return String(decoding: data[min(at, end)..<end], as: UTF8.self)
    }

    mutating func u32() -> UInt32 {
        (0..<4).reduce(0) { value, _ in value << 8 | UInt32(byte()) }
    }

    mutating func u64() -> UInt64 {
        (0..<8).reduce(0) { value, _ in value << 8 | UInt64(byte()) }
    }
}
