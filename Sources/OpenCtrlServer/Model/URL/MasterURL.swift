/// How the API is served (CONTRACT §2.3 `tls`); the raw value is what `/info` reports.
public enum TLSMode: String, Sendable {
    case off = "0"
    case selfSigned = "1"
    case files = "2"
}

/// The master's command-line URL, `master://<host>:<port>[/<prefix>][?<query>]` (CONTRACT §2).
///
/// `parse` checks, in this order: URL syntax (Go's `url.Parse`), the scheme, the listen
/// address, the `tls` value, then the API prefix. Every failure carries the full startup
/// message of §1, ready for the error envelope. Loading certificates and resolving a host
/// name are left to the caller: this type only checks syntax, so it never blocks.
public struct MasterURL: Equatable, Sendable {
    /// What to bind: an IP literal or a name to resolve (IPv6 without brackets, a zone as
    /// `%zone`), or `""` for all interfaces.
    public var host: String
    public var port: UInt16
    /// `/info` `name` (§3.4): the host as written (percent-escapes decoded, as Go's
    /// `Hostname()` gives it), without port or brackets.
    public var name: String
    /// The API prefix with the version appended, for example `/api/v2`.
    public var apiBase: String
    public var tls: TLSMode
    /// The `crt`, `key` and `bin` query values as given (the first of each).
    public var crt: String
    public var key: String
    public var bin: String

    public init(host: String, port: UInt16, name: String, apiBase: String, tls: TLSMode,
                crt: String = "", key: String = "", bin: String = "") {
        self.host = host
        self.port = port
        self.name = name
        self.apiBase = apiBase
        self.tls = tls
        self.crt = crt
        self.key = key
        self.bin = bin
    }

    private static let newFailure = "Main.start: create core failed: Master.new: "

    public static func parse(_ argument: String) throws(MasterURLError) -> MasterURL {
        let url: GoURL
        do {
            url = try GoURL.parse(argument)
        } catch {
            throw MasterURLError(message: "Main.start: parse command failed: \(error)")
        }
        guard url.scheme == Array("master".utf8) else {
            throw MasterURLError(message: "Main.start: create core failed: Main.createCore: unknown core: \(url)")
        }
        let address: (host: [UInt8], port: UInt16)
        do {
            address = try listenAddress(url.host)
        } catch {
            throw MasterURLError(message: newFailure + "resolve host failed: \(error.message)")
        }
        let query = url.queryValues
        func first(_ key: String) -> String {
            query[Array(key.utf8)]?.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        let tlsValue = first("tls")
        guard let tls = tlsValue.isEmpty ? TLSMode.off : TLSMode(rawValue: tlsValue) else {
            throw MasterURLError(message: newFailure + "Master.newServerTLSConfig: invalid tls mode")
        }
        let host = String(decoding: address.host, as: UTF8.self)
        return MasterURL(host: host, port: address.port, name: host, apiBase: try apiBase(of: url), tls: tls,
                         crt: first("crt"), key: first("key"), bin: first("bin"))
    }

    /// What the original's `net.ResolveTCPAddr("tcp", u.Host)` accepts, minus the lookup and
    /// with our rules (§2.1), in Go's wording:
    /// - no authority at all (the opaque `master:127.0.0.1:8080`, `master:/x`) or an empty
    ///   one (`master://`): `missing address`, where the original silently picked a random
    ///   port on all interfaces;
    /// - no port, or an empty one (`master://h:`, which Go reads as port 0):
    ///   `address <host:port>: missing port in address`;
    /// - a port above 65535: `address <port>: invalid port` (a service name never gets here:
    ///   `url.Parse` already requires digits);
    /// - a host that is neither an IP literal nor a DNS name: `lookup <host>: no such host`,
    ///   the answer Go's resolver gives without asking anyone.
    private static func listenAddress(_ hostport: [UInt8]) throws(GoNetAddr.AddrError) -> (host: [UInt8], port: UInt16) {
        guard !hostport.isEmpty else { throw GoNetAddr.AddrError("missing address") }
        let (host, port) = try GoNetAddr.splitHostPort(hostport)
        guard !port.isEmpty else {
            throw GoNetAddr.addrError("missing port in address", address: hostport)
        }
        // Saturates like Go's parsePort, so a long run of digits is "invalid", not an overflow.
        let number = port.reduce(0) { min($0 * 10 + Int($1) - Int(UInt8(ascii: "0")), 65_536) }
        guard port.allSatisfy(GoURLEscaping.isDigit), number <= 65_535 else {
            throw GoNetAddr.addrError("invalid port", address: port)
        }
        if !host.isEmpty && (try? GoNetAddr.parseAddr(host)) == nil && !GoNetAddr.isDomainName(host) {
            throw GoNetAddr.AddrError("lookup \(String(decoding: host, as: UTF8.self)): no such host")
        }
        return (host, UInt16(number))
    }

    /// §2.2 with our rule: the prefix is the path with trailing `/` removed (`/api` when that
    /// leaves nothing), and each of its segments must be RFC 3986 unreserved characters only,
    /// not `.` or `..`. The path is checked as written, so a percent-encoded character fails
    /// even when it decodes to an allowed one; the error shows it as written too.
    private static func apiBase(of url: GoURL) throws(MasterURLError) -> String {
        var prefix = url.rawPath.isEmpty ? GoURLEscaping.escape(url.path, .path) : url.rawPath
        while prefix.last == UInt8(ascii: "/") { prefix.removeLast() }
        if prefix.isEmpty { return "/api/v2" }
        // The path after an authority starts with `/`, so the first piece is always empty.
        let segments = prefix.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        let text = String(decoding: prefix, as: UTF8.self)
        guard segments.allSatisfy(isValidSegment) else {
            throw MasterURLError(message: newFailure + "invalid API prefix: \(text)")
        }
        return text + "/v2"
    }

    private static func isValidSegment(_ segment: ArraySlice<UInt8>) -> Bool {
        let marks = Array("-._~".utf8)
        return !segment.elementsEqual(".".utf8) && !segment.elementsEqual("..".utf8)
            && !segment.isEmpty
            && segment.allSatisfy { GoURLEscaping.isAlphanumeric($0) || marks.contains($0) }
    }
}

/// A startup failure of the master URL; `message` is the text after `error=` in the §1
/// envelope.
public struct MasterURLError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}
