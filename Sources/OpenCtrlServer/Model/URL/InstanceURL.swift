/// Validation and normalisation of an instance URL (CONTRACT §9.3, our rule).
///
/// Validation is Go's `url.Parse`, so clients get the original's error texts. Normalisation
/// is not Go's `String()`: that re-encodes every component from its decoded form (`%41`
/// becomes `A`, `!` in user-info becomes `%21`, `x://` loses its `//`). Ours rewrites the text
/// as written, lowercasing the scheme and percent-encoding only bytes that may not appear
/// where they stand, so a URL already in RFC 3986 form comes back unchanged except for the
/// case of its scheme, and valid escapes keep their spelling.
public enum InstanceURL {
    public static let maximumLength = 8192

    public static func normalize(_ raw: String) throws(InstanceURLError) -> String {
        let bytes = Array(raw.utf8)
        guard bytes.count <= maximumLength else {
            throw InstanceURLError(message: "instance URL exceeds maximum length \(maximumLength)")
        }
        let url: GoURL
        do {
            url = try GoURL.parse(bytes: bytes)
        } catch {
            throw InstanceURLError(message: "Master.normalizeInstanceURL: invalid URL format: \(error)")
        }
        guard !url.scheme.isEmpty else {
            throw InstanceURLError(message: "Master.normalizeInstanceURL: missing URL scheme")
        }
        guard url.scheme != Array("master".utf8) else {
            throw InstanceURLError(message: "Master.normalizeInstanceURL: master cannot manage master URL")
        }
        // Re-encoding can triple a URL; the stored form must obey the limit too, or the same URL
        // sent back (a PUT of what GET returned) would be refused.
        let normalized = rewrite(bytes, scheme: url.scheme)
        guard normalized.count <= maximumLength else {
            throw InstanceURLError(message: "instance URL exceeds maximum length \(maximumLength)")
        }
        return String(decoding: normalized, as: UTF8.self)
    }

    /// Splits the text the way `url.Parse` did (fragment at the first `#`, query at the first
    /// `?` before it, authority after a leading `//`) and re-encodes each part in place.
    private static func rewrite(_ raw: [UInt8], scheme: [UInt8]) -> [UInt8] {
        let hash = raw.firstIndex(of: UInt8(ascii: "#")) ?? raw.count
        var start = scheme.count + 1
        let question = raw[start..<hash].firstIndex(of: UInt8(ascii: "?")) ?? hash
        var out = scheme + [UInt8(ascii: ":")]
        if raw[start..<question].starts(with: "//".utf8) {
            let end = raw[(start + 2)..<question].firstIndex(of: UInt8(ascii: "/")) ?? question
            out += "//".utf8
            out += encodeAuthority(raw[(start + 2)..<end])
            start = end
        }
        out += encode(raw[start..<question])
        out += raw[question..<hash]
        if hash < raw.count {
            out.append(UInt8(ascii: "#"))
            out += encode(raw[(hash + 1)...])
        }
        return out
    }

    /// Path, opaque part and fragment: the bytes RFC 3986 allows nowhere (`url.Parse` has
    /// already rejected control bytes and malformed escapes).
    private static func encode(_ part: ArraySlice<UInt8>) -> [UInt8] {
        let forbidden = Array(" \"<>\\^`{|}".utf8)
        var out: [UInt8] = []
        for c in part {
            if c >= 0x80 || forbidden.contains(c) { out += GoURLEscaping.percentEncoded(c) } else { out.append(c) }
        }
        return out
    }

    /// `url.Parse` lets only non-ASCII bytes and `"<>` through in a host (user-info takes
    /// neither). Non-ASCII is encoded, as Go's own `String()` does; `"<>` must stay, since a
    /// host may not %-encode ASCII. Inside brackets only an IPv6 zone can hold non-ASCII, and
    /// a zone may not escape it, so the brackets are copied as they are.
    private static func encodeAuthority(_ authority: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var inBrackets = false
        for c in authority {
            if c == UInt8(ascii: "[") { inBrackets = true }
            if c == UInt8(ascii: "]") { inBrackets = false }
            if c >= 0x80 && !inBrackets { out += GoURLEscaping.percentEncoded(c) } else { out.append(c) }
        }
        return out
    }
}

/// A rejected instance URL; `message` is the API error text (HTTP 400).
public struct InstanceURLError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}
