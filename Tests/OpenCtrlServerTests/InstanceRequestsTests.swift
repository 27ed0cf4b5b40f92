import Testing
@testable import OpenCtrlServer

private func repeated(_ s: String, _ n: Int) -> String {
    String(repeating: s, count: n)
}

/// `{"meta":{"tags":{...}}}` with the entries in the given document order.
private func tagsBody(_ entries: [(String, String)]) -> String {
    #"{"meta":{"tags":{"# + entries.map { #""\#($0.0)":"\#($0.1)""# }.joined(separator: ",") + "}}}"
}

private func distinctTags(_ n: Int) -> [(String, String)] {
    (0..<n).map { ("k\($0)", "v") }
}

/// The error `body` throws, or `nil` when it succeeds.
private func failure<T>(_ body: () throws(APIError) -> T) -> APIError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Byte-identical encodings: `InstanceRecord ==` compares strings by canonical equivalence.
private func identical(_ a: InstanceRecord, _ b: InstanceRecord) -> Bool {
    a.jsonBytes == b.jsonBytes
}

private func json(_ r: InstanceRecord) -> Comment {
    Comment(rawValue: String(decoding: r.jsonBytes, as: UTF8.self))
}

private func location(_ line: UInt) -> SourceLocation {
    SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
}

/// The record as the 32 KiB rule measures it: status and metrics at their widest. Spelled out
/// here rather than taken from the implementation, so the tests state the rule independently.
private func widest(_ record: InstanceRecord) -> InstanceRecord {
    var r = record
    r.status = "running"
    (r.mode, r.ping, r.pool, r.tcps, r.udps) = (.min, .min, .min, .min, .min)
    (r.tcprx, r.tcptx, r.udprx, r.udptx) = (.max, .max, .max, .max)
    return r
}

/// At most `maxChars` characters of `a` (one JSON byte) and `<` (six: `\u003c`) whose JSON text
/// is exactly `extra` bytes longer than their count of quotes.
private func filler(jsonBytes extra: Int, maxChars: Int) -> String {
    let escaped = max(0, (extra - maxChars + 4) / 5)
    let plain = extra - 6 * escaped
    precondition(plain >= 0 && plain + escaped <= maxChars, "no filler of \(extra) bytes in \(maxChars) characters")
    return repeated("a", plain) + repeated("<", escaped)
}

/// The tags of a PATCH that brings `record` to exactly `target` bytes as the cap measures it:
/// plain tags of 518 JSON bytes each, then one tag whose value makes up the rest.
private func tagsFilling(_ record: InstanceRecord, to target: Int) -> [(String, String)] {
    var tags: [(String, String)] = []
    func size() -> Int {
        var r = record
        r.tags = tags.map { Tag(key: $0.0, value: $0.1) }
        return widest(r).jsonBytes.count
    }
    let lastTagOverhead = #","~":"""#.utf8.count
    while target - size() - lastTagOverhead > 1024 {
        let key = "k" + String(tags.count + 100)
        tags.append((key + repeated("a", 256 - key.utf8.count), repeated("a", 256)))
    }
    let rest = target - size() - (tags.isEmpty ? lastTagOverhead - 1 : lastTagOverhead)
    tags.append(("~", filler(jsonBytes: rest, maxChars: 256)))
    return tags
}

struct InstanceRequestsErrorTests {
    enum Route: Sendable { case create, patch, put }

    struct Case: Sendable, CustomTestStringConvertible {
        let route: Route
        let body: [UInt8]
        let message: String
        let line: UInt

        init(_ route: Route, _ body: String, _ message: String, line: UInt = #line) {
            self.init(route, bytes: Array(body.utf8), message, line: line)
        }

        init(_ route: Route, bytes: [UInt8], _ message: String, line: UInt = #line) {
            self.route = route
            self.body = bytes
            self.message = message
            self.line = line
        }

        var testDescription: String { "line \(line): \(message)" }
    }

    static let invalidBody = "Invalid request body"
    static let aliasTooLong = "instance alias exceeds maximum length 256"
    static let urlPrefix = "Master.normalizeInstanceURL: "
    static let long = repeated("a", 257)
    static let longMultibyte = repeated("é", 129)  // 129 characters, 258 bytes

    static let cases: [Case] = [
        Case(.create, "", invalidBody),
        Case(.create, "{", invalidBody),
        Case(.create, "[]", invalidBody),
        Case(.create, "null", invalidBody),
        Case(.create, "{}", invalidBody),
        Case(.create, #"{"alias":"x"}"#, invalidBody),
        Case(.create, #"{"url":""}"#, invalidBody),
        Case(.create, #"{"url":null}"#, invalidBody),
        Case(.create, #"{"url":5}"#, invalidBody),
        Case(.create, #"{"url":"edge://h","alias":1}"#, invalidBody),
        Case(.create, #"{"url":"edge://h"} x"#, invalidBody),
        Case(.create, bytes: Array(#"{"url":"edge://h/"#.utf8) + [0xC3] + Array(#""}"#.utf8), invalidBody),
        Case(.create, #"{"url":"edge://h","alias":"\#(long)"}"#, aliasTooLong),
        Case(.create, #"{"url":"edge://h","ALIAS":"\#(longMultibyte)"}"#, aliasTooLong),
        Case(.create, #"{"url":":x"}"#, urlPrefix + #"invalid URL format: parse ":x": missing protocol scheme"#),
        Case(.create, #"{"url":"edge-a"}"#, urlPrefix + "missing URL scheme"),
        Case(.create, #"{"url":"//host/x"}"#, urlPrefix + "missing URL scheme"),
        Case(.create, #"{"url":"MaStEr://h"}"#, urlPrefix + "master cannot manage master URL"),
        Case(.create, #"{"url":"a:\#(repeated("b", 8191))"}"#, "instance URL exceeds maximum length 8192"),
        Case(.create, #"{"url":"a:?\#(repeated("<", 8189))"}"#, "instance too large"),
        Case(.patch, "", invalidBody),
        Case(.patch, "[]", invalidBody),
        Case(.patch, #"{"restart":"yes"}"#, invalidBody),
        Case(.patch, #"{"action":5}"#, invalidBody),
        Case(.patch, #"{"meta":[]}"#, invalidBody),
        Case(.patch, #"{"meta":{"peer":{"sid":1}}}"#, invalidBody),
        Case(.patch, #"{"meta":{"tags":{"a":1}}}"#, invalidBody),
        Case(.patch, #"{"alias":"\#(long)"}"#, aliasTooLong),
        Case(.patch, #"{"Alias":"\#(longMultibyte)"}"#, aliasTooLong),
        Case(.patch, #"{"action":"bogus"}"#, "Invalid action: bogus"),
        Case(.patch, #"{"action":"START"}"#, "Invalid action: START"),
        Case(.patch, #"{"action":" stop"}"#, "Invalid action:  stop"),
        Case(.patch, #"{"action":"<re\"set>"}"#, #"Invalid action: <re"set>"#),
        Case(.patch, #"{"meta":{"peer":{"sid":"\#(long)"}}}"#, "meta peer.sid exceeds maximum length 256"),
        Case(.patch, #"{"meta":{"peer":{"type":"\#(longMultibyte)"}}}"#, "meta peer.type exceeds maximum length 256"),
        Case(.patch, #"{"meta":{"PEER":{"Alias":"\#(long)"}}}"#, "meta peer.alias exceeds maximum length 256"),
        Case(.patch, tagsBody([(long, "v")]), "meta tag key exceeds maximum length 256"),
        Case(.patch, tagsBody([("k", longMultibyte)]), "meta tag value exceeds maximum length 256"),
        Case(.patch, tagsBody(distinctTags(129)), "meta tags exceed maximum count 128"),
        Case(.put, "", invalidBody),
        Case(.put, "null", invalidBody),
        Case(.put, "{}", invalidBody),
        Case(.put, #"{"url":""}"#, invalidBody),
        Case(.put, #"{"url":true}"#, invalidBody),
        Case(.put, #"{"url":"edge://h\u0001"}"#,
             urlPrefix + #"invalid URL format: parse "edge://h\x01": net/url: invalid control character in URL"#),
        Case(.put, #"{"url":"edge-a"}"#, urlPrefix + "missing URL scheme"),
        Case(.put, #"{"URL":"master:x"}"#, urlPrefix + "master cannot manage master URL"),
        Case(.put, #"{"url":"a:\#(repeated("é", 4096))"}"#, "instance URL exceeds maximum length 8192"),
    ]

    /// Several violations at once: the contract's first check answers.
    static let orderCases: [Case] = [
        Case(.create, #"{"alias":"\#(long)"}"#, invalidBody),
        Case(.create, #"{"url":"edge-a","alias":"\#(long)"}"#, urlPrefix + "missing URL scheme"),
        Case(.create, #"{"url":"a:\#(repeated("b", 8191))","alias":"\#(long)"}"#, "instance URL exceeds maximum length 8192"),
        Case(.create, #"{"url":"a:?\#(repeated("<", 8189))","alias":"\#(long)"}"#, aliasTooLong),
        Case(.patch, #"{"alias":"\#(long)","restart":"yes"}"#, invalidBody),
        Case(.patch, #"{"action":"bogus","alias":"\#(long)"}"#, aliasTooLong),
        Case(.patch, #"{"meta":{"peer":{"sid":"\#(long)"}},"action":"bogus"}"#, "Invalid action: bogus"),
        Case(.patch, #"{"meta":{"peer":{"alias":"\#(long)","type":"\#(long)","sid":"\#(long)"}}}"#,
             "meta peer.sid exceeds maximum length 256"),
        Case(.patch, #"{"meta":{"peer":{"alias":"\#(long)","type":"\#(long)"}}}"#,
             "meta peer.type exceeds maximum length 256"),
        Case(.patch, #"{"meta":{"tags":{"\#(long)":"v"},"peer":{"alias":"\#(long)"}}}"#,
             "meta peer.alias exceeds maximum length 256"),
        // Sorted key order, not document order: "a" (bad value) is checked before "b" (bad key).
        Case(.patch, tagsBody([("b" + long, "v"), ("a", long)]), "meta tag value exceeds maximum length 256"),
        Case(.patch, tagsBody([("b", long), ("a" + long, "v")]), "meta tag key exceeds maximum length 256"),
        Case(.patch, tagsBody([(long, long)]), "meta tag key exceeds maximum length 256"),
        Case(.patch, tagsBody(distinctTags(128) + [("~", long)]), "meta tag value exceeds maximum length 256"),
        Case(.patch, #"{"alias":"\#(long)","meta":{"tags":{"# + distinctTags(129).map { #""\#($0.0)":"v""# }.joined(separator: ",") + "}}}",
             aliasTooLong),
    ]

    @Test(arguments: cases + orderCases)
    func refuses(_ c: Case) {
        let error: APIError? = switch c.route {
        case .create: failure { () throws(APIError) in try InstanceRequests.create(body: c.body, id: "d34db33f") }
        case .patch: failure { () throws(APIError) in try InstanceRequests.patch(body: c.body) }
        case .put: failure { () throws(APIError) in try InstanceRequests.putURL(body: c.body) }
        }
        #expect(error == .badRequest(c.message), sourceLocation: location(c.line))
    }
}

struct InstanceRequestsCreateTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let body: String
        let alias: String
        let type: String
        let url: String
        let line: UInt

        init(_ body: String, alias: String = "", type: String, url: String, line: UInt = #line) {
            (self.body, self.alias, self.type, self.url, self.line) = (body, alias, type, url, line)
        }

        var testDescription: String { "line \(line)" }
    }

    static let cases: [Case] = [
        Case(#"{"url":"edge://h/p"}"#, type: "edge", url: "edge://h/p"),
        Case(#"{"alias":"edge-a","url":"EDGE://Host/a b"}"#, alias: "edge-a", type: "edge", url: "edge://Host/a%20b"),
        Case(#"{"ALIAS":"x","Url":"Managed:Edge"}"#, alias: "x", type: "managed", url: "managed:Edge"),
        Case(#"{"url":"a:1","url":"b+c.d-e:x"}"#, type: "b+c.d-e", url: "b+c.d-e:x"),
        Case(#"{"url":"x:y","alias":null}"#, type: "x", url: "x:y"),
        Case(#"{"url":"x:y","alias":"\#(repeated("a", 256))"}"#, alias: repeated("a", 256), type: "x", url: "x:y"),
        Case(#"{"url":"x:y","alias":"\#(repeated("é", 128))"}"#, alias: repeated("é", 128), type: "x", url: "x:y"),
        Case(#"{"url":"x:\#(repeated("b", 8190))"}"#, type: "x", url: "x:" + repeated("b", 8190)),
        Case(#"{"url":"x:?\#(repeated("<", 5000))","other":1}"#, type: "x", url: "x:?" + repeated("<", 5000)),
    ]

    @Test(arguments: cases)
    func creates(_ c: Case) throws {
        let record = try InstanceRequests.create(body: Array(c.body.utf8), id: "d34db33f")
        var expected = InstanceRecord(id: "d34db33f")
        (expected.alias, expected.type, expected.url) = (c.alias, c.type, c.url)
        (expected.status, expected.restart) = ("stopped", true)
        #expect(identical(record, expected), json(record), sourceLocation: location(c.line))
    }

    @Test func keepsTheGivenID() throws {
        let record = try InstanceRequests.create(body: Array(#"{"url":"x:y"}"#.utf8), id: "0a1b2c3d")
        #expect(record.id == "0a1b2c3d")
    }

    /// The URL can make a record too large on its own: the query is kept raw and each `<` costs
    /// six bytes of JSON.
    @Test(arguments: [0, 1])
    func capsTheEncodedRecord(overshoot: Int) throws {
        let id = "d34db33f"
        var base = InstanceRecord(id: id)
        (base.status, base.restart, base.type, base.url) = ("stopped", true, "x", "x:?")
        let maxChars = InstanceURL.maximumLength - base.url.utf8.count
        let query = filler(jsonBytes: 32 * 1024 - widest(base).jsonBytes.count + overshoot, maxChars: maxChars)
        let body = Array(#"{"url":"x:?\#(query)"}"#.utf8)
        if overshoot == 0 {
            let record = try InstanceRequests.create(body: body, id: id)
            #expect(widest(record).jsonBytes.count == 32 * 1024)
        } else {
            #expect(failure { () throws(APIError) in try InstanceRequests.create(body: body, id: id) } == .badRequest("instance too large"))
        }
    }
}

struct InstanceRequestsPatchTests {
    typealias Request = InstanceRequests.PatchRequest

    struct Case: Sendable, CustomTestStringConvertible {
        let body: String
        let expected: Request
        let line: UInt

        init(_ body: String, _ expected: Request, line: UInt = #line) {
            (self.body, self.expected, self.line) = (body, expected, line)
        }

        var testDescription: String { "line \(line)" }
    }

    static let max = repeated("é", 128)
    static let maxTags = distinctTags(128)

    static let cases: [Case] = [
        Case("null", Request()),
        Case("{}", Request()),
        Case(#"{"alias":"","action":"","restart":null,"meta":null}"#, Request(alias: "")),
        Case(#"{"alias":"edge-b","action":"restart","restart":true}"#, Request(alias: "edge-b", action: .restart, restart: true)),
        Case(#"{"action":"start"}"#, Request(action: .start)),
        Case(#"{"action":"stop"}"#, Request(action: .stop)),
        Case(#"{"action":"reset","restart":false}"#, Request(action: .reset, restart: false)),
        Case(#"{"action":"stop","action":null}"#, Request(action: .stop)),
        Case(#"{"restart":true,"restart":null}"#, Request()),
        Case(#"{"meta":{}}"#, Request()),
        Case(#"{"meta":{"peer":null,"tags":null}}"#, Request()),
        Case(#"{"meta":{"peer":{}}}"#, Request(peer: Peer())),
        Case(#"{"meta":{"peer":{"sid":"s"}}}"#, Request(peer: Peer(sid: "s"))),
        Case(#"{"meta":{"tags":{}}}"#, Request(tags: [])),
        Case(#"{"ACTION":"stop","Restart":true,"mEtA":{"PEER":{"SID":"s","Type":"t","aliaS":"a"},"TAGS":{"b":"1","a":"2"}}}"#,
             Request(action: .stop, restart: true, peer: Peer(sid: "s", type: "t", alias: "a"),
                     tags: [Tag(key: "a", value: "2"), Tag(key: "b", value: "1")])),
        Case(#"{"alias":"\#(max)","meta":{"peer":{"sid":"\#(max)","type":"\#(max)","alias":"\#(max)"},"tags":{"\#(max)":"\#(max)"}}}"#,
             Request(alias: max, peer: Peer(sid: max, type: max, alias: max), tags: [Tag(key: max, value: max)])),
        Case(tagsBody(maxTags), Request(tags: maxTags.map { Tag(key: $0.0, value: $0.1) }.sorted { bytesLess($0.key, $1.key) })),
        // Duplicate keys are one tag: 128 distinct keys among 130 entries are within the limit.
        Case(tagsBody(maxTags + [("k0", "x"), ("k1", "y")]),
             Request(tags: (maxTags.dropFirst(2) + [("k0", "x"), ("k1", "y")]).map { Tag(key: $0.0, value: $0.1) }
                 .sorted { bytesLess($0.key, $1.key) })),
        Case(#"{"meta":{"tags":{"a":"1","a":"2"}}}"#, Request(tags: [Tag(key: "a", value: "2")])),
    ]

    @Test(arguments: cases)
    func decodes(_ c: Case) throws {
        let request = try InstanceRequests.patch(body: Array(c.body.utf8))
        #expect(request == c.expected, sourceLocation: location(c.line))
    }
}

struct InstanceRequestsApplyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let body: String
        let changed: Bool
        let expected: @Sendable (inout InstanceRecord) -> Void
        let line: UInt

        init(_ body: String, changed: Bool, _ expected: @escaping @Sendable (inout InstanceRecord) -> Void = { _ in },
             line: UInt = #line) {
            (self.body, self.changed, self.expected, self.line) = (body, changed, expected, line)
        }

        var testDescription: String { "line \(line)" }
    }

    static let record: InstanceRecord = {
        var r = InstanceRecord(id: "d34db33f")
        (r.alias, r.type, r.status, r.url, r.restart) = ("edge-\u{e9}", "edge", "running", "edge://h", true)
        r.peer = Peer(sid: "s1", type: "edge", alias: "Site \u{e9}")
        r.tags = [Tag(key: "env", value: "prod"), Tag(key: "region", value: "us")]
        (r.ping, r.tcprx) = (12, 4096)
        return r
    }()

    static let cases: [Case] = [
        Case("null", changed: false),
        Case("{}", changed: false),
        Case(#"{"meta":{}}"#, changed: false),
        Case(#"{"meta":null}"#, changed: false),
        Case(#"{"meta":{"peer":null,"tags":null}}"#, changed: false),
        Case(#"{"alias":""}"#, changed: false),
        Case(#"{"alias":"edge-\u00e9"}"#, changed: false),
        Case(#"{"restart":null}"#, changed: false),
        Case(#"{"restart":true}"#, changed: false),
        Case(#"{"action":"stop"}"#, changed: false),
        Case(#"{"action":"reset"}"#, changed: false),
        Case(#"{"meta":{"peer":{"alias":"Site \u00e9","type":"edge","sid":"s1"}}}"#, changed: false),
        Case(#"{"meta":{"tags":{"region":"us","env":"prod"}}}"#, changed: false),
        Case(#"{"meta":{"tags":{"env":"dev","env":"prod","region":"us"}}}"#, changed: false),
        Case(#"{"alias":"edge-b"}"#, changed: true) { $0.alias = "edge-b" },
        Case(#"{"restart":false}"#, changed: true) { $0.restart = false },
        Case(#"{"meta":{"peer":{"sid":"s2"}}}"#, changed: true) { $0.peer = Peer(sid: "s2") },
        Case(#"{"meta":{"peer":{}}}"#, changed: true) { $0.peer = Peer() },
        Case(#"{"meta":{"tags":{}}}"#, changed: true) { $0.tags = [] },
        Case(#"{"meta":{"tags":{"env":"prod"}}}"#, changed: true) { $0.tags = [Tag(key: "env", value: "prod")] },
        Case(#"{"meta":{"tags":{"env":null,"region":"us"}}}"#, changed: true) {
            $0.tags = [Tag(key: "env", value: ""), Tag(key: "region", value: "us")]
        },
        // Canonically equivalent to what is stored, but other bytes: Go stores them, so do we.
        Case(#"{"alias":"edge-e\u0301"}"#, changed: true) { $0.alias = "edge-e\u{301}" },
        Case(#"{"meta":{"peer":{"sid":"s1","type":"edge","alias":"Site e\u0301"}}}"#, changed: true) {
            $0.peer.alias = "Site e\u{301}"
        },
        Case(#"{"meta":{"tags":{"env":"prod","region":"u\u0073"}}}"#, changed: false),
        Case(#"{"alias":"","restart":false,"action":"start","meta":{"peer":{"sid":"s1","type":"edge","alias":"Site \u00e9"}}}"#,
             changed: true) { $0.restart = false },
    ]

    @Test(arguments: cases)
    func applies(_ c: Case) throws {
        let request = try InstanceRequests.patch(body: Array(c.body.utf8))
        var record = Self.record
        let changed = try InstanceRequests.apply(request, to: &record)
        var expected = Self.record
        c.expected(&expected)
        #expect(changed == c.changed, sourceLocation: location(c.line))
        #expect(identical(record, expected), json(record), sourceLocation: location(c.line))
    }

    /// The record is in `error`, two bytes shorter than the status it is measured with.
    @Test(arguments: [-1, 0, 1])
    func capsTheEncodedRecord(overshoot: Int) throws {
        var original = Self.record
        original.status = "error"
        let tags = tagsFilling(original, to: 32 * 1024 + overshoot)
        let request = try InstanceRequests.patch(body: Array(tagsBody(tags).utf8))
        var record = original
        if overshoot <= 0 {
            #expect(try InstanceRequests.apply(request, to: &record))
            #expect(widest(record).jsonBytes.count == 32 * 1024 + overshoot)
        } else {
            #expect(failure { () throws(APIError) in try InstanceRequests.apply(request, to: &record) } == .badRequest("instance too large"))
            #expect(identical(record, original))
        }
    }

    /// A record that fits with its current metrics is still refused when larger ones would
    /// push it over: the answer must not depend on what the instance happens to be doing.
    @Test func measuresMetricsAtTheirWidest() throws {
        let tags = tagsFilling(Self.record, to: 32 * 1024 + 1)
        let request = try InstanceRequests.patch(body: Array(tagsBody(tags).utf8))
        var naive = Self.record
        naive.tags = try #require(request.tags)
        #expect(naive.jsonBytes.count < 32 * 1024)
        var record = Self.record
        #expect(failure { () throws(APIError) in try InstanceRequests.apply(request, to: &record) } == .badRequest("instance too large"))
    }

    /// 128 tags of 256-byte keys and values, all within the per-field limits, escape to about 390 KiB.
    @Test func refusesTheLargestValidTags() throws {
        let tags = (0..<128).map { i in (String(100 + i) + repeated("<", 253), repeated("<", 256)) }
        let request = try InstanceRequests.patch(body: Array(tagsBody(tags).utf8))
        #expect(request.tags?.count == 128)
        var record = Self.record
        #expect(failure { () throws(APIError) in try InstanceRequests.apply(request, to: &record) } == .badRequest("instance too large"))
        #expect(identical(record, Self.record))
    }

    /// Nothing changes, so nothing is refused, even for a record already over the cap.
    @Test func leavesAnOversizedRecordAloneWhenNothingChanges() throws {
        var record = Self.record
        record.alias = repeated("<", 6000)
        let before = record
        #expect(before.jsonBytes.count > 32 * 1024)
        #expect(try !InstanceRequests.apply(InstanceRequests.patch(body: Array(#"{"meta":{}}"#.utf8)), to: &record))
        #expect(identical(record, before))
    }
}

struct InstanceRequestsPutTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let body: String
        let url: String
        let type: String
        let line: UInt

        init(_ body: String, _ url: String, type: String, line: UInt = #line) {
            (self.body, self.url, self.type, self.line) = (body, url, type, line)
        }

        var testDescription: String { "line \(line)" }
    }

    static let cases: [Case] = [
        Case(#"{"url":"edge://h/p"}"#, "edge://h/p", type: "edge"),
        Case(#"{"URL":"EDGE://Host/a b?c d"}"#, "edge://Host/a%20b?c d", type: "edge"),
        Case(#"{"url":"Managed:Ed:ge"}"#, "managed:Ed:ge", type: "managed"),
        Case(#"{"url":"x:y","alias":5,"url":"z:\u00fc"}"#, "z:%C3%BC", type: "z"),
        Case(#"{"url":"a:\#(repeated("b", 8190))"}"#, "a:" + repeated("b", 8190), type: "a"),
    ]

    @Test(arguments: cases)
    func normalises(_ c: Case) throws {
        let url = try InstanceRequests.putURL(body: Array(c.body.utf8))
        #expect(url == c.url, sourceLocation: location(c.line))
        #expect(InstanceRequests.instanceType(ofURL: url) == c.type, sourceLocation: location(c.line))
    }

    @Test(arguments: [0, 1])
    func capsTheRecordCarryingTheNewURL(overshoot: Int) throws {
        var record = InstanceRequestsApplyTests.record
        record.url = "x:?"
        let query = filler(jsonBytes: 32 * 1024 - widest(record).jsonBytes.count + overshoot, maxChars: 8189)
        record.url = try InstanceRequests.putURL(body: Array(#"{"url":"x:?\#(query)"}"#.utf8))
        let error = failure { () throws(APIError) in try InstanceRequests.ensureEncodedSizeFits(record) }
        #expect(error == (overshoot == 0 ? nil : .badRequest("instance too large")))
    }
}

struct InstanceRequestsKeyRecordTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let body: String
        let rotates: Bool?
        let line: UInt

        /// `rotates == nil`: `400 Invalid request body`.
        init(_ body: String, _ rotates: Bool?, line: UInt = #line) {
            (self.body, self.rotates, self.line) = (body, rotates, line)
        }

        var testDescription: String { "line \(line)" }
    }

    static let cases: [Case] = [
        Case(#"{"action":"restart"}"#, true),
        Case(#"{"Action":"restart"}"#, true),
        Case(#"{"action":"restart","action":null}"#, true),
        Case(#"{"action":"restart","alias":"\#(repeated("a", 300))","restart":false}"#, true),
        Case(#"{"action":"stop","action":"restart"}"#, true),
        Case("null", false),
        Case("{}", false),
        Case(#"{"action":""}"#, false),
        Case(#"{"action":"Restart"}"#, false),
        Case(#"{"action":"restart "}"#, false),
        Case(#"{"action":"start"}"#, false),
        Case(#"{"action":"bogus","alias":"\#(repeated("a", 300))"}"#, false),
        Case(tagsBody(distinctTags(200)), false),
        Case("", nil),
        Case("{", nil),
        Case(#"{"action":5}"#, nil),
        Case(#"{"action":"restart","restart":"yes"}"#, nil),
        Case(#"{"action":"restart","meta":[]}"#, nil),
        Case(#"{"action":"restart"} x"#, nil),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        let body = Array(c.body.utf8)
        let result: Bool?
        do {
            result = try InstanceRequests.keyRecordPatchRequestsRotation(body: body)
        } catch {
            #expect(error == .badRequest("Invalid request body"), sourceLocation: location(c.line))
            result = nil
        }
        #expect(result == c.rotates, sourceLocation: location(c.line))
    }
}
