import Testing
@testable import OpenCtrlServer

/// The logs route's query (CONTRACT §22.2): ranges, the first value of a key, unknown keys
/// ignored, and the three 400 messages.
@Suite struct HistoryQueryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let query: String
        let expected: Result<HistoryQuery, APIError>
        var testDescription: String { query }
    }

    static func ok(_ query: String, tail: Int = 100, after: UInt64? = nil, text: Bool = false) -> Case {
        Case(query: query, expected: .success(HistoryQuery(tail: tail, after: after, text: text)))
    }

    static func bad(_ query: String, _ message: String) -> Case {
        Case(query: query, expected: .failure(.badRequest(message)))
    }

    @Test(arguments: [
        ok(""),
        ok("tail=1", tail: 1),
        ok("tail=500", tail: 500),
        ok("tail=007", tail: 7),
        ok("tail=%35", tail: 5),
        ok("tail=5&tail=x", tail: 5),
        ok("after=0", after: 0),
        ok("after=9223372036854775807", after: 9_223_372_036_854_775_807),
        ok("format=text", text: true),
        ok("tail=2&after=9&format=text", tail: 2, after: 9, text: true),
        ok("foo=bar&Tail=x&FORMAT=json", tail: 100),
        ok("tail=x;y&after=1", after: 1),
        bad("tail=0", "invalid tail"),
        bad("tail=501", "invalid tail"),
        bad("tail=-1", "invalid tail"),
        bad("tail=+5", "invalid tail"),
        bad("tail= 5", "invalid tail"),
        bad("tail=", "invalid tail"),
        bad("tail", "invalid tail"),
        bad("tail=1e2", "invalid tail"),
        bad("tail=99999999999999999999999", "invalid tail"),
        bad("after=9223372036854775808", "invalid after"),
        bad("after=18446744073709551616", "invalid after"),
        bad("after=-1", "invalid after"),
        bad("after=", "invalid after"),
        bad("after=0x10", "invalid after"),
        bad("format=json", "invalid format"),
        bad("format=TEXT", "invalid format"),
        bad("format=", "invalid format"),
        bad("tail=0&after=x&format=y", "invalid tail"),
        bad("after=x&format=y", "invalid after"),
    ])
    func parse(_ c: Case) {
        let got: Result<HistoryQuery, APIError>
        do throws(APIError) {
            got = .success(try HistoryQuery.parse(Array(c.query.utf8)))
        } catch {
            got = .failure(error)
        }
        #expect(got == c.expected)
    }
}
