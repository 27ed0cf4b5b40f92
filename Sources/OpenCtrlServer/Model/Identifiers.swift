import Glibc

/// Random identifiers and the API-key comparison (CONTRACT §4.1, §4.3).
///
/// Every identifier comes from the kernel CSPRNG: the API key is the only credential the master
/// has, and instance IDs appear in URLs where a guessable value would let one client probe
/// another's instances.
public enum Identifiers {
    /// 16 random bytes as 32 lowercase hex characters.
    public static func apiKey() -> String { randomHex(byteCount: 16) }

    /// 8 random bytes as 16 lowercase hex characters (`mid`).
    public static func masterID() -> String { randomHex(byteCount: 8) }

    /// 4 random bytes as 8 lowercase hex characters.
    public static func instanceID() -> String { randomHex(byteCount: 4) }

    /// 4 random bytes as 8 lowercase hex characters: the `<boot>` part of SSE event ids (§13.5),
    /// so a client resuming with an id from an earlier run of the master is told it missed events.
    public static func eventBootID() -> String { randomHex(byteCount: 4) }

    /// Exactly 32 lowercase hex characters; anything else loaded from state is regenerated (§4.2).
    public static func isValidAPIKey(_ s: String) -> Bool { isLowercaseHex(s, length: 32) }

    /// Exactly 16 lowercase hex characters (§4.2).
    public static func isValidMasterID(_ s: String) -> Bool { isLowercaseHex(s, length: 16) }

    /// Byte equality whose running time depends only on the two lengths, never on where the
    /// bytes differ, so a client cannot find the key one byte at a time by timing 401 replies.
    /// The length difference is folded into the result instead of returning early.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { left in
            b.withUTF8 { right in
                var difference = UInt(bitPattern: left.count ^ right.count)
                for index in 0..<max(left.count, right.count) {
                    let x = index < left.count ? left[index] : 0
                    let y = index < right.count ? right[index] : 0
                    difference |= UInt(x ^ y)
                }
                return difference == 0
            }
        }
    }

    /// Fills `buffer` from `getentropy(3)`, glibc's wrapper of `getrandom(2)` (the raw call is not
    /// visible to Swift). It blocks only until the kernel pool is first seeded and never returns a
    /// short read. Seccomp profiles of some container runtimes reject `getrandom`, so on failure
    /// the bytes come from `/dev/urandom`; if neither works there is no safe identifier to make.
    static func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            // getentropy accepts at most 256 bytes per call.
            let count = min(256, buffer.count - offset)
            guard getentropy(buffer.baseAddress! + offset, count) == 0 else {
                guard readURandom(UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])) else {
                    fatalError("Identifiers: no system randomness: getentropy and /dev/urandom failed")
                }
                return
            }
            offset += count
        }
    }

    /// Fills `buffer` from `/dev/urandom`, retrying interrupted and short reads; false on failure.
    static func readURandom(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var fd: Int32
        repeat {
            fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < buffer.count {
            let count = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count > 0 {
                offset += count
            } else if count == 0 || errno != EINTR {
                return false
            }
        }
        return true
    }

    private static func randomHex(byteCount: Int) -> String {
        withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: 1) { random in
            fillRandom(random)
            return hex(random)
        }
    }

    /// Lowercase hex, two digits per byte, high nibble first.
    static func hex(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { hex in
            for (index, byte) in bytes.enumerated() {
                hex[2 * index] = hexDigits[Int(byte >> 4)]
                hex[2 * index + 1] = hexDigits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func isLowercaseHex(_ s: String, length: Int) -> Bool {
        s.utf8.count == length
            && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
