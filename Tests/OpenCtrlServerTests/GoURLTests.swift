import Testing
@testable import OpenCtrlServer

/// Expected texts were checked against Go's `net/url` (the 1.26 host rules by reading its source).
struct GoURLTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: [UInt8]
        let expected: String
        let line: UInt

        init(_ input: String, _ expected: String, line: UInt = #line) {
            self.init(bytes: Array(input.utf8), expected, line: line)
        }

        init(bytes input: [UInt8], _ expected: String, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { String(decoding: input, as: UTF8.self) }
    }

    static let roundTrips: [Case] = [
        Case("http://example.com/a b", "http://example.com/a%20b"),
        Case("managed:edge", "managed:edge"),
        Case("MANAGED:Edge?Q=1", "managed:Edge?Q=1"),
        Case("edge://h:1/p?x=a b&y=%zz", "edge://h:1/p?x=a b&y=%zz"),
        Case("http://[::1]:8080/x", "http://[::1]:8080/x"),
        Case("http://[fe80::1%25en0]:80/", "http://[fe80::1%25en0]:80/"),
        Case("http://[fe80::1%25%41]/", "http://[fe80::1%25A]/"),
        Case("http://[::ffff:1.2.3.4]/", "http://[::ffff:1.2.3.4]/"),
        Case("http://us%65r:p%40ss@h/", "http://user:p%40ss@h/"),
        Case("http://a%2Fb@h/", "http://a%2Fb@h/"),
        Case("http://u!@h/", "http://u%21@h/"),
        Case("http://x:y:z@h", "http://x:y%3Az@h"),
        Case("http://a@b@h/", "http://a%40b@h/"),
        Case("http://@h/", "http://@h/"),
        Case("http://h/a%2Fb", "http://h/a%2Fb"),
        Case("http://h/%2f%2F", "http://h/%2f%2F"),
        Case("http://h/%41", "http://h/%41"),
        Case("x://h/%7e", "x://h/%7e"),
        Case("http://h/a{b}", "http://h/a%7Bb%7D"),
        Case("http://h/ü", "http://h/%C3%BC"),
        Case("http://h/%FF", "http://h/%FF"),
        Case("http://h/[x]", "http://h/[x]"),
        Case("http://h/a;b,c", "http://h/a;b,c"),
        Case("http://h/p#frag ment", "http://h/p#frag%20ment"),
        Case("http://h/p#a'b", "http://h/p#a'b"),
        Case("http://h/p#%27", "http://h/p#%27"),
        Case("http://h/p#!()*", "http://h/p#!()*"),
        Case("edge://h/p?q#f%20x", "edge://h/p?q#f%20x"),
        Case("http://h/p#", "http://h/p"),
        Case("http:/p", "http:/p"),
        Case("http:///p", "http:///p"),
        Case("http://", "http:"),
        Case("http://h/p?", "http://h/p?"),
        Case("http://h/a?b?c", "http://h/a?b?c"),
        Case("http:?", "http:?"),
        Case("mailto:a@b", "mailto:a@b"),
        Case("a/b:c", "a/b:c"),
        Case("//host/p", "//host/p"),
        Case("*", "*"),
        Case("http://ü.example/", "http://%C3%BC.example/"),
        Case("http://<h>/", "http://<h>/"),
        Case("http://h:/", "http://h:/"),
        Case("HTTP://H/", "http://H/"),
        Case("http://h?a#b", "http://h?a#b"),
        Case("edge://h:1:2/", "edge://h:1:2/"),
        Case("postgres://h1:1,h2:2/db", "postgres://h1:1,h2:2/db"),
        Case("edge://h:x:1/", "edge://h:x:1/"),
        Case("a:b/c", "a:b/c"),
        Case("x:%zz", "x:%zz"),
        Case("http://h%25/", "http://h%25/"),
    ]

    @Test(arguments: roundTrips)
    func stringReSerialisesLikeGo(_ c: Case) throws {
        let url = try GoURL.parse(bytes: c.input)
        #expect(url.description == c.expected, sourceLocation: c.location)
    }

    static let failures: [Case] = [
        Case(":foo", #"parse ":foo": missing protocol scheme"#),
        Case("ht tp://x", #"parse "ht tp://x": first path segment in URL cannot contain colon"#),
        Case("http://x\n", #"parse "http://x\n": net/url: invalid control character in URL"#),
        Case("http://x/\u{7F}", #"parse "http://x/\x7f": net/url: invalid control character in URL"#),
        Case("\t", #"parse "\t": net/url: invalid control character in URL"#),
        Case("http://x/%zz", #"parse "http://x/%zz": invalid URL escape "%zz""#),
        Case("http://x/%", #"parse "http://x/%": invalid URL escape "%""#),
        Case("http://x/%4", #"parse "http://x/%4": invalid URL escape "%4""#),
        Case("http://x/%é", #"parse "http://x/%é": invalid URL escape "%é""#),
        Case("http://x/%aé", #"parse "http://x/%aé": invalid URL escape "%a\xc3""#),
        Case("http://h/\"%zz", #"parse "http://h/\"%zz": invalid URL escape "%zz""#),
        Case("http://h/\u{A0}%zz", #"parse "http://h/\u00a0%zz": invalid URL escape "%zz""#),
        Case(bytes: Array("http://h/".utf8) + [0xFF] + Array("%zz".utf8), #"parse "http://h/\xff%zz": invalid URL escape "%zz""#),
        Case("http://h/%zz#frag", #"parse "http://h/%zz": invalid URL escape "%zz""#),
        Case("http://h/\u{01}#x", #"parse "http://h/\x01": net/url: invalid control character in URL"#),
        Case("http://h/#%zz", #"parse "http://h/#%zz": invalid URL escape "%zz""#),
        Case("http://a b/", #"parse "http://a b/": invalid character " " in host name"#),
        Case("http://a{b/", #"parse "http://a{b/": invalid character "{" in host name"#),
        Case("http://%41/", #"parse "http://%41/": invalid URL escape "%41""#),
        Case("http://h:80x/", #"parse "http://h:80x/": invalid port ":80x" after host"#),
        Case("http://h:1:2/", #"parse "http://h:1:2/": invalid port ":1:2" after host"#),
        Case("http://::1:8080/", #"parse "http://::1:8080/": invalid port "::1:8080" after host"#),
        Case("http://[::1]x/", #"parse "http://[::1]x/": invalid port "x" after host"#),
        Case("http://[::1/", #"parse "http://[::1/": missing ']' in host"#),
        Case("http://[1.2.3.4]/", #"parse "http://[1.2.3.4]/": invalid IP-literal"#),
        Case("http://a[b]/", #"parse "http://a[b]/": invalid IP-literal"#),
        Case("http://[v1.x]/", #"parse "http://[v1.x]/": invalid host: ParseAddr("v1.x"): unexpected character (at "v1.x")"#),
        Case("http://[]/", #"parse "http://[]/": invalid host: ParseAddr(""): unable to parse IP"#),
        Case("http://[fe80::1%25]/", #"parse "http://[fe80::1%25]/": invalid host: ParseAddr("fe80::1%"): zone must be a non-empty string"#),
        Case("http://[fe80::1%25%0A]/", #"parse "http://[fe80::1%25%0A]/": invalid URL escape "%0A""#),
        Case("http://[12345::1]/", #"parse "http://[12345::1]/": invalid host: ParseAddr("12345::1"): each group must have 4 or less digits (at "12345::1")"#),
        Case("http://[::ffff:1.2.3]/", #"parse "http://[::ffff:1.2.3]/": invalid host: ParseAddr("::ffff:1.2.3"): IPv4 address too short"#),
        Case("http://us er@h/", #"parse "http://us er@h/": net/url: invalid userinfo"#),
        Case("http://ü@h/", #"parse "http://ü@h/": net/url: invalid userinfo"#),
        Case("http://u:p%zz@h/", #"parse "http://u:p%zz@h/": invalid URL escape "%zz""#),
        Case("http://😀@h/", #"parse "http://😀@h/": net/url: invalid userinfo"#),
        Case("http://a@b c/", #"parse "http://a@b c/": invalid character " " in host name"#),
        Case("http://u%zz@h:x/", #"parse "http://u%zz@h:x/": invalid port ":x" after host"#),
        Case("%zz", #"parse "%zz": invalid URL escape "%zz""#),
        Case("//a b/", #"parse "//a b/": invalid character " " in host name"#),
        Case("http://%/", #"parse "http://%/": invalid URL escape "%""#),
        Case("http://h:80:/", #"parse "http://h:80:/": invalid port ":80:" after host"#),
        Case("http://[::1]:8o/", #"parse "http://[::1]:8o/": invalid port ":8o" after host"#),
        Case("http://[::1]:80:80/", #"parse "http://[::1]:80:80/": invalid port ":80:80" after host"#),
        Case("http://[::1%zz]/", #"parse "http://[::1%zz]/": invalid URL escape "%zz""#),
        Case("http://[%C3%BC::1]/", #"parse "http://[%C3%BC::1]/": invalid host: ParseAddr("ü::1"): each colon-separated field must have at least one digit (at "ü::1")"#),
        Case("http://h/p?%zz#%", #"parse "http://h/p?%zz#%": invalid URL escape "%""#),
    ]

    @Test(arguments: failures)
    func parseFailsWithGoText(_ c: Case) {
        let error = #expect(throws: GoURLError.self, sourceLocation: c.location) { try GoURL.parse(bytes: c.input) }
        #expect(error?.description == c.expected, sourceLocation: c.location)
        #expect(error.map { c.expected.hasSuffix("\": " + $0.reason) } == true, sourceLocation: c.location)
    }

    /// The parsed parts, written the way `GoURL` stores them (decoded where Go decodes).
    struct Parts: Sendable, CustomTestStringConvertible {
        var input: String
        var scheme = "", opaque = "", host = "", path = "", rawPath = "", rawQuery = ""
        var fragment = "", rawFragment = ""
        var user: (name: String, password: String, set: Bool)?
        var omitHost = false, forceQuery = false
        var line: UInt

        init(_ input: String, line: UInt = #line, _ fill: (inout Parts) -> Void) {
            self.input = input
            self.line = line
            fill(&self)
        }

        var testDescription: String { input }

        var expected: GoURL {
            var url = GoURL()
            url.scheme = Array(scheme.utf8)
            url.opaque = Array(opaque.utf8)
            url.host = Array(host.utf8)
            url.path = Array(path.utf8)
            url.rawPath = Array(rawPath.utf8)
            url.rawQuery = Array(rawQuery.utf8)
            url.fragment = Array(fragment.utf8)
            url.rawFragment = Array(rawFragment.utf8)
            url.user = user.map { GoUserinfo(username: Array($0.name.utf8), password: Array($0.password.utf8), passwordSet: $0.set) }
            url.omitHost = omitHost
            url.forceQuery = forceQuery
            return url
        }
    }

    static let parts: [Parts] = [
        Parts("HTTP://u%41:p%3Aw@[::1]:8080/a%2Fb c?x=1#f%20g") {
            $0.scheme = "http"; $0.user = ("uA", "p:w", true); $0.host = "[::1]:8080"
            $0.path = "/a/b c"; $0.rawPath = "/a%2Fb c"; $0.rawQuery = "x=1"; $0.fragment = "f g"
        },
        Parts("edge://who@h/p") { $0.scheme = "edge"; $0.user = ("who", "", false); $0.host = "h"; $0.path = "/p" },
        Parts("edge://:@h/p") { $0.scheme = "edge"; $0.user = ("", "", true); $0.host = "h"; $0.path = "/p" },
        Parts("http://[fe80::1%25en%30]:80") { $0.scheme = "http"; $0.host = "[fe80::1%en0]:80" },
        Parts("http://%C3%BC/%41") { $0.scheme = "http"; $0.host = "ü"; $0.path = "/A"; $0.rawPath = "/%41" },
        Parts("managed:edge?q#%41") { $0.scheme = "managed"; $0.opaque = "edge"; $0.rawQuery = "q"; $0.fragment = "A"; $0.rawFragment = "%41" },
        Parts("x:/p?") { $0.scheme = "x"; $0.path = "/p"; $0.omitHost = true; $0.forceQuery = true },
        Parts("x:///p") { $0.scheme = "x"; $0.path = "/p" },
        Parts("///p") { $0.path = "///p" },
        Parts("rel/a b") { $0.path = "rel/a b"; $0.rawPath = "rel/a b" },
        Parts("x://h/a?b?c") { $0.scheme = "x"; $0.host = "h"; $0.path = "/a"; $0.rawQuery = "b?c" },
        Parts("x://h/a#b#c") { $0.scheme = "x"; $0.host = "h"; $0.path = "/a"; $0.fragment = "b#c"; $0.rawFragment = "b#c" },
    ]

    @Test(arguments: parts)
    func parseSplitsLikeGo(_ c: Parts) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(try GoURL.parse(c.input) == c.expected, sourceLocation: location)
    }

    @Test func decodedBytesThatAreNotUTF8SurviveTheRoundTrip() throws {
        let url = try GoURL.parse("x://%E2%82/%FF%C3?q#%80")
        #expect(url.host == [0xE2, 0x82])
        #expect(url.path == [UInt8(ascii: "/"), 0xFF, 0xC3])
        #expect(url.fragment == [0x80])
        #expect(url.description == "x://%E2%82/%FF%C3?q#%80")
    }

    @Test func aPathOfTwoSlashesWithoutAuthorityIsEscaped() {
        var url = GoURL()
        url.scheme = Array("x".utf8)
        url.omitHost = true
        url.path = Array("//h/p".utf8)
        #expect(url.description == "x:%2F/h/p")
        url.scheme = []
        url.omitHost = false
        url.path = Array("a:b/c".utf8)
        #expect(url.description == "./a:b/c")
    }

    static let quotes: [Case] = [
        Case("", #""""#),
        Case(#"a"b\c"#, #""a\"b\\c""#),
        Case("\u{07}\u{08}\u{0C}\n\r\t\u{0B}", #""\a\b\f\n\r\t\v""#),
        Case("\u{00}\u{1F}\u{7F}", #""\x00\x1f\x7f""#),
        Case("é€😀 ", #""é€😀 ""#),
        Case("\u{A0}\u{AD}\u{2028}\u{FEFF}", #""\u00a0\u00ad\u2028\ufeff""#),
        Case("\u{E0001}\u{F0000}", #""\U000e0001\U000f0000""#),
        Case(bytes: [0xFF], #""\xff""#),
        Case(bytes: [0xC3, 0x41], #""\xc3A""#),
        Case(bytes: [0xED, 0xA0, 0x80], #""\xed\xa0\x80""#),
        Case(bytes: [0xE2, 0x82], #""\xe2\x82""#),
        Case(bytes: [0xC0, 0x80], #""\xc0\x80""#),
        Case(bytes: [0xF4, 0x90, 0x80, 0x80], #""\xf4\x90\x80\x80""#),
        Case(bytes: [0xF0, 0x9F, 0x98, 0x80], #""😀""#),
    ]

    @Test(arguments: quotes)
    func quoteMatchesStrconvQuote(_ c: Case) {
        #expect(GoQuote.quote(c.input) == c.expected, sourceLocation: c.location)
    }

    struct QueryCase: Sendable, CustomTestStringConvertible {
        let query: String
        let expected: [String: [String]]
        let line: UInt
        init(_ query: String, _ expected: [String: [String]], line: UInt = #line) {
            self.query = query
            self.expected = expected
            self.line = line
        }
        var testDescription: String { query }
    }

    static let queries: [QueryCase] = [
        QueryCase("tls=1&tls=2", ["tls": ["1", "2"]]),
        QueryCase("a=1;b=2&c=3", ["c": ["3"]]),
        QueryCase("a=%zz&b=2&%zz=1", ["b": ["2"]]),
        QueryCase("a+b=c+d%2B", ["a b": ["c d+"]]),
        QueryCase("flag&=x&&", ["flag": [""], "": ["x"]]),
        QueryCase("%74ls=%31", ["tls": ["1"]]),
        QueryCase("k=a=b", ["k": ["a=b"]]),
        QueryCase(String(repeating: "a&", count: 9_999) + "a", ["a": Array(repeating: "", count: 10_000)]),
        QueryCase(String(repeating: "a&", count: 10_000) + "a", [:]),
    ]

    @Test(arguments: queries)
    func parseQueryKeepsGoodPairsInOrder(_ c: QueryCase) {
        var decoded: [String: [String]] = [:]
        for (key, values) in GoURLEscaping.parseQuery(Array(c.query.utf8)) {
            decoded[String(decoding: key, as: UTF8.self)] = values.map { String(decoding: $0, as: UTF8.self) }
        }
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(decoded == c.expected, sourceLocation: location)
    }

    @Test(arguments: queries)
    func firstQueryValueIsTheMapsFirstValue(_ c: QueryCase) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        for key in Array(c.expected.keys) + ["absent"] {
            let first = GoURLEscaping.firstQueryValue(Array(c.query.utf8), key: Array(key.utf8))
            #expect(first.map { String(decoding: $0, as: UTF8.self) } == c.expected[key]?.first, sourceLocation: location)
        }
    }
}
