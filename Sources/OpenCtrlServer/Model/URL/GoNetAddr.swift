/// Address syntax as Go's `net` and `net/netip` check it, with their error texts.
///
/// `url.Parse` validates bracketed hosts with `netip.ParseAddr`, and the original master
/// resolves its listen address with `net.ResolveTCPAddr`; both messages reach operators
/// verbatim (CONTRACT §1, §9.3). Nothing here touches the network: a name is only checked
/// for DNS syntax, and resolving it is the caller's job.
enum GoNetAddr {
    /// An error with Go's text (`ParseAddr("…"): …`, `address …: …`, `lookup …: …`).
    struct AddrError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    enum Family { case v4, v6 }

    /// `netip.ParseAddr`: an IPv4 literal, or an IPv6 literal with an optional `%zone`.
    static func parseAddr(_ s: [UInt8]) throws(AddrError) -> Family {
        for c in s {
            switch c {
            case UInt8(ascii: "."):
                try parseIPv4(s, from: 0, in: s)
                return .v4
            case UInt8(ascii: ":"):
                try parseIPv6(s)
                return .v6
            case UInt8(ascii: "%"):
                throw parseError(s, "missing IPv6 address")
            default:
                continue
            }
        }
        throw parseError(s, "unable to parse IP")
    }

    private static func parseError(_ input: [UInt8], _ message: String, at: ArraySlice<UInt8> = []) -> AddrError {
        var text = "ParseAddr(\(GoQuote.quote(input))): \(message)"
        if !at.isEmpty { text += " (at \(GoQuote.quote(Array(at))))" }
        return AddrError(text)
    }

    /// Go's `parseIPv4Fields`: errors name the whole input (an IPv6 address for an embedded
    /// IPv4 tail), positions are relative to the dotted part.
    private static func parseIPv4(_ s: [UInt8], from start: Int, in input: [UInt8]) throws(AddrError) {
        let dotted = s[start...]
        var value = 0
        var fields = 0
        var digits = 0
        for i in dotted.indices {
            let c = s[i]
            if GoURLEscaping.isDigit(c) {
                if digits == 1 && value == 0 { throw parseError(input, "IPv4 field has octet with leading zero") }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                digits += 1
                if value > 255 { throw parseError(input, "IPv4 field has value >255") }
            } else if c == UInt8(ascii: ".") {
                if i == dotted.startIndex || i == dotted.endIndex - 1 || s[i - 1] == UInt8(ascii: ".") {
                    throw parseError(input, "IPv4 field must have at least one digit", at: s[i...])
                }
                if fields == 3 { throw parseError(input, "IPv4 address too long") }
                fields += 1
                value = 0
                digits = 0
            } else {
                throw parseError(input, "unexpected character", at: s[i...])
            }
        }
        if fields < 3 { throw parseError(input, "IPv4 address too short") }
    }

    private static func parseIPv6(_ input: [UInt8]) throws(AddrError) {
        var s = input[...]
        if let percent = input.firstIndex(of: UInt8(ascii: "%")) {
            if percent == input.count - 1 { throw parseError(input, "zone must be a non-empty string") }
            s = input[..<percent]
        }
        let colon = UInt8(ascii: ":")
        var ellipsis = -1
        if s.starts(with: [colon, colon]) {
            ellipsis = 0
            s = s.dropFirst(2)
            if s.isEmpty { return }
        }
        var filled = 0
        while filled < 16 {
            var count = 0
            for c in s {
                guard GoURLEscaping.unhex(c) != nil else { break }
                if count == 4 { throw parseError(input, "each group must have 4 or less digits", at: s) }
                count += 1
            }
            if count == 0 { throw parseError(input, "each colon-separated field must have at least one digit", at: s) }
            let afterField = s.startIndex + count
            if afterField < s.endIndex && s[afterField] == UInt8(ascii: ".") {
                if ellipsis < 0 && filled != 12 {
                    throw parseError(input, "embedded IPv4 address must replace the final 2 fields of the address", at: s)
                }
                if filled + 4 > 16 {
                    throw parseError(input, "too many hex fields to fit an embedded IPv4 at the end of the address", at: s)
                }
                try parseIPv4(Array(input[..<s.endIndex]), from: s.startIndex, in: input)
                s = s[s.endIndex...]
                filled += 4
                break
            }
            filled += 2
            s = s[afterField...]
            if s.isEmpty { break }
            if s.first != colon { throw parseError(input, "unexpected character, want colon", at: s) }
            if s.count == 1 { throw parseError(input, "colon must be followed by more characters", at: s) }
            s = s.dropFirst()
            if s.first == colon {
                if ellipsis >= 0 { throw parseError(input, "multiple :: in address", at: s) }
                ellipsis = filled
                s = s.dropFirst()
                if s.isEmpty { break }
            }
        }
        if !s.isEmpty { throw parseError(input, "trailing garbage after address", at: s) }
        if filled < 16 && ellipsis < 0 { throw parseError(input, "address string too short") }
        if filled == 16 && ellipsis >= 0 { throw parseError(input, "the :: must expand to at least one field of zeros") }
    }

    /// Go's `AddrError` text: the address unquoted, and left out when empty.
    static func addrError(_ why: String, address: [UInt8]) -> AddrError {
        AddrError(address.isEmpty ? why : "address \(String(decoding: address, as: UTF8.self)): \(why)")
    }

    /// `net.SplitHostPort`.
    static func splitHostPort(_ hostport: [UInt8]) throws(AddrError) -> (host: [UInt8], port: [UInt8]) {
        let colon = UInt8(ascii: ":")
        func failure(_ why: String) -> AddrError { addrError(why, address: hostport) }
        guard let last = hostport.lastIndex(of: colon) else { throw failure("missing port in address") }
        var host: [UInt8]
        var noOpenBracketBefore = 0
        var noCloseBracketBefore = 0
        if hostport.first == UInt8(ascii: "[") {
            guard let end = hostport.firstIndex(of: UInt8(ascii: "]")) else { throw failure("missing ']' in address") }
            if end + 1 == hostport.count { throw failure("missing port in address") }
            if end + 1 != last {
                throw failure(hostport[end + 1] == colon ? "too many colons in address" : "missing port in address")
            }
            host = Array(hostport[1..<end])
            noOpenBracketBefore = 1
            noCloseBracketBefore = end + 1
        } else {
            host = Array(hostport[..<last])
            if host.contains(colon) { throw failure("too many colons in address") }
        }
        if hostport[noOpenBracketBefore...].contains(UInt8(ascii: "[")) { throw failure("unexpected '[' in address") }
        if hostport[noCloseBracketBefore...].contains(UInt8(ascii: "]")) { throw failure("unexpected ']' in address") }
        return (host, Array(hostport[(last + 1)...]))
    }

    /// Go's `isDomainName` (RFC 1035 presentation syntax, `_` allowed, not all-numeric): a
    /// name that fails it is answered `no such host` without any query.
    static func isDomainName(_ s: [UInt8]) -> Bool {
        if s == [UInt8(ascii: ".")] { return true }
        guard !s.isEmpty, s.count <= 254, s.count < 254 || s.last == UInt8(ascii: ".") else { return false }
        var last = UInt8(ascii: ".")
        var nonNumeric = false
        var labelLength = 0
        for c in s {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                nonNumeric = true
                labelLength += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                labelLength += 1
            case UInt8(ascii: "-"):
                if last == UInt8(ascii: ".") { return false }
                labelLength += 1
                nonNumeric = true
            case UInt8(ascii: "."):
                if last == UInt8(ascii: ".") || last == UInt8(ascii: "-") { return false }
                if labelLength > 63 || labelLength == 0 { return false }
                labelLength = 0
            default:
                return false
            }
            last = c
        }
        return last != UInt8(ascii: "-") && labelLength <= 63 && nonNumeric
    }
}
