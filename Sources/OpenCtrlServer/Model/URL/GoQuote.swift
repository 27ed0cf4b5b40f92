/// Go's `strconv.Quote`, which every Go error text in the contract uses to show user input
/// (`parse "<raw>": …`, `invalid URL escape "%zz"`, `ParseAddr("…")`).
///
/// The bytes are decoded the way Go's `utf8.DecodeRune` decodes them, so each byte of an
/// invalid sequence becomes its own `\x..`, exactly as Go prints it. Printable runes stay raw;
/// "printable" is Go's definition (letters, marks, numbers, punctuation, symbols and the
/// ASCII space), taken from the Unicode tables of the Swift runtime, so only a rune assigned
/// in a Unicode edition that the Go build did not know yet can print differently.
enum GoQuote {
    static func quote(_ bytes: [UInt8]) -> String {
        var out = "\""
        var i = 0
        while i < bytes.count {
            let (decoded, width) = decodeRune(bytes, at: i)
            if let scalar = decoded {
                appendQuoted(scalar, to: &out)
            } else {
                out += "\\x" + hex(UInt32(bytes[i]), digits: 2)
            }
            i += width
        }
        return out + "\""
    }

    private static func appendQuoted(_ scalar: Unicode.Scalar, to out: inout String) {
        switch scalar {
        case "\"", "\\":
            out += "\\" + String(scalar)
        case _ where isPrint(scalar):
            out.unicodeScalars.append(scalar)
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0B}": out += "\\v"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += "\\x" + hex(scalar.value, digits: 2)
        case _ where scalar.value < 0x10000:
            out += "\\u" + hex(scalar.value, digits: 4)
        default:
            out += "\\U" + hex(scalar.value, digits: 8)
        }
    }

    /// Go's `utf8.DecodeRune`: `nil` with width 1 for any byte that does not start a complete,
    /// shortest-form, non-surrogate sequence.
    private static func decodeRune(_ b: [UInt8], at i: Int) -> (Unicode.Scalar?, Int) {
        let c0 = b[i]
        if c0 < 0x80 { return (Unicode.Scalar(c0), 1) }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xED: length = 3; high = 0x9F
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; low = 0x90
        case 0xF4: length = 4; high = 0x8F
        case 0xF1...0xF3: length = 4
        default: return (nil, 1)
        }
        guard i + length <= b.count, (low...high).contains(b[i + 1]) else { return (nil, 1) }
        var value = UInt32(c0) & (0x7F >> UInt32(length))
        for k in 1..<length {
            let c = b[i + k]
            guard (0x80...0xBF).contains(c) else { return (nil, 1) }
            value = value << 6 | UInt32(c & 0x3F)
        }
        return (Unicode.Scalar(value), length)
    }

    private static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
