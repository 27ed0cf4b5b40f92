/// A `/tcping` target as Go's `net.Dial("tcp", target)` reads it before any lookup (CONTRACT
/// §8.10): `net.SplitHostPort`, then the port as `Resolver.LookupPort` parses it, then the host
/// as an IP literal or a name. Everything that can fail here fails with Go's exact text, so these
/// answers need no socket and no DNS.
public struct TCPingTarget: Sendable, Equatable {
    public enum Host: Sendable, Equatable {
        /// An empty host. Go dials the unspecified IPv4 address, which Linux connects locally.
        case unspecified
        case ip(ProbeIP)
        /// Anything that is not an IP literal: a name for the resolver, not yet checked for DNS
        /// syntax (Go checks it only when it resolves, so that answer comes from the resolver).
        case name([UInt8])
    }

    public var host: Host
    public var port: UInt16

    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `target` (the raw, percent-decoded query value) as Go's dialer does, named ports
    /// looked up in `services`.
    public static func parse(_ target: [UInt8], services: ServicePorts = .builtIn) throws(TCPingTargetError) -> TCPingTarget {
        let (host, service) = try splitHostPort(target)
        let port = try lookupPort(service, services: services)
        guard !host.isEmpty else { return TCPingTarget(host: .unspecified, port: port) }
        if let ip = ProbeIP(literal: host) { return TCPingTarget(host: .ip(ip), port: port) }
        return TCPingTarget(host: .name(host), port: port)
    }

    /// `net.SplitHostPort`, its checks in its order.
    static func splitHostPort(_ hostport: [UInt8]) throws(TCPingTargetError) -> (host: [UInt8], port: [UInt8]) {
        let colon = UInt8(ascii: ":")
        func failure(_ reason: TCPingTargetError.Reason) -> TCPingTargetError {
            TCPingTargetError(reason, subject: hostport)
        }
        guard let last = hostport.lastIndex(of: colon) else { throw failure(.missingPort) }
        var host: [UInt8]
        var noOpenBracketFrom = 0
        var noCloseBracketFrom = 0
        if hostport.first == UInt8(ascii: "[") {
            guard let end = hostport.firstIndex(of: UInt8(ascii: "]")) else { throw failure(.missingBracket) }
            if end + 1 == hostport.count { throw failure(.missingPort) }
            if end + 1 != last { throw failure(hostport[end + 1] == colon ? .tooManyColons : .missingPort) }
            host = Array(hostport[1..<end])
            noOpenBracketFrom = 1
            noCloseBracketFrom = end + 1
        } else {
            host = Array(hostport[..<last])
            if host.contains(colon) { throw failure(.tooManyColons) }
        }
        if hostport[noOpenBracketFrom...].contains(UInt8(ascii: "[")) { throw failure(.unexpectedOpenBracket) }
        if hostport[noCloseBracketFrom...].contains(UInt8(ascii: "]")) { throw failure(.unexpectedCloseBracket) }
        return (host, Array(hostport[(last + 1)...]))
    }

    /// `Resolver.LookupPort("tcp", service)`: decimal (with Go's saturation and sign rules) or a
    /// service name, then the 0...65535 range check naming the service as written.
    static func lookupPort(_ service: [UInt8], services: ServicePorts) throws(TCPingTargetError) -> UInt16 {
        let port: Int
        if let decimal = parsePort(service) {
            port = decimal
        } else if let named = services.port(for: service) {
            port = named
        } else {
            throw TCPingTargetError(.unknownPort, subject: Array("tcp/".utf8) + service)
        }
        guard (0...65535).contains(port) else { throw TCPingTargetError(.invalidPort, subject: service) }
        return UInt16(port)
    }

    /// Go's `parsePort`, step for step: nil when the text needs a service lookup. An empty port
    /// is 0 (Go issue 13610). Its quirks are kept: once the value saturates the rest of the text
    /// is not looked at, and `n *= 10` wraps in 32 bits (`4294967300` is port 4).
    static func parsePort(_ service: [UInt8]) -> Int? {
        guard !service.isEmpty else { return 0 }
        let max = UInt32.max
        let cutoff: UInt32 = 1 << 30
        var digits = service[...]
        var negative = false
        if digits.first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        } else if digits.first == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
        }
        var n: UInt32 = 0
        // Go ranges over runes; a non-ASCII byte is never a digit rune, so bytes do the same.
        for c in digits {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            if n >= cutoff {
                n = max
                break
            }
            n &*= 10
            let (sum, overflow) = n.addingReportingOverflow(UInt32(c - UInt8(ascii: "0")))
            if overflow {
                n = max
                break
            }
            n = sum
        }
        let magnitude: Int
        if !negative && n >= cutoff {
            magnitude = Int(cutoff - 1)
        } else if negative && n > cutoff {
            magnitude = Int(cutoff)
        } else {
            magnitude = Int(n)
        }
        return negative ? -magnitude : magnitude
    }
}

/// A target Go's dialer rejects before any lookup; `message` is the whole `error` text.
public struct TCPingTargetError: Error, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        case missingPort
        case tooManyColons
        case missingBracket
        case unexpectedOpenBracket
        case unexpectedCloseBracket
        case invalidPort
        /// A service name `/etc/services` does not know.
        case unknownPort

        var text: String {
            switch self {
            case .missingPort: "missing port in address"
            case .tooManyColons: "too many colons in address"
            case .missingBracket: "missing ']' in address"
            case .unexpectedOpenBracket: "unexpected '[' in address"
            case .unexpectedCloseBracket: "unexpected ']' in address"
            case .invalidPort: "invalid port"
            case .unknownPort: "unknown port"
            }
        }
    }

    public var reason: Reason
    /// What Go names: the whole target, the port as written, or `tcp/<service>`.
    public var subject: [UInt8]

    public init(_ reason: Reason, subject: [UInt8]) {
        self.reason = reason
        self.subject = subject
    }

    /// `dial tcp: address <subject>: <reason>` (Go's `AddrError`, which drops an empty address)
    /// or `dial tcp: lookup tcp/<service>: unknown port` (its `DNSError`). Bytes, not a `String`:
    /// the target may hold invalid UTF-8, which the JSON encoder must see to escape it as Go does.
    public var message: [UInt8] {
        var out = Array("dial tcp: ".utf8)
        switch reason {
        case .unknownPort:
            out += Array("lookup ".utf8) + subject + Array(": ".utf8)
        default:
            if !subject.isEmpty { out += Array("address ".utf8) + subject + Array(": ".utf8) }
        }
        return out + Array(reason.text.utf8)
    }
}
