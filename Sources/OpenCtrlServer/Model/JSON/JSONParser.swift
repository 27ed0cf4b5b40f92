/// Why a request body is not one JSON value. Handlers answer every case with the same
/// `400 Invalid request body`; the reason and offset are for tests and diagnostics.
public struct JSONParseError: Error, Equatable, Sendable {
    public enum Reason: Equatable, Sendable {
        case unexpectedEnd
        case unexpectedByte
        /// Non-whitespace after the value. Go's decoder ignores it; our rule rejects it (§7.2).
        case trailingData
        /// Inside a string. Go substitutes U+FFFD; our rule rejects it so operators' data is
        /// never silently altered (§7.2). Outside strings any non-ASCII byte is `unexpectedByte`.
        case invalidUTF8
        case controlCharacterInString
        case invalidEscape
        case invalidNumber
        case tooDeep
    }

    public var reason: Reason
    /// Byte offset in the body where parsing stopped.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }
}

/// A strict RFC 8259 parser for request bodies: exactly one value with optional surrounding
/// whitespace. It keeps an explicit stack of open containers instead of recursing, so the
/// nesting limit, not the thread's stack size, bounds what a client can send.
public enum JSONParser {
    /// Go allows 10,000 levels; no request body needs more than three.
    public static let maxDepth = 512

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            var reader = Reader(s: buffer)
            return try reader.document()
        }
    }
}

extension JSONParser {
    private struct Reader {
        let s: UnsafeBufferPointer<UInt8>
        var i = 0

        private struct Container {
            let isObject: Bool
            var elements: [JSONValue] = []
            var members: [JSONMember] = []
            /// The key of the member whose value is being parsed.
            var key = ""
        }

        init(s: UnsafeBufferPointer<UInt8>) {
            self.s = s
        }

        mutating func document() throws(JSONParseError) -> JSONValue {
            var open: [Container] = []
            var value = JSONValue.null
            skipWhitespace()
            parsing: while true {
                guard i < s.count else { throw fail(.unexpectedEnd) }
                switch s[i] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard open.count < JSONParser.maxDepth else { throw fail(.tooDeep) }
                    let isObject = s[i] == UInt8(ascii: "{")
                    i += 1
                    skipWhitespace()
                    if i < s.count, s[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        i += 1
                        value = isObject ? .object([]) : .array([])
                    } else {
                        open.append(Container(isObject: isObject, key: isObject ? try memberKey() : ""))
                        continue parsing
                    }
                case UInt8(ascii: "\""):
                    i += 1
                    value = .string(try string())
                case UInt8(ascii: "t"):
                    try literal("true")
                    value = .bool(true)
                case UInt8(ascii: "f"):
                    try literal("false")
                    value = .bool(false)
                case UInt8(ascii: "n"):
                    try literal("null")
                    value = .null
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    value = .number(try number())
                default:
                    throw fail(.unexpectedByte)
                }
                // A value is complete: attach it to its container, closing every container it ends.
                while let last = open.indices.last {
                    if open[last].isObject {
                        open[last].members.append(JSONMember(key: open[last].key, value: value))
                    } else {
                        open[last].elements.append(value)
                    }
                    skipWhitespace()
                    guard i < s.count else { throw fail(.unexpectedEnd) }
                    if s[i] == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                        if open[last].isObject {
                            open[last].key = try memberKey()
                        }
                        continue parsing
                    }
                    guard s[i] == (open[last].isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                        throw fail(.unexpectedByte)
                    }
                    i += 1
                    let closed = open.removeLast()
                    value = closed.isObject ? .object(closed.members) : .array(closed.elements)
                }
                break parsing
            }
            skipWhitespace()
            guard i == s.count else { throw fail(.trailingData) }
            return value
        }

        private func fail(_ reason: JSONParseError.Reason) -> JSONParseError {
            JSONParseError(reason, at: i)
        }

        private mutating func skipWhitespace() {
            while i < s.count {
                switch s[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        /// A key, its colon and the whitespace up to the member's value.
        private mutating func memberKey() throws(JSONParseError) -> String {
            guard i < s.count else { throw fail(.unexpectedEnd) }
            guard s[i] == UInt8(ascii: "\"") else { throw fail(.unexpectedByte) }
            i += 1
            let key = try string()
            skipWhitespace()
            guard i < s.count else { throw fail(.unexpectedEnd) }
            guard s[i] == UInt8(ascii: ":") else { throw fail(.unexpectedByte) }
            i += 1
            skipWhitespace()
            return key
        }

        private mutating func literal(_ word: StaticString) throws(JSONParseError) {
            for expected in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
                guard i < s.count else { throw fail(.unexpectedEnd) }
                guard s[i] == expected else { throw fail(.unexpectedByte) }
                i += 1
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as written.
        private mutating func number() throws(JSONParseError) -> String {
            let start = i
            if s[i] == UInt8(ascii: "-") {
                i += 1
            }
            guard i < s.count, isDigit(s[i]) else { throw fail(.invalidNumber) }
            if s[i] == UInt8(ascii: "0") {
                i += 1
                if i < s.count, isDigit(s[i]) { throw fail(.invalidNumber) }
            } else {
                skipDigits()
            }
            if i < s.count, s[i] == UInt8(ascii: ".") {
                i += 1
                guard i < s.count, isDigit(s[i]) else { throw fail(.invalidNumber) }
                skipDigits()
            }
            if i < s.count, s[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
                    i += 1
                }
                guard i < s.count, isDigit(s[i]) else { throw fail(.invalidNumber) }
                skipDigits()
            }
            return String(decoding: UnsafeBufferPointer(rebasing: s[start..<i]), as: UTF8.self)
        }

        private func isDigit(_ b: UInt8) -> Bool {
            b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")
        }

        private mutating func skipDigits() {
            while i < s.count, isDigit(s[i]) {
                i += 1
            }
        }

        /// Called after the opening quote; consumes the closing one. Strings without escapes, the
        /// common case, become a `String` straight from the body's bytes.
        private mutating func string() throws(JSONParseError) -> String {
            var run = i
            var unescaped: [UInt8]?
            while i < s.count {
                let b = s[i]
                if b == UInt8(ascii: "\"") {
                    let tail = UnsafeBufferPointer(rebasing: s[run..<i])
                    i += 1
                    guard unescaped != nil else {
                        return String(decoding: tail, as: UTF8.self)
                    }
                    unescaped!.append(contentsOf: tail)
                    return String(decoding: unescaped!, as: UTF8.self)
                }
                if b == UInt8(ascii: "\\") {
                    if unescaped == nil {
                        unescaped = []
                    }
                    unescaped!.append(contentsOf: UnsafeBufferPointer(rebasing: s[run..<i]))
                    try escape(into: &unescaped!)
                    run = i
                } else if b < 0x20 {
                    throw fail(.controlCharacterInString)
                } else if b < 0x80 {
                    i += 1
                } else {
                    let length = StrictUTF8.length(in: s, at: i)
                    guard length > 0 else { throw fail(.invalidUTF8) }
                    i += length
                }
            }
            throw fail(.unexpectedEnd)
        }

        /// Decodes the escape at `i` the way Go's `unquote` does: a high surrogate followed by an
        /// escaped low surrogate is one character; any other surrogate becomes U+FFFD, and an escape
        /// that did not pair is decoded on its own.
        private mutating func escape(into out: inout [UInt8]) throws(JSONParseError) {
            i += 1
            guard i < s.count else { throw fail(.unexpectedEnd) }
            let letter = s[i]
            let simple: UInt8? = switch letter {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): letter
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
            if let simple {
                out.append(simple)
                i += 1
                return
            }
            guard letter == UInt8(ascii: "u"), let unit = hex4(at: i + 1) else {
                throw fail(.invalidEscape)
            }
            i += 5
            var scalar = unit
            if (0xD800...0xDFFF).contains(unit) {
                scalar = 0xFFFD
                if unit <= 0xDBFF, i + 1 < s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                   let low = hex4(at: i + 2), (0xDC00...0xDFFF).contains(low) {
                    scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
            }
            appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &out)
        }

        private func hex4(at start: Int) -> UInt32? {
            guard start + 4 <= s.count else { return nil }
            var value: UInt32 = 0
            for k in start..<start + 4 {
                let b = s[k]
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        private func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
            UTF8.encode(scalar) { out.append($0) }
        }
    }
}
