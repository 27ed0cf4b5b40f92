/// The Prometheus text exposition format 0.0.4, written straight into bytes.
///
/// A scrape at 1,000 instances is about 15,000 samples, so the writer appends to one buffer,
/// takes names as static strings (copied with one `memcpy` each) and label values already
/// escaped (an instance's ID is escaped once and reused by every family that names it), and
/// formats numbers straight into the buffer.
public struct PromText: Sendable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity: Int = 4096) {
        bytes.reserveCapacity(reservingCapacity)
    }

    /// The `# HELP` and `# TYPE` lines every family starts with.
    public mutating func family(_ name: StaticString, _ kind: Kind, help: StaticString) {
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        for byte in UnsafeBufferPointer(start: help.utf8Start, count: help.utf8CodeUnitCount) {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            default: bytes.append(byte)
            }
        }
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        bytes += kind.rawValue.utf8
        bytes.append(0x0A)
    }

    public mutating func sample(_ name: StaticString, _ value: Double) {
        append(name)
        finish(value)
    }

    public mutating func sample(_ name: StaticString, _ value: UInt64) {
        append(name)
        finish(value)
    }

    /// One sample with one label whose value is already escaped (`escape(_:)`).
    public mutating func sample(_ name: StaticString, _ label: StaticString, escaped: [UInt8], _ value: Double) {
        openLabel(name, label, escaped)
        bytes.append(UInt8(ascii: "}"))
        finish(value)
    }

    public mutating func sample(_ name: StaticString, _ label: StaticString, escaped: [UInt8], _ value: UInt64) {
        openLabel(name, label, escaped)
        bytes.append(UInt8(ascii: "}"))
        finish(value)
    }

    /// One sample with any number of labels, each value already escaped.
    public mutating func sample(_ name: StaticString, _ labels: [(name: StaticString, escaped: [UInt8])], _ value: Double) {
        append(name)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            for (index, label) in labels.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                labelPair(label.name, label.escaped)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        finish(value)
    }

    /// `<base>_bucket` per bound plus `+Inf`, then `_sum` and `_count`.
    public mutating func histogram(_ base: StaticString, _ histogram: Histogram) {
        var cumulative: UInt64 = 0
        for (bound, count) in zip(histogram.bounds, histogram.counts) {
            cumulative += count
            bucket(base, le: Self.formatted(bound), cumulative)
        }
        bucket(base, le: Array("+Inf".utf8), histogram.count)
        append(base)
        append("_sum")
        finish(histogram.sum)
        append(base)
        append("_count")
        finish(histogram.count)
    }

    private mutating func bucket(_ base: StaticString, le: [UInt8], _ count: UInt64) {
        append(base)
        append("_bucket{le=\"")
        bytes += le
        append("\"}")
        finish(count)
    }

    /// A label value as the format wants it: `\` → `\\`, `"` → `\"`, newline → `\n`, and bytes
    /// that are not UTF-8 replaced by U+FFFD (a scraper rejects the whole exposition otherwise).
    public static func escape<C: Collection>(utf8 value: C) -> [UInt8] where C.Element == UInt8 {
        let valid = String(decoding: value, as: UTF8.self)
        return escape(valid)
    }

    public static func escape(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\n"): out += [0x5C, UInt8(ascii: "n")]
            default: out.append(byte)
            }
        }
        return out
    }

    /// A sample value Prometheus's parser (Go's `ParseFloat`) reads back exactly: integers
    /// without a fraction, `+Inf`/`-Inf`/`NaN` spelt its way, anything else as Swift's shortest
    /// round-tripping form (`0.0025`, `1e-05`).
    public static func formatted(_ value: Double) -> [UInt8] {
        if value.isNaN { return Array("NaN".utf8) }
        if value.isInfinite { return Array((value < 0 ? "-Inf" : "+Inf").utf8) }
        if value == value.rounded(), abs(value) < 1e15 { return Array(String(Int64(value)).utf8) }
        return Array(value.description.utf8)
    }

    // MARK: pieces

    private mutating func openLabel(_ name: StaticString, _ label: StaticString, _ escaped: [UInt8]) {
        append(name)
        bytes.append(UInt8(ascii: "{"))
        labelPair(label, escaped)
    }

    private mutating func labelPair(_ name: StaticString, _ escaped: [UInt8]) {
        append(name)
        append("=\"")
        bytes += escaped
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func finish(_ value: Double) {
        bytes.append(0x20)
        if value == value.rounded(), value >= 0, value < 1e15 {
            appendDecimal(UInt64(value))
        } else {
            bytes += Self.formatted(value)
        }
        bytes.append(0x0A)
    }

    private mutating func finish(_ value: UInt64) {
        bytes.append(0x20)
        appendDecimal(value)
        bytes.append(0x0A)
    }

    private mutating func appendDecimal(_ value: UInt64) {
        guard value >= 10 else {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            var v = value
            while v > 0 {
                buffer[31 - count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            }
            bytes += buffer[(32 - count)...]
        }
    }

    private mutating func append(_ s: StaticString) {
        bytes += UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
