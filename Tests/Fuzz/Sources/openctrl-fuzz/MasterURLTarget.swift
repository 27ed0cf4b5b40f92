import OpenCtrlServer

/// (1) The master's command line: the `url.Parse` port and `MasterURL.parse` on top of it.
///
/// Invariants: Go's `String()` of a parsed URL parses back to the same `String()`; the scheme
/// comes out lowercased; every error renders (Go quoting included). An accepted master URL
/// yields `/…/v2` and, rebuilt from its parts, parses to the same listen address, prefix and
/// TLS mode.
///
/// Text checks compare UTF-8 bytes: `String.hasPrefix` compares grapheme clusters, so to it a
/// `"` followed by a combining mark is not a `"`.
enum MasterURLTarget: FuzzTarget {
    static let name = "master-url"
    static let summary = "GoURL.parse + serialized round trip; MasterURL.parse, rebuilt from its parts"

    static func run(_ data: [UInt8]) {
        checkGoURL(data)
        checkMasterURL(String(decoding: data, as: UTF8.self))
    }

    private static func checkGoURL(_ data: [UInt8]) {
        let url: GoURL
        do {
            url = try GoURL.parse(bytes: data)
        } catch {
            require(error.description.utf8.starts(with: "parse \"".utf8), "error text \(show(error.description))")
            return
        }
        require(!url.scheme.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") },
                "scheme \(show(url.scheme)) not lowercased")
        // Go's own exceptions (checked against Go's net/url): a zone may hold raw non-ASCII,
        // which String() escapes but Parse refuses escaped in a zone; and a scheme-less path
        // starting with `//` (written `%2F/`) is printed as is and reads back as an authority.
        // Neither reaches OpenCtrl, which requires a scheme and copies zones unescaped.
        if hasNonASCIIZone(url.host) || (url.scheme.isEmpty && url.path.starts(with: "//".utf8)) { return }
        let once = url.serialized
        let again: GoURL
        do {
            again = try GoURL.parse(bytes: once)
        } catch {
            fail("\(show(data)) serializes to \(show(once)), which does not parse: \(error)")
        }
        require(again.serialized == once,
                "\(show(data)) serializes to \(show(once)), then to \(show(again.serialized))")
    }

    /// `[addr%zone]` (decoded) whose zone has a byte of 0x80 or above.
    private static func hasNonASCIIZone(_ host: [UInt8]) -> Bool {
        guard host.first == UInt8(ascii: "["), let percent = host.firstIndex(of: UInt8(ascii: "%")) else { return false }
        return host[percent...].contains { $0 >= 0x80 }
    }

    private static func checkMasterURL(_ text: String) {
        let parsed: MasterURL
        do {
            parsed = try MasterURL.parse(text)
        } catch {
            require(error.message.utf8.starts(with: "Main.start: ".utf8), "error text \(show(error.message))")
            return
        }
        require(parsed.apiBase.utf8.first == UInt8(ascii: "/") && parsed.apiBase.utf8.reversed().starts(with: "2v/".utf8),
                "\(show(text)): apiBase \(show(parsed.apiBase))")
        require(sameBytes(parsed.name, parsed.host), "\(show(text)): name differs from host")
        // A host needing escapes or a zone cannot be written back plainly; the rest can.
        let plain = parsed.host.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || Array(".-_:".utf8).contains(byte)
        }
        guard plain else { return }
        let host = parsed.host.utf8.contains(UInt8(ascii: ":")) ? "[\(parsed.host)]" : parsed.host
        let prefix = String(parsed.apiBase.dropLast(3))
        let rebuilt = "master://\(host):\(parsed.port)\(prefix)?tls=\(parsed.tls.rawValue)"
        let again: MasterURL
        do {
            again = try MasterURL.parse(rebuilt)
        } catch {
            fail("\(show(text)) rebuilt as \(show(rebuilt)) is refused: \(error.message)")
        }
        require(sameBytes(again.host, parsed.host) && again.port == parsed.port
                    && sameBytes(again.apiBase, parsed.apiBase) && again.tls == parsed.tls,
                "\(show(text)) rebuilt as \(show(rebuilt)) parses to \(again), not \(parsed)")
    }
}
