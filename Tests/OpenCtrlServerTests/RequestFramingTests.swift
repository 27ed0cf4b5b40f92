import Testing
@testable import OpenCtrlServer

/// What evhttp accepts but a request must not mean two things (RequestFraming).
struct RequestFramingTests {
    struct Case {
        let name: String
        var headers: [(name: String, value: String)] = [("Host", "x")]
        var target = "/api/v2/info"
        var bytes = 100
        var hasNUL = false
        var versionZero = false
        let status: Int32?
        let line: UInt
    }

    static let cases: [Case] = [
        Case(name: "plain request", status: nil, line: #line),
        Case(name: "one Content-Length", headers: [("Content-Length", "2")], status: nil, line: #line),
        Case(name: "equal duplicates", headers: [("Content-Length", "2"), ("content-length", " 2 ")], status: nil, line: #line),
        Case(name: "chunked", headers: [("Transfer-Encoding", "Chunked")], status: nil, line: #line),
        Case(name: "head of exactly 16 KiB", bytes: 16 * 1024, status: nil, line: #line),
        Case(name: "token punctuation in a name", headers: [("X-A!#$%&'*+.^_`|~", "v")], status: nil, line: #line),
        Case(name: "differing Content-Lengths", headers: [("Content-Length", "2"), ("Content-Length", "40")], status: 400, line: #line),
        Case(name: "signed Content-Length", headers: [("Content-Length", "+2")], status: 400, line: #line),
        Case(name: "empty Content-Length", headers: [("Content-Length", "")], status: 400, line: #line),
        Case(name: "listed Content-Length", headers: [("Content-Length", "2, 2")], status: 400, line: #line),
        Case(name: "gzip coding", headers: [("Transfer-Encoding", "gzip")], status: 501, line: #line),
        Case(name: "identity coding", headers: [("Transfer-Encoding", "identity")], status: 501, line: #line),
        Case(name: "chunked listed twice", headers: [("Transfer-Encoding", "chunked, chunked")], status: 501, line: #line),
        Case(name: "space before the colon", headers: [("X-Foo ", "bar")], status: 400, line: #line),
        Case(name: "empty name", headers: [("", "bar")], status: 400, line: #line),
        Case(name: "NUL in the head", hasNUL: true, status: 400, line: #line),
        Case(name: "head over 16 KiB", bytes: 16 * 1024 + 1, status: 400, line: #line),
        Case(name: "space in the target", target: " /api/v2/info", status: 400, line: #line),
        Case(name: "tab in the target", target: "/api/\tv2", status: 400, line: #line),
        Case(name: "DEL in the target", target: "/api/v2\u{7F}", status: 400, line: #line),
        Case(name: "HTTP/0.9", versionZero: true, status: 505, line: #line),
    ]

    @Test(arguments: cases)
    func refusal(_ c: Case) {
        let head = RequestHead(versionZero: c.versionZero, target: c.target, headers: c.headers, bytes: c.bytes, hasNUL: c.hasNUL)
        let refusal = RequestFraming.refusal(head)
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(refusal?.status == c.status, "\(c.name)", sourceLocation: location)
        if let refusal {
            #expect(refusal.header("Connection") == "close", "\(c.name)", sourceLocation: location)
        }
    }

    @Test func http11BytesCarryTheStatusLineHeadersAndLength() {
        let bytes = RequestFraming.http11Bytes(Response(status: 505, headers: [(name: "Connection", value: "close")], body: Array("no".utf8)))
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno")
    }
}

extension RequestFramingTests.Case: CustomTestStringConvertible {
    var testDescription: String { name }
}
