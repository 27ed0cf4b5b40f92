/// Compact JSON appended straight into one byte buffer, byte-identical to Go's `encoding/json`
/// (CONTRACT §7.1). Every response body and every SSE event goes through here once, so nothing is
/// built as an intermediate `String`, and each call reserves its exact length once and writes
/// into the buffer's spare capacity with plain pointer stores.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(reservingCapacity)
    }

    /// Appends ASCII JSON syntax verbatim; the caller guarantees it is well-formed, e.g. `,"alias":`.
    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { append(CopiedBytes(source: $0)) }
    }

    /// A Swift `String` is always valid UTF-8, so only the separators U+2028/U+2029 need a look
    /// at non-ASCII bytes.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { append(QuotedString(source: $0, knownValid: true)) }
    }

    /// For bytes that may not be UTF-8 (child output): each byte that does not start a valid
    /// sequence becomes the six characters `\ufffd`, as Go does.
    public mutating func string<S: Sequence>(utf8 source: S) where S.Element == UInt8 {
        let done: Void? = source.withContiguousStorageIfAvailable {
            append(QuotedString(source: $0, knownValid: false))
        }
        if done == nil {
            Array(source).withUnsafeBufferPointer { append(QuotedString(source: $0, knownValid: false)) }
        }
    }

    /// Appends already-encoded JSON (a cached instance object) verbatim.
    public mutating func encoded(_ json: [UInt8]) {
        json.withUnsafeBufferPointer { append(CopiedBytes(source: $0)) }
    }

    /// Appends bytes the caller knows are valid JSON at this point, verbatim.
    public mutating func rawBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(CopiedBytes(source: bytes))
    }

    /// Appends text the caller knows needs no escaping (an event id, a type name), unquoted.
    public mutating func ascii(_ s: String) {
        var s = s
        s.withUTF8 { append(CopiedBytes(source: $0)) }
    }

    public mutating func int(_ v: Int64) {
        append(Digits(magnitude: v.magnitude, negative: v < 0))
    }

    public mutating func uint(_ v: UInt64) {
        append(Digits(magnitude: v, negative: false))
    }

    public mutating func bool(_ v: Bool) {
        if v { raw("true") } else { raw("false") }
    }

    public mutating func null() {
        raw("null")
    }

    /// How many bytes `string(utf8:)` appends for `source`, quotes included, so a caller can cut a
    /// log line to fit a frame budget (CONTRACT §13.2) before encoding it.
    public static func quotedLength<S: Sequence>(utf8 source: S) -> Int where S.Element == UInt8 {
        func count(_ buffer: UnsafeBufferPointer<UInt8>) -> Int {
            QuotedString(source: buffer, knownValid: false).count
        }
        return source.withContiguousStorageIfAvailable(count)
            ?? Array(source).withUnsafeBufferPointer(count)
    }

    @inline(__always)
    private mutating func append<Piece: BytePiece>(_ piece: Piece) {
        if piece.count > 0 {
            bytes.append(contentsOf: InPlaceAppend(piece: piece))
        }
    }
}

extension JSONWriter {
    /// A run of output whose exact length is known before it is written.
    fileprivate protocol BytePiece {
        var count: Int { get }
        /// Writes exactly `count` bytes starting at `out`.
        func write(to out: UnsafeMutablePointer<UInt8>)
    }

    /// The standard library has no public "append uninitialized" for `Array`, but
    /// `append(contentsOf:)` reserves `underestimatedCount` (growing geometrically) and hands the spare
    /// capacity to the sequence's `_copyContents`, which is exactly that. One call per piece replaces
    /// a chain of small appends, each of which re-checks uniqueness and capacity.
    fileprivate struct InPlaceAppend<Piece: BytePiece>: Sequence {
        let piece: Piece

        var underestimatedCount: Int { piece.count }

        func makeIterator() -> [UInt8].Iterator {
            [UInt8](unsafeUninitializedCapacity: piece.count) { buffer, initialized in
                piece.write(to: buffer.baseAddress!)
                initialized = piece.count
            }.makeIterator()
        }

        func _copyContents(initializing buffer: UnsafeMutableBufferPointer<UInt8>) -> ([UInt8].Iterator, Int) {
            precondition(buffer.count >= piece.count, "append(contentsOf:) reserved less than underestimatedCount")
            piece.write(to: buffer.baseAddress!)
            return ([UInt8]().makeIterator(), piece.count)
        }
    }

    fileprivate struct CopiedBytes: BytePiece {
        let source: UnsafeBufferPointer<UInt8>
        var count: Int { source.count }

        func write(to out: UnsafeMutablePointer<UInt8>) {
            out.update(from: source.baseAddress!, count: source.count)
        }
    }

    fileprivate struct Digits: BytePiece {
        let magnitude: UInt64
        let negative: Bool
        let count: Int

        init(magnitude: UInt64, negative: Bool) {
            self.magnitude = magnitude
            self.negative = negative
            var digits = 1
            var power: UInt64 = 10
            while digits < 20, magnitude >= power {
                digits += 1
                power &*= 10
            }
            count = digits + (negative ? 1 : 0)
        }

        /// Two digits per division, looked up in a table of "00" through "99".
        func write(to out: UnsafeMutablePointer<UInt8>) {
            let pairs: StaticString = """
                00010203040506070809101112131415161718192021222324252627282930313233343536373839\
                40414243444546474849505152535455565758596061626364656667686970717273747576777879\
                8081828384858687888990919293949596979899
                """
            let table = pairs.utf8Start
            if negative {
                out[0] = UInt8(ascii: "-")
            }
            var position = count
            var rest = magnitude
            while rest >= 100 {
                let pair = Int(rest % 100) * 2
                rest /= 100
                position -= 2
                out[position] = table[pair]
                out[position + 1] = table[pair + 1]
            }
            if rest >= 10 {
                let pair = Int(rest) * 2
                out[position - 2] = table[pair]
                out[position - 1] = table[pair + 1]
            } else {
                out[position - 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
            }
        }
    }

    /// A JSON string literal: the count pass and the write pass run the same scan, so the length
    /// reserved is the length written.
    fileprivate struct QuotedString: BytePiece {
        let source: UnsafeBufferPointer<UInt8>
        let knownValid: Bool
        /// Bytes before the first one that needs a closer look; most strings are all plain.
        let plainPrefix: Int
        let count: Int

        init(source: UnsafeBufferPointer<UInt8>, knownValid: Bool) {
            self.source = source
            self.knownValid = knownValid
            plainPrefix = GoEscaping.skipPlain(source, from: 0)
            var total = 2 + plainPrefix
            if plainPrefix < source.count {
                GoEscaping.scan(source, from: plainPrefix, knownValid: knownValid) { run, escape in
                    total += run.count + (escape?.count ?? 0)
                }
            }
            count = total
        }

        func write(to out: UnsafeMutablePointer<UInt8>) {
            out[0] = UInt8(ascii: "\"")
            var position = 1
            guard let base = source.baseAddress else {
                out[position] = UInt8(ascii: "\"")
                return
            }
            out.advanced(by: position).update(from: base, count: plainPrefix)
            position += plainPrefix
            if plainPrefix < source.count {
                GoEscaping.scan(source, from: plainPrefix, knownValid: knownValid) { run, escape in
                    out.advanced(by: position).update(from: base + run.lowerBound, count: run.count)
                    position += run.count
                    if let escape {
                        position += escape.write(to: out + position)
                    }
                }
            }
            out[position] = UInt8(ascii: "\"")
        }
    }

    /// The escaping rules of Go's `appendString` with HTML escaping on (the default of
    /// `json.Marshal` and `json.Encoder`).
    fileprivate enum GoEscaping {
        enum Escape {
            /// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`: the letter after the backslash.
            case short(UInt8)
            /// `\u00xx` for other bytes below 0x20 and for `<`, `>`, `&`.
            case control(UInt8)
            /// `\u2028` or `\u2029`: the last hex digit as ASCII.
            case separator(UInt8)
            /// `\ufffd`, for one byte that does not start a valid UTF-8 sequence.
            case replacement

            var count: Int {
                if case .short = self { return 2 }
                return 6
            }

            /// Returns `count`.
            @inline(__always)
            func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
                out[0] = UInt8(ascii: "\\")
                switch self {
                case .short(let letter):
                    out[1] = letter
                    return 2
                case .control(let byte):
                    out[1] = UInt8(ascii: "u")
                    out[2] = UInt8(ascii: "0")
                    out[3] = UInt8(ascii: "0")
                    out[4] = GoEscaping.hexDigit(byte >> 4)
                    out[5] = GoEscaping.hexDigit(byte & 0xF)
                case .separator(let lastDigit):
                    out[1] = UInt8(ascii: "u")
                    out[2] = UInt8(ascii: "2")
                    out[3] = UInt8(ascii: "0")
                    out[4] = UInt8(ascii: "2")
                    out[5] = lastDigit
                case .replacement:
                    out[1] = UInt8(ascii: "u")
                    out[2] = UInt8(ascii: "f")
                    out[3] = UInt8(ascii: "f")
                    out[4] = UInt8(ascii: "f")
                    out[5] = UInt8(ascii: "d")
                }
                return 6
            }
        }

        /// The index of the first byte at or after `start` that is not printable ASCII other than
        /// `"`, `\`, `<`, `>`, `&`: everything before it copies verbatim. Log lines are long and mostly
        /// plain, so this is where their time goes; it tests eight bytes at a time with the zero-byte
        /// tricks of "Bit Twiddling Hacks" (S. E. Anderson): `(x - 0x20…) & ~x & 0x80…` flags bytes
        /// below 0x20, the same test on `x ^ c…` flags bytes equal to `c`, and the top bits flag
        /// non-ASCII. A test can also flag bytes above a flagged one (the borrow carries), never below,
        /// so the lowest flag is exact.
        @inline(__always)
        static func skipPlain(_ s: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
            guard let base = s.baseAddress else { return start }
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            @inline(__always) func hasZero(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
            var i = start
            while i + 8 <= s.count {
                let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                // `"` 0x22 and `&` 0x26 differ only in bit 2, `<` 0x3C and `>` 0x3E only in bit 1.
                let special = (x & highs)
                    | ((x &- ones &* 0x20) & ~x & highs)
                    | hasZero((x & (ones &* 0xFB)) ^ (ones &* 0x22))
                    | hasZero((x & (ones &* 0xFD)) ^ (ones &* 0x3C))
                    | hasZero(x ^ (ones &* 0x5C))
                if special != 0 {
                    return i + special.trailingZeroBitCount >> 3
                }
                i += 8
            }
            while i < s.count, isPlain(s[i]) {
                i += 1
            }
            return i
        }

        @inline(__always)
        static func isPlain(_ b: UInt8) -> Bool {
            b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C && b != 0x3C && b != 0x3E && b != 0x26
        }

        /// Calls `visit` with each run of bytes from `start` on to copy verbatim, followed by the
        /// escape that ends it; the last call carries the tail run and no escape.
        @inline(__always)
        static func scan(
            _ s: UnsafeBufferPointer<UInt8>,
            from start: Int,
            knownValid: Bool,
            _ visit: (Range<Int>, Escape?) -> Void
        ) {
            var runStart = start
            var i = start
            let n = s.count
            while true {
                i = skipPlain(s, from: i)
                guard i < n else { break }
                let b = s[i]
                if b < 0x80 {
                    visit(runStart..<i, asciiEscape(b))
                    i += 1
                    runStart = i
                    continue
                }
                let length = knownValid ? knownValidLength(lead: b) : StrictUTF8.length(in: s, at: i)
                if length == 0 {
                    visit(runStart..<i, .replacement)
                    i += 1
                    runStart = i
                    continue
                }
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                if b == 0xE2, s[i + 1] == 0x80, s[i + 2] & 0xFE == 0xA8 {
                    visit(runStart..<i, .separator(s[i + 2] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9")))
                    i += 3
                    runStart = i
                    continue
                }
                i += length
            }
            visit(runStart..<n, nil)
        }

        @inline(__always)
        private static func asciiEscape(_ b: UInt8) -> Escape {
            switch b {
            case 0x22: .short(0x22)
            case 0x5C: .short(0x5C)
            case 0x08: .short(UInt8(ascii: "b"))
            case 0x0C: .short(UInt8(ascii: "f"))
            case 0x0A: .short(UInt8(ascii: "n"))
            case 0x0D: .short(UInt8(ascii: "r"))
            case 0x09: .short(UInt8(ascii: "t"))
            default: .control(b)
            }
        }

        @inline(__always)
        private static func knownValidLength(lead b: UInt8) -> Int {
            b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        }

        @inline(__always)
        private static func hexDigit(_ nibble: UInt8) -> UInt8 {
            nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
        }
    }
}

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. These are
/// exactly the sequences Go's `utf8.DecodeRune` accepts, so the writer replaces what Go replaces
/// and the request parser rejects what Go would have replaced.
enum StrictUTF8 {
    /// The length of the valid sequence starting at `i`, or 0 if the byte there does not start one.
    @inline(__always)
    static func length(in s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let b0 = s[i]
        let available = s.count - i
        @inline(__always) func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            k < available && s[i + k] >= low && s[i + k] <= high
        }
        switch b0 {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : 0
        case 0xE0:
            return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xED:
            return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0
        case 0xE1...0xEF:
            return continuation(1) && continuation(2) ? 3 : 0
        case 0xF0:
            return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4:
            return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default:
            return 0
        }
    }
}
