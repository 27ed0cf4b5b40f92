import Testing
@testable import OpenCtrlServer

/// The result object: fixed field order, Go's escaping, truncated milliseconds, trailing newline.
struct TCPingResultTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let result: TCPingResult
        let expected: String
        let line: UInt

        init(_ result: TCPingResult, _ expected: String, line: UInt = #line) {
            self.result = result
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { expected }
    }

    static func target(_ s: String) -> [UInt8] { Array(s.utf8) }

    static let cases: [Case] = [
        Case(.connected(target: target("example.com:443"), after: .microseconds(38_999)),
             #"{"target":"example.com:443","connected":true,"latency":38,"error":null}"#),
        Case(.connected(target: target("h:1"), after: .microseconds(999)),
             #"{"target":"h:1","connected":true,"latency":0,"error":null}"#),
        Case(.connected(target: target("h:1"), after: .seconds(4) + .nanoseconds(999_999_999)),
             #"{"target":"h:1","connected":true,"latency":4999,"error":null}"#),
        Case(.failed(target: target("127.0.0.1:1"), error: target("dial tcp 127.0.0.1:1: connect: connection refused")),
             #"{"target":"127.0.0.1:1","connected":false,"latency":0,"error":"dial tcp 127.0.0.1:1: connect: connection refused"}"#),
        Case(.tooManyRequests(target: target("h:1")),
             #"{"target":"h:1","connected":false,"latency":0,"error":"too many requests"}"#),
        Case(.failed(target: target("<a&b>:1"), error: target("dial tcp: lookup <a&b>: no such host")),
             #"{"target":"\u003ca\u0026b\u003e:1","connected":false,"latency":0,"error":"dial tcp: lookup \u003ca\u0026b\u003e: no such host"}"#),
        Case(.failed(target: [0xFF, 0x3A, 0x31], error: Array("dial tcp: lookup ".utf8) + [0xFF] + Array(": no such host".utf8)),
             #"{"target":"\ufffd:1","connected":false,"latency":0,"error":"dial tcp: lookup \ufffd: no such host"}"#),
        Case(.failed(target: target("\u{2028}\"\\:1"), error: target("x")),
             #"{"target":"\u2028\"\\:1","connected":false,"latency":0,"error":"x"}"#),
    ]

    @Test(arguments: cases)
    func encodesLikeGo(_ c: Case) {
        #expect(c.result.json == Array((c.expected + "\n").utf8), sourceLocation: c.location)
    }

    @Test func failuresReportNoLatency() {
        #expect(TCPingResult.failed(target: [], error: []).latency == 0)
        #expect(TCPingResult.wholeMilliseconds(.zero - .seconds(1)) == 0)
    }
}
