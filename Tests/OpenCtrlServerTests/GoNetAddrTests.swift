import Testing
@testable import OpenCtrlServer

/// Go's `netip.ParseAddr` (1.26 texts), `net.SplitHostPort` and `isDomainName`.
struct GoNetAddrTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: String
        /// `v4`, `v6`, `host|port`, `true`/`false`, or the error text.
        let expected: String
        let line: UInt

        init(_ input: String, _ expected: String, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { input }
    }

    static let addresses: [Case] = [
        Case("1.2.3.4", "v4"),
        Case("0.0.0.0", "v4"),
        Case("::1", "v6"),
        Case("::", "v6"),
        Case("fe80::1%eth0", "v6"),
        Case("::ffff:1.2.3.4", "v6"),
        Case("1:2:3:4:5:6:7:8", "v6"),
        Case("1:2:3:4:5:6:1.2.3.4", "v6"),
        Case("ABCD::ef", "v6"),
        Case("", #"ParseAddr(""): unable to parse IP"#),
        Case("1x", #"ParseAddr("1x"): unable to parse IP"#),
        Case("%x", #"ParseAddr("%x"): missing IPv6 address"#),
        Case("1.2.3", #"ParseAddr("1.2.3"): IPv4 address too short"#),
        Case("1.2.3.4.5", #"ParseAddr("1.2.3.4.5"): IPv4 address too long"#),
        Case("01.2.3.4", #"ParseAddr("01.2.3.4"): IPv4 field has octet with leading zero"#),
        Case("256.1.1.1", #"ParseAddr("256.1.1.1"): IPv4 field has value >255"#),
        Case("1..2.3", #"ParseAddr("1..2.3"): IPv4 field must have at least one digit (at ".2.3")"#),
        Case("1.2.3.4x", #"ParseAddr("1.2.3.4x"): unexpected character (at "x")"#),
        Case("1.2.3.4%eth0", #"ParseAddr("1.2.3.4%eth0"): unexpected character (at "%eth0")"#),
        Case("fe80::1%", #"ParseAddr("fe80::1%"): zone must be a non-empty string"#),
        Case("12345::", #"ParseAddr("12345::"): each group must have 4 or less digits (at "12345::")"#),
        Case(":1", #"ParseAddr(":1"): each colon-separated field must have at least one digit (at ":1")"#),
        Case("1:x", #"ParseAddr("1:x"): each colon-separated field must have at least one digit (at "x")"#),
        Case("1:2", #"ParseAddr("1:2"): address string too short"#),
        Case("1::2::3", #"ParseAddr("1::2::3"): multiple :: in address (at ":3")"#),
        Case("1:2:3:4:5:6:7:8:9", #"ParseAddr("1:2:3:4:5:6:7:8:9"): trailing garbage after address (at "9")"#),
        Case("1:2:3:4:5:6:7::8", #"ParseAddr("1:2:3:4:5:6:7::8"): the :: must expand to at least one field of zeros"#),
        Case("1:2:3:4:5:6:7:1.2.3.4", #"ParseAddr("1:2:3:4:5:6:7:1.2.3.4"): embedded IPv4 address must replace the final 2 fields of the address (at "1.2.3.4")"#),
        Case("1:2:3:4:5:6:7:8:1.2.3.4", #"ParseAddr("1:2:3:4:5:6:7:8:1.2.3.4"): trailing garbage after address (at "1.2.3.4")"#),
        Case("1:", #"ParseAddr("1:"): colon must be followed by more characters (at ":")"#),
        Case("1:2x", #"ParseAddr("1:2x"): unexpected character, want colon (at "x")"#),
        Case("::ffff:1.2.3.04%z", #"ParseAddr("::ffff:1.2.3.04%z"): IPv4 field has octet with leading zero"#),
        Case("::ffff:1.2.3.4x%z", #"ParseAddr("::ffff:1.2.3.4x%z"): unexpected character (at "x")"#),
    ]

    @Test(arguments: addresses)
    func parseAddrMatchesNetip(_ c: Case) {
        let result: String
        do {
            result = try GoNetAddr.parseAddr(Array(c.input.utf8)) == .v4 ? "v4" : "v6"
        } catch {
            result = error.message
        }
        #expect(result == c.expected, sourceLocation: c.location)
    }

    static let hostPorts: [Case] = [
        Case("h:80", "h|80"),
        Case(":0", "|0"),
        Case("h:", "h|"),
        Case("[::1]:80", "::1|80"),
        Case("[fe80::1%eth0]:", "fe80::1%eth0|"),
        Case("", "missing port in address"),
        Case("h", "address h: missing port in address"),
        Case("[::1]", "address [::1]: missing port in address"),
        Case("[::1]x:80", "address [::1]x:80: missing port in address"),
        Case("[::1]:80:80", "address [::1]:80:80: too many colons in address"),
        Case("[::1:80", "address [::1:80: missing ']' in address"),
        Case("::1:80", "address ::1:80: too many colons in address"),
        Case("a[b:80", "address a[b:80: unexpected '[' in address"),
        Case("[a[b]:80", "address [a[b]:80: unexpected '[' in address"),
        Case("a]:80", "address a]:80: unexpected ']' in address"),
    ]

    @Test(arguments: hostPorts)
    func splitHostPortMatchesNet(_ c: Case) {
        let result: String
        do {
            let (host, port) = try GoNetAddr.splitHostPort(Array(c.input.utf8))
            result = String(decoding: host, as: UTF8.self) + "|" + String(decoding: port, as: UTF8.self)
        } catch {
            result = error.message
        }
        #expect(result == c.expected, sourceLocation: c.location)
    }

    static let names: [Case] = [
        Case("localhost", "true"),
        Case("a.b-c_d.example.", "true"),
        Case(".", "true"),
        Case("1a", "true"),
        Case(String(repeating: "a", count: 63) + ".x", "true"),
        Case(String(repeating: "a.", count: 127), "true"),
        Case("", "false"),
        Case("1234", "false"),
        Case("1.2.3.4.5", "false"),
        Case("a..b", "false"),
        Case("-a", "false"),
        Case("a-", "false"),
        Case("a-.b", "false"),
        Case("a.-b", "false"),
        Case("a b", "false"),
        Case("ü", "false"),
        Case(String(repeating: "a", count: 64) + ".x", "false"),
        Case(String(repeating: "a.", count: 126) + "ab", "false"),
    ]

    @Test(arguments: names)
    func isDomainNameMatchesNet(_ c: Case) {
        #expect(String(GoNetAddr.isDomainName(Array(c.input.utf8))) == c.expected, sourceLocation: c.location)
    }
}
