/// The query of `GET <P>/instances/{id}/logs` (CONTRACT §22.2): `tail`, `after` and `format`,
/// read with Go's query parser (first value of each key; unknown keys ignored).
public struct HistoryQuery: Equatable, Sendable {
    public static let defaultTail = 100

    public var tail = defaultTail
    public var after: UInt64?
    public var text = false

    public init(tail: Int = defaultTail, after: UInt64? = nil, text: Bool = false) {
        self.tail = tail
        self.after = after
        self.text = text
    }

    /// A key that is present must carry a valid value, even an empty one: `tail=` is as wrong
    /// as `tail=x`.
    public static func parse(_ query: [UInt8]) throws(APIError) -> HistoryQuery {
        let values = GoURLEscaping.parseQuery(query)
        var parsed = HistoryQuery()
        if let raw = values[Array("tail".utf8)]?.first {
            guard let tail = decimal(raw, max: UInt64(History.maxEntries)), tail >= 1 else { throw .badRequest("invalid tail") }
            parsed.tail = Int(tail)
        }
        if let raw = values[Array("after".utf8)]?.first {
            guard let after = decimal(raw, max: UInt64(Int64.max)) else { throw .badRequest("invalid after") }
            parsed.after = after
        }
        if let raw = values[Array("format".utf8)]?.first {
            guard raw == Array("text".utf8) else { throw .badRequest("invalid format") }
            parsed.text = true
        }
        return parsed
    }

    /// ASCII digits only (no sign, no spaces), at most `max`.
    private static func decimal(_ raw: [UInt8], max: UInt64) -> UInt64? {
        guard !raw.isEmpty else { return nil }
        var value: UInt64 = 0
        for c in raw {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1, !o2, sum <= max else { return nil }
            value = sum
        }
        return value
    }
}
