import Testing
@testable import OpenCtrlServer

/// A body and what it decodes to; `nil` means `400 Invalid request body`.
struct BodyCase<Body: Sendable>: Sendable, CustomTestStringConvertible {
    var body: [UInt8]
    var expected: Body?
    var line: UInt
    var testDescription: String { "line \(line)" }
    var location: SourceLocation {
        SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
    }

    init(_ body: String, _ expected: Body?, line: UInt = #line) {
        self.body = Array(body.utf8)
        self.expected = expected
        self.line = line
    }

    init(bytes: [UInt8], _ expected: Body?, line: UInt = #line) {
        self.body = bytes
        self.expected = expected
        self.line = line
    }
}

private func checkBody<Body: Equatable>(_ c: BodyCase<Body>, _ decode: ([UInt8]) throws(BodyError) -> Body) {
    let result: Result<Body, BodyError>
    do {
        result = .success(try decode(c.body))
    } catch {
        result = .failure(error)
    }
    switch (result, c.expected) {
    case let (.success(got), expected?):
        #expect(got == expected, sourceLocation: c.location)
    case (.failure(let error), nil):
        #expect(error.message == "Invalid request body", sourceLocation: c.location)
    case let (.success(got), nil):
        Issue.record("decoded \(got), expected Invalid request body", sourceLocation: c.location)
    case let (.failure(error), expected?):
        Issue.record("failed with \(error), expected \(expected)", sourceLocation: c.location)
    }
}

/// Rejections every body type shares: not one JSON value, or not an object or `null`.
private let notAnObjectBodies = ["", " ", "{", "[]", "[{}]", "\"alias\"", "5", "true", "false", "{} {}", "{}x", "null x",
                           "{\"alias\":\"a\"\n,}"]

struct InfoBodyTests {
    static let cases: [BodyCase<InfoBody>] = [
        BodyCase("{}", InfoBody()),
        BodyCase("null", InfoBody()),
        BodyCase(" \n null \t", InfoBody()),
        BodyCase(#"{"alias":"prod-1"}"#, InfoBody(alias: "prod-1")),
        BodyCase(#"{"alias":""}"#, InfoBody(alias: "")),
        BodyCase(#"{"ALIAS":"x"}"#, InfoBody(alias: "x")),
        BodyCase(#"{"aLiAs":"x"}"#, InfoBody(alias: "x")),
        BodyCase(#"{"alias":"a","Alias":"b"}"#, InfoBody(alias: "b")),
        BodyCase(#"{"Alias":"b","alias":"a"}"#, InfoBody(alias: "a")),
        BodyCase(#"{"alias":"a","alias":null}"#, InfoBody(alias: "a")),
        BodyCase(#"{"alias":null}"#, InfoBody()),
        BodyCase(#"{"url":5,"other":[{}],"alias":"x"}"#, InfoBody(alias: "x")),
        BodyCase(#"{"aliass":"x","alia":"y"," alias":"z"}"#, InfoBody()),
        // Our rule folds ASCII only; Go would also match U+017F LATIN SMALL LETTER LONG S.
        BodyCase("{\"alia\u{17f}\":\"x\"}", InfoBody()),
        BodyCase(#"{"\u0061lias":"esc\u00e9"}"#, InfoBody(alias: "escé")),
        BodyCase(#"{"alias":"a<b>&\"c\"\n"}"#, InfoBody(alias: "a<b>&\"c\"\n")),
        BodyCase(#"{"alias":5}"#, nil),
        BodyCase(#"{"alias":true}"#, nil),
        BodyCase(#"{"alias":["x"]}"#, nil),
        BodyCase(#"{"alias":{}}"#, nil),
        BodyCase(#"{"alias":"x","alias":1}"#, nil),
        BodyCase(#"{"alias":1,"alias":"x"}"#, nil),
        BodyCase(bytes: Array(#"{"alias":""#.utf8) + [0xFF] + Array(#""}"#.utf8), nil),
    ] + notAnObjectBodies.map { BodyCase($0, nil) }

    @Test(arguments: cases)
    func decodes(_ c: BodyCase<InfoBody>) {
        checkBody(c, InfoBody.decode)
    }
}

struct CreateAndPutBodyTests {
    static let createCases: [BodyCase<CreateBody>] = [
        BodyCase("null", CreateBody()),
        BodyCase(#"{"alias":"a","url":"managed://x"}"#, CreateBody(alias: "a", url: "managed://x")),
        BodyCase(#"{"URL":"u","Alias":"a"}"#, CreateBody(alias: "a", url: "u")),
        BodyCase(#"{"Url":"u","url":"v","uRL":"w"}"#, CreateBody(url: "w")),
        BodyCase(#"{"url":"u","url":null}"#, CreateBody(url: "u")),
        BodyCase(#"{"url":""}"#, CreateBody(url: "")),
        BodyCase(#"{"url":"u","restart":"ignored"}"#, CreateBody(url: "u")),
        BodyCase(#"{"url":5}"#, nil),
        BodyCase(#"{"url":["x"]}"#, nil),
        BodyCase(#"{"alias":false,"url":"u"}"#, nil),
        BodyCase(#"{"url":"u"} {"url":"v"}"#, nil),
    ] + notAnObjectBodies.map { BodyCase($0, nil) }

    static let putCases: [BodyCase<PutBody>] = [
        BodyCase("null", PutBody()),
        BodyCase("{}", PutBody()),
        BodyCase(#"{"url":"u"}"#, PutBody(url: "u")),
        BodyCase(#"{"uRl":"u","alias":5}"#, PutBody(url: "u")),
        BodyCase(#"{"url":"a","URL":"b"}"#, PutBody(url: "b")),
        BodyCase(#"{"url":null}"#, PutBody()),
        BodyCase(#"{"url":{}}"#, nil),
        BodyCase(#"{"url":null,"URL":0}"#, nil),
        BodyCase(#"{"url":"u"}}"#, nil),
    ] + notAnObjectBodies.map { BodyCase($0, nil) }

    @Test(arguments: createCases)
    func create(_ c: BodyCase<CreateBody>) {
        checkBody(c, CreateBody.decode)
    }

    @Test(arguments: putCases)
    func put(_ c: BodyCase<PutBody>) {
        checkBody(c, PutBody.decode)
    }
}

struct PatchBodyTests {
    private static func tags(_ pairs: (String, String)...) -> [OpenCtrlServer.Tag] {
        pairs.map { OpenCtrlServer.Tag(key: $0.0, value: $0.1) }
    }

    static let cases: [BodyCase<PatchBody>] = [
        BodyCase("null", PatchBody()),
        BodyCase("{}", PatchBody()),
        // The example of CONTRACT §8.6.
        BodyCase(#"""
            {"alias":"edge-b","action":"restart","restart":true,
             "meta":{"peer":{"sid":"site-1","type":"edge","alias":"Site 1 Edge"},"tags":{"region":"us-east"}}}
            """#, PatchBody(alias: "edge-b", action: "restart", restart: true,
                             meta: PatchMeta(peer: Peer(sid: "site-1", type: "edge", alias: "Site 1 Edge"),
                                             tags: tags(("region", "us-east"))))),
        BodyCase(#"{"action":"stop","Action":"start"}"#, PatchBody(action: "start")),
        BodyCase(#"{"action":"","alias":""}"#, PatchBody(alias: "", action: "")),
        BodyCase(#"{"alias":"a","ALIAS":null}"#, PatchBody(alias: "a")),
        // restart is a Go *bool: null makes it absent again.
        BodyCase(#"{"restart":false}"#, PatchBody(restart: false)),
        BodyCase(#"{"RESTART":true}"#, PatchBody(restart: true)),
        BodyCase(#"{"restart":null}"#, PatchBody()),
        BodyCase(#"{"restart":true,"restart":null}"#, PatchBody()),
        BodyCase(#"{"restart":null,"Restart":false}"#, PatchBody(restart: false)),
        // meta is a Go pointer to a struct: null clears it, a repeated object merges into it.
        BodyCase(#"{"meta":{}}"#, PatchBody(meta: PatchMeta())),
        BodyCase(#"{"meta":null}"#, PatchBody()),
        BodyCase(#"{"meta":{"peer":{"sid":"a"}},"meta":null}"#, PatchBody()),
        BodyCase(#"{"meta":{"peer":{"sid":"a"}},"Meta":{"tags":{"k":"v"}}}"#,
                 PatchBody(meta: PatchMeta(peer: Peer(sid: "a"), tags: tags(("k", "v"))))),
        BodyCase(#"{"meta":{"extra":[1,2],"other":null}}"#, PatchBody(meta: PatchMeta())),
        // peer: missing fields are "", a repeated peer merges, null clears.
        BodyCase(#"{"meta":{"peer":{}}}"#, PatchBody(meta: PatchMeta(peer: Peer()))),
        BodyCase(#"{"meta":{"peer":{"type":"edge"}}}"#, PatchBody(meta: PatchMeta(peer: Peer(type: "edge")))),
        BodyCase(#"{"meta":{"Peer":{"SID":"s","Type":"t","ALIAS":"a","extra":1}}}"#,
                 PatchBody(meta: PatchMeta(peer: Peer(sid: "s", type: "t", alias: "a")))),
        BodyCase(#"{"meta":{"peer":{"sid":"a","sid":null,"alias":"x","Alias":"y"}}}"#,
                 PatchBody(meta: PatchMeta(peer: Peer(sid: "a", alias: "y")))),
        BodyCase(#"{"meta":{"peer":{"sid":"a"},"peer":{"type":"b"}}}"#,
                 PatchBody(meta: PatchMeta(peer: Peer(sid: "a", type: "b")))),
        BodyCase(#"{"meta":{"peer":{"sid":"a"}},"meta":{"peer":{"sid":"c","alias":"d"}}}"#,
                 PatchBody(meta: PatchMeta(peer: Peer(sid: "c", alias: "d")))),
        BodyCase(#"{"meta":{"peer":null}}"#, PatchBody(meta: PatchMeta())),
        BodyCase(#"{"meta":{"peer":{"sid":"a"},"peer":null}}"#, PatchBody(meta: PatchMeta())),
        // tags: a Go map, so byte-unique keys, last value wins, sorted by bytes on output.
        BodyCase(#"{"meta":{"tags":{}}}"#, PatchBody(meta: PatchMeta(tags: []))),
        BodyCase(#"{"meta":{"tags":null}}"#, PatchBody(meta: PatchMeta())),
        BodyCase(#"{"meta":{"tags":{"b":"2","a":"1","c":"3"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("a", "1"), ("b", "2"), ("c", "3"))))),
        BodyCase(#"{"meta":{"tags":{"a":"1","b":"x","a":"2"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("a", "2"), ("b", "x"))))),
        BodyCase(#"{"meta":{"tags":{"k":null}}}"#, PatchBody(meta: PatchMeta(tags: tags(("k", ""))))),
        BodyCase(#"{"meta":{"tags":{"k":"v","k":null}}}"#, PatchBody(meta: PatchMeta(tags: tags(("k", ""))))),
        BodyCase(#"{"meta":{"tags":{"a":"1"},"tags":{"b":"2","a":"3"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("a", "3"), ("b", "2"))))),
        BodyCase(#"{"meta":{"tags":{"a":"1"}},"meta":{"Tags":{"b":"2"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("a", "1"), ("b", "2"))))),
        BodyCase(#"{"meta":{"tags":{"a":"1"},"tags":null,"tags":{"b":"2"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("b", "2"))))),
        BodyCase(#"{"meta":{"tags":{"a":"2","A":"1","Region":"x","":"e"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(("", "e"), ("A", "1"), ("Region", "x"), ("a", "2"))))),
        BodyCase(#"{"meta":{"tags":{"\u00e9":"precomposed","e\u0301":"decomposed","z":"last"}}}"#,
                 PatchBody(meta: PatchMeta(tags: tags(
                     ("e\u{301}", "decomposed"), ("z", "last"), ("é", "precomposed"))))),
        BodyCase(#"{"meta":{"tags":{"k":"<&>\u2028"}}}"#, PatchBody(meta: PatchMeta(tags: tags(("k", "<&>\u{2028}"))))),
        // Wrong types anywhere fail the whole body.
        BodyCase(#"{"restart":"yes"}"#, nil),
        BodyCase(#"{"restart":"true"}"#, nil),
        BodyCase(#"{"restart":1}"#, nil),
        BodyCase(#"{"restart":{}}"#, nil),
        BodyCase(#"{"action":5}"#, nil),
        BodyCase(#"{"alias":null,"action":["start"]}"#, nil),
        BodyCase(#"{"meta":[]}"#, nil),
        BodyCase(#"{"meta":"x"}"#, nil),
        BodyCase(#"{"meta":true}"#, nil),
        BodyCase(#"{"meta":{"peer":[]}}"#, nil),
        BodyCase(#"{"meta":{"peer":"x"}}"#, nil),
        BodyCase(#"{"meta":{"peer":{"sid":1}}}"#, nil),
        BodyCase(#"{"meta":{"peer":{"alias":false}}}"#, nil),
        BodyCase(#"{"meta":{"tags":[]}}"#, nil),
        BodyCase(#"{"meta":{"tags":"k=v"}}"#, nil),
        BodyCase(#"{"meta":{"tags":{"a":1}}}"#, nil),
        BodyCase(#"{"meta":{"tags":{"a":true}}}"#, nil),
        BodyCase(#"{"meta":{"tags":{"a":{}}}}"#, nil),
        BodyCase(#"{"meta":{"tags":{"a":"1","b":["2"]}}}"#, nil),
        BodyCase(#"{"meta":null,"meta":{"tags":{"a":0}}}"#, nil),
        BodyCase(bytes: Array(#"{"meta":{"tags":{""#.utf8) + [0xC3, 0x28] + Array(#"":"v"}}}"#.utf8), nil),
    ] + notAnObjectBodies.map { BodyCase($0, nil) }

    @Test(arguments: cases)
    func decodes(_ c: BodyCase<PatchBody>) {
        checkBody(c, PatchBody.decode)
    }

    @Test func errorMessage() {
        #expect(BodyError.invalidRequestBody.message == "Invalid request body")
    }
}
