import Testing
@testable import OpenCtrlServer

/// `/tcping` targets as Go's `net.Dial("tcp", …)` reads them: `SplitHostPort`, `LookupPort`
/// (with `parsePort`'s quirks) and the IP-literal check, with Go's error texts.
struct TCPingTargetTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: [UInt8]
        /// `ip <text>|<port>`, `name <host>|<port>`, `unspecified|<port>`, or the error message.
        let expected: String
        let line: UInt

        init(_ input: String, _ expected: String, line: UInt = #line) {
            self.init(bytes: Array(input.utf8), expected, line: line)
        }

        init(bytes: [UInt8], _ expected: String, line: UInt = #line) {
            input = bytes
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { String(decoding: input, as: UTF8.self) }
    }

    static let good: [Case] = [
        Case("example.com:443", "name example.com|443"),
        Case("1.2.3.4:80", "ip 1.2.3.4|80"),
        Case("[::1]:8080", "ip ::1|8080"),
        Case("[fe80::1%eth0]:22", "ip fe80::1%eth0|22"),
        Case("[::ffff:10.0.0.1]:1", "ip 10.0.0.1|1"),
        Case(":80", "unspecified|80"),
        Case("h:", "name h|0"),
        Case("h:0", "name h|0"),
        Case("h:65535", "name h|65535"),
        Case("h:+80", "name h|80"),
        Case("h:-0", "name h|0"),
        Case("h:+", "name h|0"),
        Case("h:0080", "name h|80"),
        Case("h:http", "name h|80"),
        Case("h:HTTPS", "name h|443"),
        Case("01.2.3.4:80", "name 01.2.3.4|80"),
        Case("1.2.3.4%eth0:80", "name 1.2.3.4%eth0|80"),
        // Go multiplies in 32 bits before its overflow check, so this wraps to port 4.
        Case("h:4294967300", "name h|4"),
    ]

    static let bad: [Case] = [
        Case("", "dial tcp: missing port in address"),
        Case("example.com", "dial tcp: address example.com: missing port in address"),
        Case("[::1]", "dial tcp: address [::1]: missing port in address"),
        Case("[::1]x:80", "dial tcp: address [::1]x:80: missing port in address"),
        Case("[a]b]:80", "dial tcp: address [a]b]:80: missing port in address"),
        Case("a:b:c", "dial tcp: address a:b:c: too many colons in address"),
        Case("::1:80", "dial tcp: address ::1:80: too many colons in address"),
        Case("[::1]:80:81", "dial tcp: address [::1]:80:81: too many colons in address"),
        Case("[::1:80", "dial tcp: address [::1:80: missing ']' in address"),
        Case("a[b:80", "dial tcp: address a[b:80: unexpected '[' in address"),
        Case("a]b:80", "dial tcp: address a]b:80: unexpected ']' in address"),
        Case("h:65536", "dial tcp: address 65536: invalid port"),
        Case("h:-1", "dial tcp: address -1: invalid port"),
        Case("h:99999999999", "dial tcp: address 99999999999: invalid port"),
        // Saturated before the `x`, which Go then never looks at.
        Case("h:999999999999x", "dial tcp: address 999999999999x: invalid port"),
        Case("h:foo", "dial tcp: lookup tcp/foo: unknown port"),
        Case("h:1x", "dial tcp: lookup tcp/1x: unknown port"),
        Case("h:+-1", "dial tcp: lookup tcp/+-1: unknown port"),
        Case("h:\u{663}", "dial tcp: lookup tcp/\u{663}: unknown port"),
        Case(bytes: Array("h:".utf8) + [0xFF], "dial tcp: lookup tcp/\u{FFFD}: unknown port"),
    ]

    @Test(arguments: good + bad)
    func parsesLikeGo(_ c: Case) {
        let result: String
        do {
            let target = try TCPingTarget.parse(c.input)
            switch target.host {
            case .unspecified: result = "unspecified|\(target.port)"
            case .ip(let ip):
                let zone = ip.zone.isEmpty ? "" : "%" + String(decoding: ip.zone, as: UTF8.self)
                result = "ip \(ip.text)\(zone)|\(target.port)"
            case .name(let name): result = "name \(String(decoding: name, as: UTF8.self))|\(target.port)"
            }
        } catch {
            result = String(decoding: error.message, as: UTF8.self)
        }
        #expect(result == c.expected, sourceLocation: c.location)
    }

    @Test func errorMessagesKeepInvalidUTF8Bytes() throws {
        let target: [UInt8] = [0xFF, 0x3A, 0x2D, 0x35]
        let error = #expect(throws: TCPingTargetError.self) { try TCPingTarget.parse(target) }
        #expect(error?.message == Array("dial tcp: address -5: invalid port".utf8))
        let noPort = #expect(throws: TCPingTargetError.self) { try TCPingTarget.parse([0xFF]) }
        #expect(noPort?.message == Array("dial tcp: address ".utf8) + [0xFF] + Array(": missing port in address".utf8))
    }

    @Test func namedPortsComeFromTheGivenTable() throws {
        let table = ServicePorts.parse(etcServices: Array("custom 7000/tcp\n".utf8))
        #expect(try TCPingTarget.parse(Array("h:custom".utf8), services: table).port == 7000)
        let error = #expect(throws: TCPingTargetError.self) { try TCPingTarget.parse(Array("h:custom".utf8)) }
        #expect(error?.reason == .unknownPort)
    }
}
