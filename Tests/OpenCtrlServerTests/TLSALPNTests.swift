import Testing
@testable import OpenCtrlServer

/// Server-side ALPN selection over a client's RFC 7301 protocol list.
struct TLSALPNTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let offered: [UInt8]
        let expected: Int?
        let line: UInt

        init(_ name: String, _ offered: [UInt8], _ expected: Int?, line: UInt = #line) {
            self.name = name
            self.offered = offered
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { name }
    }

    static func list(_ names: String...) -> [UInt8] {
        names.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }

    static let cases: [Case] = [
        Case("only http/1.1", list("http/1.1"), 1),
        Case("h2 first", list("h2", "http/1.1"), 4),
        Case("http/1.1 first", list("http/1.1", "h2"), 1),
        Case("among others", list("spdy/3", "h2", "http/1.1", "http/1.0"), 11),
        Case("h2 only", list("h2"), nil),
        Case("http/1.0 only", list("http/1.0"), nil),
        Case("prefix of http/1.1", list("http/1."), nil),
        Case("longer name", list("http/1.11"), nil),
        Case("empty list", [], nil),
        Case("zero-length name", [0] + list("http/1.1"), nil),
        Case("name past the end", [9] + Array("http/1.1".utf8), nil),
        Case("truncated after a good name", list("h2") + [8, 0x68], nil),
    ]

    @Test(arguments: cases)
    func offset(_ c: Case) {
        let found = c.offered.withUnsafeBytes { TLSALPN.offsetOfHTTP11(in: $0) }
        #expect(found == c.expected, sourceLocation: c.location)
        if let found {
            #expect(Array(c.offered[found..<(found + 8)]) == TLSALPN.http11, sourceLocation: c.location)
        }
    }
}
