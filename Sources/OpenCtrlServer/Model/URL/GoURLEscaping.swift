/// Percent-encoding as Go's `net/url` does it (`shouldEscape`, `unescape`, `escape`,
/// `validEncoded`), plus the small validators `Parse` uses and `ParseQuery`.
///
/// Each rule is Go's, quirks included (a host may not %-encode ASCII, a zone may hold a
/// space, a fragment keeps `!()*` but escapes `'`), because the texts they produce are
/// compared byte for byte with the original's.
enum GoURLEscaping {
    /// The URL component being encoded or decoded: Go's `encoding` modes, minus the one
    /// (`encodePathSegment`) that `Parse` and `String` never use.
    enum Component {
        case path, host, zone, userPassword, queryComponent, fragment
    }

    /// A parse failure's reason, before `Parse` wraps it with the operation and the input.
    struct Reason: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    static func shouldEscape(_ c: UInt8, _ mode: Component) -> Bool {
        if isAlphanumeric(c) { return false }
        if mode == .host || mode == .zone {
            // Go lets `< > "` through in hosts: escaping them would produce a host that its own
            // parser rejects, since hosts may only %-encode non-ASCII bytes.
            if Array("!$&'()*+,;=:[]<>\"".utf8).contains(c) { return false }
        }
        switch c {
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            return false
        case UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "/"),
             UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "@"):
            switch mode {
            case .path:
                return c == UInt8(ascii: "?")
            case .userPassword:
                return Array("@/?:".utf8).contains(c)
            case .queryComponent:
                return true
            case .fragment:
                return false
            case .host, .zone:
                return true
            }
        default:
            if mode == .fragment && Array("!()*".utf8).contains(c) { return false }
            return true
        }
    }

    static func unhex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func unescape(_ s: [UInt8], _ mode: Component) throws(Reason) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i] {
            case UInt8(ascii: "%"):
                guard i + 2 < s.count, let high = unhex(s[i + 1]), let low = unhex(s[i + 2]) else {
                    throw escapeError(Array(s[i..<min(i + 3, s.count)]))
                }
                let escaped = Array(s[i..<i + 3])
                let isPercent = escaped == Array("%25".utf8)
                let value = high << 4 | low
                // RFC 3986 lets a host %-encode only non-ASCII bytes; RFC 6874 adds `%25`, which
                // introduces an IPv6 zone.
                if mode == .host && high < 8 && !isPercent { throw escapeError(escaped) }
                // A zone may escape only what could be written directly, plus the space that
                // Windows puts in zone names.
                if mode == .zone && !isPercent && value != UInt8(ascii: " ") && shouldEscape(value, .host) {
                    throw escapeError(escaped)
                }
                out.append(value)
                i += 3
            case UInt8(ascii: "+"):
                out.append(mode == .queryComponent ? UInt8(ascii: " ") : UInt8(ascii: "+"))
                i += 1
            default:
                if (mode == .host || mode == .zone) && s[i] < 0x80 && shouldEscape(s[i], mode) {
                    throw Reason("invalid character \(GoQuote.quote([s[i]])) in host name")
                }
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    private static func escapeError(_ s: [UInt8]) -> Reason {
        Reason("invalid URL escape \(GoQuote.quote(s))")
    }

    /// Go's `escape` for every mode but the query, which `String` never re-encodes.
    static func escape(_ s: [UInt8], _ mode: Component) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        for c in s {
            if shouldEscape(c, mode) { out += percentEncoded(c) } else { out.append(c) }
        }
        return out
    }

    /// `%XX` with upper-case hex, as Go writes it.
    static func percentEncoded(_ c: UInt8) -> [UInt8] {
        let upperhex = Array("0123456789ABCDEF".utf8)
        return [UInt8(ascii: "%"), upperhex[Int(c >> 4)], upperhex[Int(c & 15)]]
    }

    /// Whether `s` can stand as the written form of a path or fragment: no byte that the
    /// default encoding would escape, except the sub-delimiters, `:`, `@`, brackets and `%`.
    static func validEncoded(_ s: [UInt8], _ mode: Component) -> Bool {
        let allowed = Array("!$&'()*+,;=:@[]%".utf8)
        return s.allSatisfy { allowed.contains($0) || !shouldEscape($0, mode) }
    }

    /// Empty, or `:` followed by ASCII digits only.
    static func validOptionalPort(_ port: [UInt8]) -> Bool {
        guard let first = port.first else { return true }
        return first == UInt8(ascii: ":") && port.dropFirst().allSatisfy(isDigit)
    }

    static func isDigit(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    /// RFC 3986 userinfo characters plus `%` (checked later by `unescape`) and `@` (Go splits
    /// the authority at its last `@`). Any non-ASCII byte fails, as Go's rune loop fails.
    static func validUserinfo(_ s: [UInt8]) -> Bool {
        let allowed = Array("-._:~!$&'()*+,;=%@".utf8)
        return s.allSatisfy { isAlphanumeric($0) || allowed.contains($0) }
    }

    /// Go's `url.ParseQuery` with its error dropped, as `(*URL).Query()` drops it: pairs with a
    /// semicolon or a bad escape are skipped, and a query with more than 10,000 parameters
    /// (Go's default `urlmaxqueryparams`) yields no values at all.
    static func parseQuery(_ query: [UInt8]) -> [[UInt8]: [[UInt8]]] {
        var values: [[UInt8]: [[UInt8]]] = [:]
        forEachQueryPair(query) { key, value in
            values[key, default: []].append(value)
            return true
        }
        return values
    }

    /// `parseQuery(query)[key]?.first`, without building the map (one route reads one key).
    static func firstQueryValue(_ query: [UInt8], key: [UInt8]) -> [UInt8]? {
        var found: [UInt8]?
        forEachQueryPair(query) { pairKey, value in
            guard pairKey == key else { return true }
            found = value
            return false
        }
        return found
    }

    /// Go's `ParseQuery` loop: every pair it keeps, unescaped and in order, until `body` says stop.
    private static func forEachQueryPair(_ query: [UInt8], _ body: ([UInt8], [UInt8]) -> Bool) {
        let ampersand = UInt8(ascii: "&")
        guard query.count(where: { $0 == ampersand }) + 1 <= 10_000 else { return }
        for pair in query.split(separator: ampersand) where !pair.contains(UInt8(ascii: ";")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let rawValue = equals == pair.endIndex ? [] : Array(pair[(equals + 1)...])
            guard let key = try? unescape(Array(pair[..<equals]), .queryComponent),
                  let value = try? unescape(rawValue, .queryComponent) else { continue }
            guard body(key, value) else { return }
        }
    }
}
