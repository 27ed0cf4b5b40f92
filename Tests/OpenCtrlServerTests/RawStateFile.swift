@testable import OpenCtrlServer

/// Builds state files byte by byte, independently of `StateCodec.encode`, so tests can craft
/// exactly the malformed layout a rule is about and still carry a correct checksum: the decoder
/// must then reject the file for that rule, not for its CRC.
enum RawState {
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    static func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }

    static func field(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        [tag] + u32(UInt32(value.count)) + value
    }

    static func field(_ tag: UInt8, _ value: String) -> [UInt8] { field(tag, Array(value.utf8)) }

    /// A tag 11 value from raw key and value bytes, in the order given.
    static func tags(_ entries: [([UInt8], [UInt8])], count: UInt32? = nil) -> [UInt8] {
        var out = u32(count ?? UInt32(entries.count))
        for (key, value) in entries {
            out += u32(UInt32(key.count)) + key + u32(UInt32(value.count)) + value
        }
        return out
    }

    /// A record body prefixed by its length.
    static func record(_ fields: [[UInt8]]) -> [UInt8] {
        let body = fields.flatMap { $0 }
        return u32(UInt32(body.count)) + body
    }

    /// A record holding only an id.
    static func record(id: String) -> [UInt8] { record([field(1, id)]) }

    static func payload(_ records: [[UInt8]], count: UInt32? = nil) -> [UInt8] {
        u32(count ?? UInt32(records.count)) + records.flatMap { $0 }
    }

    /// A whole file around `payload`, with a correct CRC unless `crc` is given.
    static func file(
        _ payload: [UInt8], version: UInt16 = 1, flags: UInt16 = 0, length: UInt32? = nil, crc: UInt32? = nil
    ) -> [UInt8] {
        let body = StateCodec.magic + u16(version) + u16(flags) + u32(length ?? UInt32(payload.count)) + payload
        return body + u32(crc ?? CRC32.checksum(body))
    }

    /// Replaces the trailer of a file with the CRC of everything before it.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        let body = Array(bytes.dropLast(4))
        return body + u32(CRC32.checksum(body))
    }

    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(text.utf8).filter { $0 != UInt8(ascii: " ") }[...]
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
            chars = chars.dropFirst(2)
        }
        return out
    }
}
