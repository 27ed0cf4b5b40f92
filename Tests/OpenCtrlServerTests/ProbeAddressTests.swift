import Testing
@testable import OpenCtrlServer

/// IP literals as `netip.ParseAddr` accepts them, printed as Go's `IP.String()` and
/// `TCPAddr.String()` print them in dial errors.
struct ProbeAddressTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: String
        /// The dial label for port 80, or `nil` when the text is not an IP literal.
        let expected: String?
        let line: UInt

        init(_ input: String, _ expected: String?, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { input }
    }

    static let literals: [Case] = [
        Case("1.2.3.4", "1.2.3.4:80"),
        Case("0.0.0.0", "0.0.0.0:80"),
        Case("::1", "[::1]:80"),
        Case("::", "[::]:80"),
        Case("1::", "[1::]:80"),
        Case("FE80::A:1%eth0", "[fe80::a:1%eth0]:80"),
        Case("1:0:0:1:0:0:0:1", "[1:0:0:1::1]:80"),
        Case("1:0:0:0:1:0:0:1", "[1::1:0:0:1]:80"),
        Case("1:0:3:4:5:6:7:8", "[1:0:3:4:5:6:7:8]:80"),
        Case("2001:db8:0:0:0:0:2:1", "[2001:db8::2:1]:80"),
        Case("::1.2.3.4", "[::102:304]:80"),
        Case("::ffff:1.2.3.4", "1.2.3.4:80"),
        Case("::ffff:1.2.3.4%z", "1.2.3.4%z:80"),
    ]

    static let names: [Case] = [
        Case("", nil),
        Case("localhost", nil),
        Case("01.2.3.4", nil),
        Case("1.2.3", nil),
        Case("1.2.3.256", nil),
        Case("1.2.3.4%eth0", nil),
        Case("fe80::1%", nil),
        Case("::1::", nil),
        Case("12345::", nil),
        Case("1:2:3:4:5:6:7:8:9", nil),
        Case("[::1]", nil),
        Case("%eth0", nil),
        Case("g::1", nil),
    ]

    @Test(arguments: literals + names)
    func literalLabels(_ c: Case) {
        let label = ProbeIP(literal: Array(c.input.utf8)).map { String(decoding: DialAddress(ip: $0, port: 80).label, as: UTF8.self) }
        #expect(label == c.expected, sourceLocation: c.location)
    }

    @Test func mappedAddressesAreIPv4() throws {
        let mapped = try #require(ProbeIP(literal: Array("::ffff:127.0.0.1".utf8)))
        #expect(mapped.isIPv4)
        #expect(mapped.bytes == [127, 0, 0, 1])
        let compatible = try #require(ProbeIP(literal: Array("::127.0.0.1".utf8)))
        #expect(!compatible.isIPv4)
        #expect(ProbeIP(bytes: [1, 2, 3]) == nil)
    }

    @Test func unspecifiedHostHasAnEmptyIP() {
        let address = DialAddress.unspecified(port: 8080)
        #expect(address.label == Array(":8080".utf8))
        #expect(address.ip.bytes == [0, 0, 0, 0])
    }
}
