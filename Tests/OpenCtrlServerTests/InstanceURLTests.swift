import Testing
@testable import OpenCtrlServer

/// CONTRACT §9.3, our rule.
struct InstanceURLTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: String
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

        var testDescription: String { String(input.prefix(80)) }
    }

    static let normalised: [Case] = [
        Case("edge://h/p", "edge://h/p"),
        Case("EDGE://Host/Path", "edge://Host/Path"),
        Case("managed:edge", "managed:edge"),
        Case("Managed:Edge?x", "managed:Edge?x"),
        Case("managed:ed ge", "managed:ed%20ge"),
        Case("managed:100%", "managed:100%"),
        Case("edge://h/a b", "edge://h/a%20b"),
        Case("edge://h/a b?c d#e f", "edge://h/a%20b?c d#e%20f"),
        Case("edge://h/ü?ü#ü", "edge://h/%C3%BC?ü#%C3%BC"),
        Case("edge://h/\"<>\\^`{|}?{|}", "edge://h/%22%3C%3E%5C%5E%60%7B%7C%7D?{|}"),
        Case("edge://h/%41%2f%7e?%41#%41", "edge://h/%41%2f%7e?%41#%41"),
        Case("edge://h/[x]!$&'()*+,;=:@~", "edge://h/[x]!$&'()*+,;=:@~"),
        Case("edge://ü.example:1/", "edge://%C3%BC.example:1/"),
        Case("edge://%c3%bc.example:1/", "edge://%c3%bc.example:1/"),
        Case("edge://<h>/", "edge://<h>/"),
        Case("edge://[fe80::1%25ü]:1/p q", "edge://[fe80::1%25ü]:1/p%20q"),
        Case("edge://[::1]:1", "edge://[::1]:1"),
        Case("edge://u!:p%20w@h/", "edge://u!:p%20w@h/"),
        Case("edge://h:1:2/", "edge://h:1:2/"),
        Case("edge://", "edge://"),
        Case("edge://?q#f", "edge://?q#f"),
        Case("edge://h/p#", "edge://h/p#"),
        Case("edge://h/p?", "edge://h/p?"),
        Case("edge:/p q", "edge:/p%20q"),
        Case("edge:///p", "edge:///p"),
        Case("edge://h/a#b#c d", "edge://h/a#b#c%20d"),
        Case("edge://h/" + String(repeating: "a", count: 8183), "edge://h/" + String(repeating: "a", count: 8183)),
    ]

    @Test(arguments: normalised)
    func normalisesOnlyWhatMustChange(_ c: Case) {
        do {
            #expect(try InstanceURL.normalize(c.input) == c.expected, sourceLocation: c.location)
        } catch {
            Issue.record("unexpected failure: \(error)", sourceLocation: c.location)
        }
    }

    @Test(arguments: normalised)
    func normalisedFormIsStableAndParsesToTheSameURL(_ c: Case) throws {
        let once = try InstanceURL.normalize(c.input)
        #expect(try InstanceURL.normalize(once) == once, sourceLocation: c.location)
        var original = try GoURL.parse(c.input)
        var again = try GoURL.parse(once)
        // Only the encoding hints may differ; what the parts mean must not.
        original.rawPath = []
        again.rawPath = []
        original.rawFragment = []
        again.rawFragment = []
        if original.opaque != again.opaque {
            let decoded = { (opaque: [UInt8]) in try? GoURLEscaping.unescape(opaque, .path) }
            #expect(decoded(again.opaque) == decoded(original.opaque), sourceLocation: c.location)
            original.opaque = again.opaque
        }
        #expect(original == again, sourceLocation: c.location)
    }

    static let invalid = "Master.normalizeInstanceURL: invalid URL format: "
    static let rejected: [Case] = [
        Case(String(repeating: "a", count: 8193), "instance URL exceeds maximum length 8192"),
        Case("\n" + String(repeating: "a", count: 8192), "instance URL exceeds maximum length 8192"),
        Case("edge://h/" + String(repeating: "é", count: 4092), "instance URL exceeds maximum length 8192"),
        // Short enough as sent, 8,193 bytes once each space is `%20` (found by fuzzing).
        Case("edge://h/" + String(repeating: " ", count: 2728), "instance URL exceeds maximum length 8192"),
        Case("edge-a", "Master.normalizeInstanceURL: missing URL scheme"),
        Case("//host/x", "Master.normalizeInstanceURL: missing URL scheme"),
        Case("/x", "Master.normalizeInstanceURL: missing URL scheme"),
        Case("", "Master.normalizeInstanceURL: missing URL scheme"),
        Case("master://h:1", "Master.normalizeInstanceURL: master cannot manage master URL"),
        Case("MASTER:x", "Master.normalizeInstanceURL: master cannot manage master URL"),
        Case("Master://", "Master.normalizeInstanceURL: master cannot manage master URL"),
        Case(":x", invalid + #"parse ":x": missing protocol scheme"#),
        Case("ht tp://x", invalid + #"parse "ht tp://x": first path segment in URL cannot contain colon"#),
        Case("edge://h/\n", invalid + #"parse "edge://h/\n": net/url: invalid control character in URL"#),
        Case("edge://h/%zz", invalid + #"parse "edge://h/%zz": invalid URL escape "%zz""#),
        Case("edge://h/p#%g", invalid + #"parse "edge://h/p#%g": invalid URL escape "%g""#),
        Case("edge://a b/", invalid + #"parse "edge://a b/": invalid character " " in host name"#),
        Case("edge://h:1x/", invalid + #"parse "edge://h:1x/": invalid port ":1x" after host"#),
        Case("edge://[::1/", invalid + #"parse "edge://[::1/": missing ']' in host"#),
        Case("edge://[127.0.0.1]/", invalid + #"parse "edge://[127.0.0.1]/": invalid IP-literal"#),
        Case("edge://a\"b@h/", invalid + #"parse "edge://a\"b@h/": net/url: invalid userinfo"#),
    ]

    @Test(arguments: rejected)
    func rejectsWithTheAPIMessage(_ c: Case) {
        let error = #expect(throws: InstanceURLError.self, sourceLocation: c.location) {
            try InstanceURL.normalize(c.input)
        }
        #expect(error?.message == c.expected, sourceLocation: c.location)
    }
}
