/// Live event identifiers `<boot>.<n>` (CONTRACT §13.5): `boot` is 8 lowercase hex characters
/// chosen at master start, `n` counts live events from 1.
public struct EventID: Equatable, Sendable {
    public let boot: String
    public let sequence: UInt64

    public init(boot: String, sequence: UInt64) {
        self.boot = boot
        self.sequence = sequence
    }

    public var text: String { "\(boot).\(sequence)" }

    /// Parses a `Last-Event-ID` header value; nil for anything that is not exactly
    /// `<8 lowercase hex>.<decimal without sign or leading zeros>` fitting 64 bits.
    public init?(parsing value: String) {
        let bytes = Array(value.utf8)
        guard bytes.count >= 10, bytes.count <= 29, bytes[8] == UInt8(ascii: ".") else { return nil }
        for b in bytes[..<8] {
            guard (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f")) else { return nil }
        }
        let digits = bytes[9...]
        guard digits.first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        var n: UInt64 = 0
        for b in digits {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            n = sum
        }
        boot = String(decoding: bytes[..<8], as: UTF8.self)
        sequence = n
    }
}

/// What a reconnecting watcher gets after its snapshot (§13.5).
public enum ResumePlan: Equatable, Sendable {
    /// No `Last-Event-ID` header (or an empty one, which browsers never send): nothing extra.
    case none
    /// Replay these ring entries' frames (the `log` events after the given id), maybe none.
    case replay([UInt64])
    /// Replay is impossible: one gap notice instead.
    case gap
}
