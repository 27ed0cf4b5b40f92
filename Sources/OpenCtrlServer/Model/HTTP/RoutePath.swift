/// The protected routes under the API base (CONTRACT §6, §22.1).
public enum Route: Sendable, Equatable {
    case instances
    /// The decoded remainder after `<P>/instances/`; `""` when empty (or exactly `/`).
    case instance(id: String)
    case events
    case info
    case tcping
    /// `<P>/instances/<id>/logs` and `…/process`: exactly one segment after the ID's.
    case logs(id: String)
    case process(id: String)
    case metrics
    case health

    /// The methods each route serves, for 405's `Allow` header.
    public var allowedMethods: String {
        switch self {
        case .instances: "GET, POST, OPTIONS"
        case .instance: "GET, PATCH, PUT, DELETE, OPTIONS"
        case .events, .tcping: "GET, OPTIONS"
        case .info: "GET, POST, OPTIONS"
        case .logs, .process, .metrics, .health: "GET"
        }
    }
}

public enum RouteDecision: Sendable, Equatable {
    /// The path was not clean: answer 301 to this location (path plus the raw query).
    case redirect(location: String)
    case notFound
    /// A path that cannot be percent-decoded.
    case badRequest
    case matched(Route)
    /// `<P>/console`, the one route that needs no key (§22.7).
    case console
}

/// Go's ServeMux rules as the original uses them: canonicalise first, then match decoded
/// segments, with no host matching and the query ignored.
public enum RoutePath {
    public static func resolve(escapedPath: String, query: String?, apiBase: String) -> RouteDecision {
        let clean = cleanPath(escapedPath)
        if clean != escapedPath {
            guard let query, !query.isEmpty else { return .redirect(location: clean) }
            return .redirect(location: clean + "?" + query)
        }
        var segments: [String] = []
        for raw in escapedPath.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let decoded = percentDecode(raw) else { return .badRequest }
            segments.append(decoded)
        }
        let base = apiBase.utf8.dropFirst().split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        guard segments.count > base.count, zip(segments, base).allSatisfy({ $0.utf8.elementsEqual($1.utf8) }) else {
            return .notFound
        }
        let rest = segments[base.count...]
        switch (rest.first, rest.count) {
        case ("instances", 1): return .matched(.instances)
        case ("instances", 3) where rest.last == "logs": return .matched(.logs(id: rest[rest.startIndex + 1]))
        case ("instances", 3) where rest.last == "process": return .matched(.process(id: rest[rest.startIndex + 1]))
        case ("instances", _):
            let id = rest.dropFirst().joined(separator: "/")
            return .matched(.instance(id: id == "/" ? "" : id))
        case ("events", 1): return .matched(.events)
        case ("info", 1): return .matched(.info)
        case ("tcping", 1): return .matched(.tcping)
        case ("metrics", 1): return .matched(.metrics)
        case ("health", 1): return .matched(.health)
        case ("console", 1): return .console
        default: return .notFound
        }
    }

    /// Go's `cleanPath`: `path.Clean` plus a preserved trailing slash.
    public static func cleanPath(_ p: String) -> String {
        if p.isEmpty { return "/" }
        let rooted = p.hasPrefix("/") ? p : "/" + p
        var out: [Substring] = []
        for segment in rooted.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": if !out.isEmpty { out.removeLast() }
            default: out.append(segment)
            }
        }
        var cleaned = "/" + out.joined(separator: "/")
        if rooted.hasSuffix("/") && cleaned != "/" { cleaned += "/" }
        return cleaned
    }

    static func percentDecode(_ bytes: Substring.UTF8View.SubSequence) -> String? {
        percentDecode(Array(bytes))
    }

    static func percentDecode(_ bytes: [UInt8]) -> String? {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
