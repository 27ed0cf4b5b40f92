import Testing
@testable import OpenCtrlServer

/// Service names as Go's `readServices` and `lookupPortMap` handle them.
struct ServicePortsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let service: String
        let expected: Int?
        let line: UInt

        init(_ service: String, _ expected: Int?, line: UInt = #line) {
            self.service = service
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { service }
    }

    static let file = """
        # comment line
        tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
        echo\t\t7/tcp
        echo\t\t7/udp
        www 8080/tcp web web-alt # later lines win, aliases count
        http 8081/tcp
        big 70000/tcp
        onlyudp 9/udp
        nums 0/tcp
        huge 16777215/tcp
        noslash 99
        junk x9/tcp
        trailer 12/tcpx
        crlf 13/tcp\r
        Upper 14/tcp
        """

    static let table = ServicePorts.parse(etcServices: Array(file.utf8))

    static let found: [Case] = [
        Case("tcpmux", 1),
        Case("echo", 7),
        Case("www", 8080),
        Case("web", 8080),
        Case("web-alt", 8080),
        Case("http", 8081),
        Case("HTTP", 8081),
        Case("https", 443),
        Case("ssh", 22),
        Case("big", 70000),
        Case("crlf", 13),
        Case("submissions", 465),
    ]

    static let missing: [Case] = [
        Case("onlyudp", nil),
        Case("nums", nil),
        Case("huge", nil),
        Case("noslash", nil),
        Case("junk", nil),
        Case("trailer", nil),
        Case("Upper", nil),
        Case("comment", nil),
        Case("", nil),
        Case("domain", nil),
        Case("http-but-much-longer-than-25", nil),
        Case("#", nil),
    ]

    @Test(arguments: found + missing)
    func lookup(_ c: Case) {
        #expect(Self.table.port(for: Array(c.service.utf8)) == c.expected, sourceLocation: c.location)
    }

    @Test func builtInTableStandsAlone() {
        #expect(ServicePorts.builtIn.port(for: Array("gopher".utf8)) == 70)
        #expect(ServicePorts.builtIn.port(for: Array("tcpmux".utf8)) == nil)
        #expect(ServicePorts.parse(etcServices: []) == .builtIn)
    }
}
