/// A URL as Go's `net/url` parses it (`url.Parse`) and prints it (`(*URL).String()`).
///
/// The original master passes its command line and every instance URL through those two
/// functions, and their texts (error reasons, re-serialised URLs) reach clients and child
/// runtimes verbatim, so this is a line-by-line port of Go 1.26 rather than a parser of our
/// own. That includes the 1.26 host rules: bracketed hosts must be IPv6 literals, and
/// `http`/`https` hosts may hold only one colon (Go's default `urlstrictcolons=1`).
///
/// Components are bytes, not `String`: decoding `%FF` yields a byte no `String` can hold,
/// and `String()` must re-encode it unchanged.
public struct GoURL: Equatable, Sendable {
    /// Lowercased by `parse`.
    public var scheme: [UInt8] = []
    /// The encoded rest of `scheme:rest` when `rest` does not start with `/`.
    public var opaque: [UInt8] = []
    public var user: GoUserinfo?
    /// Decoded `host` or `host:port`; IPv6 literals keep their brackets.
    public var host: [UInt8] = []
    /// Decoded.
    public var path: [UInt8] = []
    /// The path as written, kept only when it differs from the default encoding of `path`.
    public var rawPath: [UInt8] = []
    /// `scheme:/path` had no authority at all; `String()` must not add an empty one.
    public var omitHost = false
    /// The URL ended in a lone `?`.
    public var forceQuery = false
    /// Encoded, without the `?`.
    public var rawQuery: [UInt8] = []
    /// Decoded.
    public var fragment: [UInt8] = []
    /// The fragment as written, kept only when it differs from the default encoding.
    public var rawFragment: [UInt8] = []

    public init() {}
}

public struct GoUserinfo: Equatable, Sendable {
    /// Decoded.
    public var username: [UInt8]
    /// Decoded; meaningful only when `passwordSet`.
    public var password: [UInt8]
    public var passwordSet: Bool

    public init(username: [UInt8], password: [UInt8] = [], passwordSet: Bool = false) {
        self.username = username
        self.password = password
        self.passwordSet = passwordSet
    }
}

/// Go's `*url.Error` for the `parse` operation.
public struct GoURLError: Error, Equatable, CustomStringConvertible {
    /// The input Go names: for an error before the fragment, only the part before the first
    /// `#`; for a bad fragment, the whole input.
    public var url: [UInt8]
    /// Go's reason text, for example `missing protocol scheme`.
    public var reason: String

    public init(url: [UInt8], reason: String) {
        self.url = url
        self.reason = reason
    }

    /// `parse "<url>": <reason>`, the URL quoted as `strconv.Quote` quotes it.
    public var description: String { "parse \(GoQuote.quote(url)): \(reason)" }
}

extension GoURL {
    public static func parse(_ raw: String) throws(GoURLError) -> GoURL {
        try parse(bytes: Array(raw.utf8))
    }

    public static func parse(bytes raw: [UInt8]) throws(GoURLError) -> GoURL {
        let hash = raw.firstIndex(of: UInt8(ascii: "#"))
        let beforeFragment = hash.map { Array(raw[..<$0]) } ?? raw
        var url: GoURL
        do {
            url = try parseBeforeFragment(beforeFragment)
        } catch {
            throw GoURLError(url: beforeFragment, reason: error.text)
        }
        guard let hash, hash + 1 < raw.count else { return url }
        do {
            try url.setFragment(Array(raw[(hash + 1)...]))
        } catch {
            throw GoURLError(url: raw, reason: error.text)
        }
        return url
    }

    private static func parseBeforeFragment(_ raw: [UInt8]) throws(GoURLEscaping.Reason) -> GoURL {
        if raw.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw GoURLEscaping.Reason("net/url: invalid control character in URL")
        }
        var url = GoURL()
        if raw == Array("*".utf8) {
            url.path = raw
            return url
        }
        var (scheme, rest) = try splitScheme(raw)
        url.scheme = scheme.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 + 32 : $0 }

        let question = UInt8(ascii: "?")
        if rest.last == question && rest.count(where: { $0 == question }) == 1 {
            url.forceQuery = true
            rest.removeLast()
        } else if let mark = rest.firstIndex(of: question) {
            url.rawQuery = Array(rest[(mark + 1)...])
            rest = Array(rest[..<mark])
        }

        let slash = UInt8(ascii: "/")
        if rest.first != slash {
            if !url.scheme.isEmpty {
                // RFC 3986 rootless paths are opaque.
                url.opaque = rest
                return url
            }
            // A colon in the first segment of a relative path would read as a scheme
            // (golang.org/issue/16822).
            if rest.prefix(while: { $0 != slash }).contains(UInt8(ascii: ":")) {
                throw GoURLEscaping.Reason("first path segment in URL cannot contain colon")
            }
        }

        if (!url.scheme.isEmpty || !rest.starts(with: "///".utf8)) && rest.starts(with: "//".utf8) {
            var authority = Array(rest.dropFirst(2))
            rest = []
            if let end = authority.firstIndex(of: slash) {
                rest = Array(authority[end...])
                authority = Array(authority[..<end])
            }
            (url.user, url.host) = try parseAuthority(authority, scheme: url.scheme)
        } else if !url.scheme.isEmpty && rest.first == slash {
            url.omitHost = true
        }
        try url.setPath(rest)
        return url
    }

    /// Go's `getScheme`: `[a-zA-Z][a-zA-Z0-9+-.]*` before the first `:`; anything else
    /// means there is no scheme at all.
    private static func splitScheme(_ raw: [UInt8]) throws(GoURLEscaping.Reason) -> ([UInt8], [UInt8]) {
        for (i, c) in raw.enumerated() {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                if i == 0 { return ([], raw) }
            case UInt8(ascii: ":"):
                if i == 0 { throw GoURLEscaping.Reason("missing protocol scheme") }
                return (Array(raw[..<i]), Array(raw[(i + 1)...]))
            default:
                return ([], raw)
            }
        }
        return ([], raw)
    }

    private static func parseAuthority(_ authority: [UInt8], scheme: [UInt8]) throws(GoURLEscaping.Reason) -> (GoUserinfo?, [UInt8]) {
        let at = authority.lastIndex(of: UInt8(ascii: "@"))
        let host = try parseHost(at.map { Array(authority[($0 + 1)...]) } ?? authority, scheme: scheme)
        guard let at else { return (nil, host) }
        let userinfo = Array(authority[..<at])
        guard GoURLEscaping.validUserinfo(userinfo) else {
            throw GoURLEscaping.Reason("net/url: invalid userinfo")
        }
        guard let colon = userinfo.firstIndex(of: UInt8(ascii: ":")) else {
            return (GoUserinfo(username: try GoURLEscaping.unescape(userinfo, .userPassword)), host)
        }
        let username = try GoURLEscaping.unescape(Array(userinfo[..<colon]), .userPassword)
        let password = try GoURLEscaping.unescape(Array(userinfo[(colon + 1)...]), .userPassword)
        return (GoUserinfo(username: username, password: password, passwordSet: true), host)
    }

    private static func parseHost(_ host: [UInt8], scheme: [UInt8]) throws(GoURLEscaping.Reason) -> [UInt8] {
        if let open = host.lastIndex(of: UInt8(ascii: "[")) {
            guard open == 0 else { throw GoURLEscaping.Reason("invalid IP-literal") }
            return try parseIPLiteral(host)
        }
        let colon = UInt8(ascii: ":")
        if var portStart = host.firstIndex(of: colon), let last = host.lastIndex(of: colon) {
            // Go 1.26 rejects several colons in http(s) hosts only: other schemes (database
            // URLs listing several hosts) keep the old rule, where the last colon starts the port.
            let isHTTP = scheme == Array("http".utf8) || scheme == Array("https".utf8)
            if !isHTTP { portStart = last }
            let colonPort = Array(host[portStart...])
            guard GoURLEscaping.validOptionalPort(colonPort) else {
                throw GoURLEscaping.Reason("invalid port \(GoQuote.quote(colonPort)) after host")
            }
        }
        return try GoURLEscaping.unescape(host, .host)
    }

    /// `[IPv6]` or `[IPv6%25zone]` with an optional `:port` (RFC 3986, RFC 6874).
    private static func parseIPLiteral(_ host: [UInt8]) throws(GoURLEscaping.Reason) -> [UInt8] {
        guard let close = host.lastIndex(of: UInt8(ascii: "]")) else {
            throw GoURLEscaping.Reason("missing ']' in host")
        }
        let colonPort = Array(host[(close + 1)...])
        guard GoURLEscaping.validOptionalPort(colonPort) else {
            throw GoURLEscaping.Reason("invalid port \(GoQuote.quote(colonPort)) after host")
        }
        let hostname = Array(host[1..<close])
        var unescaped: [UInt8]
        // The zone may use any escape; the address itself only non-ASCII ones.
        if let zone = hostname.firstRange(of: Array("%25".utf8))?.lowerBound {
            unescaped = try GoURLEscaping.unescape(Array(hostname[..<zone]), .host)
            unescaped += try GoURLEscaping.unescape(Array(hostname[zone...]), .zone)
        } else {
            unescaped = try GoURLEscaping.unescape(hostname, .host)
        }
        let family: GoNetAddr.Family
        do {
            family = try GoNetAddr.parseAddr(unescaped)
        } catch {
            throw GoURLEscaping.Reason("invalid host: \(error.message)")
        }
        // Brackets are for IPv6 only (IPv4-mapped IPv6 included), per RFC 3986.
        if family == .v4 { throw GoURLEscaping.Reason("invalid IP-literal") }
        return [UInt8(ascii: "[")] + unescaped + [UInt8(ascii: "]")] + colonPort
    }

    private mutating func setPath(_ written: [UInt8]) throws(GoURLEscaping.Reason) {
        path = try GoURLEscaping.unescape(written, .path)
        rawPath = GoURLEscaping.escape(path, .path) == written ? [] : written
    }

    private mutating func setFragment(_ written: [UInt8]) throws(GoURLEscaping.Reason) {
        fragment = try GoURLEscaping.unescape(written, .fragment)
        rawFragment = GoURLEscaping.escape(fragment, .fragment) == written ? [] : written
    }
}

extension GoURL: CustomStringConvertible {
    /// Go's `EscapedPath`: the written path when it is a valid encoding of `path`, otherwise
    /// the default encoding.
    public var escapedPath: [UInt8] {
        if !rawPath.isEmpty, GoURLEscaping.validEncoded(rawPath, .path),
           (try? GoURLEscaping.unescape(rawPath, .path)) == path {
            return rawPath
        }
        if path == Array("*".utf8) { return path }
        return GoURLEscaping.escape(path, .path)
    }

    /// Go's `EscapedFragment`, the fragment counterpart of `escapedPath`.
    public var escapedFragment: [UInt8] {
        if !rawFragment.isEmpty, GoURLEscaping.validEncoded(rawFragment, .fragment),
           (try? GoURLEscaping.unescape(rawFragment, .fragment)) == fragment {
            return rawFragment
        }
        return GoURLEscaping.escape(fragment, .fragment)
    }

    /// Go's `(*URL).String()`, byte for byte.
    public var serialized: [UInt8] {
        var out: [UInt8] = []
        if !scheme.isEmpty {
            out += scheme
            out.append(UInt8(ascii: ":"))
        }
        if !opaque.isEmpty {
            out += opaque
        } else {
            let omitsEmptyHost = omitHost && host.isEmpty && user == nil
            if (!scheme.isEmpty || !host.isEmpty || user != nil) && !omitsEmptyHost {
                if !host.isEmpty || !self.path.isEmpty || user != nil {
                    out += "//".utf8
                }
                if let user {
                    out += GoURLEscaping.escape(user.username, .userPassword)
                    if user.passwordSet {
                        out.append(UInt8(ascii: ":"))
                        out += GoURLEscaping.escape(user.password, .userPassword)
                    }
                    out.append(UInt8(ascii: "@"))
                }
                out += GoURLEscaping.escape(host, .host)
            }
            var path = escapedPath
            // Without an authority, a path starting with `//` would be read back as one.
            if omitsEmptyHost && path.starts(with: "//".utf8) {
                out += "%2F".utf8
                path.removeFirst()
            }
            if let first = path.first, first != UInt8(ascii: "/"), !host.isEmpty {
                out.append(UInt8(ascii: "/"))
            }
            // RFC 3986 §4.2: a colon in the first segment of a relative path would read as a
            // scheme, so such a path gets a `./` in front.
            if out.isEmpty && path.prefix(while: { $0 != UInt8(ascii: "/") }).contains(UInt8(ascii: ":")) {
                out += "./".utf8
            }
            out += path
        }
        if forceQuery || !rawQuery.isEmpty {
            out.append(UInt8(ascii: "?"))
            out += rawQuery
        }
        if !fragment.isEmpty {
            out.append(UInt8(ascii: "#"))
            out += escapedFragment
        }
        return out
    }

    /// `serialized` as text; it equals Go's `String()` whenever the parsed input was valid
    /// UTF-8 (the only bytes copied unescaped come from the input's opaque part and query).
    public var description: String { String(decoding: serialized, as: UTF8.self) }

    /// Go's `url.ParseQuery` of `rawQuery`, errors dropped as `(*URL).Query()` drops them.
    public var queryValues: [[UInt8]: [[UInt8]]] { GoURLEscaping.parseQuery(rawQuery) }
}
