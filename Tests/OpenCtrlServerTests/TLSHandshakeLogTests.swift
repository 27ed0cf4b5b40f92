import Glibc
import Testing
@testable import OpenCtrlServer

/// The peer address in `http: TLS handshake error from <addr>: …`, printed as Go prints it.
struct TLSHandshakeLogTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let family: Int32
        let address: String
        let port: UInt16
        let expected: String?
        let line: UInt

        init(_ family: Int32, _ address: String, _ port: UInt16, _ expected: String?, line: UInt = #line) {
            self.family = family
            self.address = address
            self.port = port
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "\(address) \(port)" }
    }

    static let cases: [Case] = [
        Case(AF_INET, "127.0.0.1", 54321, "127.0.0.1:54321"),
        Case(AF_INET, "10.1.2.3", 1, "10.1.2.3:1"),
        Case(AF_INET, "0.0.0.0", 0, "0.0.0.0:0"),
        Case(AF_INET6, "::1", 443, "[::1]:443"),
        Case(AF_INET6, "fe80::1:2", 65535, "[fe80::1:2]:65535"),
        Case(AF_INET6, "::ffff:192.0.2.7", 8080, "192.0.2.7:8080"),
        Case(AF_INET6, "::192.0.2.7", 8080, "[::192.0.2.7]:8080"),
        Case(AF_UNIX, "", 0, nil),
    ]

    @Test(arguments: cases)
    func addressText(_ c: Case) {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            switch c.family {
            case AF_INET:
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = c.port.bigEndian
                _ = inet_pton(AF_INET, c.address, &sin.sin_addr)
                raw.storeBytes(of: sin, as: sockaddr_in.self)
            case AF_INET6:
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = c.port.bigEndian
                _ = inet_pton(AF_INET6, c.address, &sin6.sin6_addr)
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
            default:
                raw.storeBytes(of: sa_family_t(c.family), as: sa_family_t.self)
            }
        }
        #expect(TLSHandshakeLog.addressText(storage) == c.expected,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }
}
