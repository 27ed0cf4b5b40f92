import Glibc

/// An address a probe connects to, as Go's `net.IP` plus zone sees it: an IPv4-mapped IPv6
/// address *is* IPv4 to Go (`To4() != nil`), so it is dialled over IPv4 and printed dotted.
public struct ProbeIP: Sendable, Hashable {
    /// 4 bytes (IPv4, including mapped IPv6) or 16 (IPv6).
    public let bytes: [UInt8]
    /// The IPv6 zone as written after `%` (empty for none).
    public let zone: [UInt8]

    public init?(bytes: [UInt8], zone: [UInt8] = []) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            let mapped = bytes[..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            self.bytes = mapped ? Array(bytes[12...]) : bytes
        default:
            return nil
        }
        self.zone = zone
    }

    /// An IP literal exactly as Go's `netip.ParseAddr` accepts it (no leading zeros, IPv6 with
    /// an optional `%zone`), else nil: the text is then a host name.
    public init?(literal: [UInt8]) {
        guard let family = try? GoNetAddr.parseAddr(literal) else { return nil }
        switch family {
        case .v4:
            var address = in_addr()
            guard inet_pton(AF_INET, String(decoding: literal, as: UTF8.self), &address) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: address) { Array($0) })
        case .v6:
            let percent = literal.firstIndex(of: UInt8(ascii: "%")) ?? literal.endIndex
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(decoding: literal[..<percent], as: UTF8.self), &address) == 1 else { return nil }
            let zone = percent == literal.endIndex ? [] : Array(literal[(percent + 1)...])
            self.init(bytes: withUnsafeBytes(of: address) { Array($0) }, zone: zone)
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// Go's `IP.String()`: dotted IPv4, or RFC 5952 IPv6 (lowercase, the first longest run of
    /// two or more zero groups as `::`). Not `inet_ntop`, which prints `::1.2.3.4` for an
    /// IPv4-compatible address where Go prints `::102:304`.
    public var text: String {
        if isIPv4 { return bytes.map { String($0) }.joined(separator: ".") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var zeroStart = 8
        var zeroEnd = 8
        for i in 0..<8 {
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i >= 2 && j - i > zeroEnd - zeroStart {
                zeroStart = i
                zeroEnd = j
            }
        }
        var out = ""
        var i = 0
        while i < 8 {
            if i == zeroStart {
                out += "::"
                i = zeroEnd
                if i >= 8 { break }
            } else if i > 0 {
                out += ":"
            }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}

/// One address to dial and the text Go's errors give it (`TCPAddr.String()`).
public struct DialAddress: Sendable, Equatable {
    public let ip: ProbeIP
    public let port: UInt16
    /// Go's empty host, which dials 0.0.0.0 but prints nothing.
    private let unspecifiedHost: Bool

    public init(ip: ProbeIP, port: UInt16) {
        self.init(ip: ip, port: port, unspecifiedHost: false)
    }

    /// The empty host: Go dials 0.0.0.0 (which Linux connects to the local host) and names it
    /// by its empty IP.
    public static func unspecified(port: UInt16) -> DialAddress {
        DialAddress(ip: ProbeIP(bytes: [0, 0, 0, 0])!, port: port, unspecifiedHost: true)
    }

    private init(ip: ProbeIP, port: UInt16, unspecifiedHost: Bool) {
        self.ip = ip
        self.port = port
        self.unspecifiedHost = unspecifiedHost
    }

    /// `<ip>:<port>`, `[<ipv6>%<zone>]:<port>`, or `:<port>` for the unspecified host. Built
    /// only when an error names the address: a probe that connects never needs it.
    public var label: [UInt8] {
        if unspecifiedHost { return Self.joinHostPort([], port) }
        var host = Array(ip.text.utf8)
        if !ip.zone.isEmpty { host += [UInt8(ascii: "%")] + ip.zone }
        return Self.joinHostPort(host, port)
    }

    /// `net.JoinHostPort`: brackets around any host with a colon.
    static func joinHostPort(_ host: [UInt8], _ port: UInt16) -> [UInt8] {
        let portText = Array(String(port).utf8)
        if host.contains(UInt8(ascii: ":")) { return [UInt8(ascii: "[")] + host + Array("]:".utf8) + portText }
        return host + [UInt8(ascii: ":")] + portText
    }
}
