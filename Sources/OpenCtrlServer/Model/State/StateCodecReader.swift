extension StateCodec {
    /// A bounds-checked big-endian cursor over a window of a byte array, for parsing untrusted
    /// state files: every read returns nil instead of trapping when the window is too short.
    struct Reader {
        let bytes: [UInt8]
        private(set) var position: Int
        let end: Int

        init(_ bytes: [UInt8], window: Range<Int>) {
            precondition(window.lowerBound >= 0 && window.upperBound <= bytes.count)
            self.bytes = bytes
            position = window.lowerBound
            end = window.upperBound
        }

        var remaining: Int { end - position }

        mutating func u8() -> UInt8? {
            guard remaining >= 1 else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func u16() -> UInt16? {
            guard let r = take(2) else { return nil }
            return bytes[r].reduce(0) { $0 << 8 | UInt16($1) }
        }

        mutating func u32() -> UInt32? {
            guard let r = take(4) else { return nil }
            return bytes[r].reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64() -> UInt64? {
            guard let r = take(8) else { return nil }
            return bytes[r].reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// The range of the next `count` bytes, consumed; nil (consuming nothing) if fewer remain.
        mutating func take(_ count: Int) -> Range<Int>? {
            guard count >= 0, count <= remaining else { return nil }
            defer { position += count }
            return position..<(position + count)
        }
    }
}
