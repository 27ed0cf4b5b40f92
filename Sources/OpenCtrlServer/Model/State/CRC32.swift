/// IEEE 802.3 CRC-32 (the zlib polynomial), the trailer of the state file (CONTRACT §21.2).
///
/// Slicing-by-8: eight 256-entry tables let the loop consume eight bytes per step, so checking
/// a state file at the 64 MiB limit costs tens of milliseconds at startup, not a second.
/// Bytes are combined one by one rather than loaded as words, so the result does not depend on
/// the host's byte order or on alignment.
public enum CRC32 {
    /// The checksum of `bytes`. Pass a previous result as `initial` to continue over more data.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        let t = tables
        var crc = ~initial
        var i = 0
        let count = bytes.count
        while count - i >= 8 {
            let lo = crc
                ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8
                    | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            crc = t[7 * 256 + Int(lo & 0xFF)]
                ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((lo >> 16) & 0xFF)]
                ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(bytes[i + 4])]
                ^ t[2 * 256 + Int(bytes[i + 5])]
                ^ t[1 * 256 + Int(bytes[i + 6])]
                ^ t[Int(bytes[i + 7])]
            i += 8
        }
        while i < count {
            crc = t[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
            i += 1
        }
        return ~crc
    }

    public static func checksum(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, initial: initial) }
    }

    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, initial: initial) }
    }

    /// Table k maps a byte to its CRC contribution k bytes further back in the stream.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 {
                c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1
            }
            t[n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 {
                let previous = t[(k - 1) * 256 + n]
                t[k * 256 + n] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()
}
