import Testing
@testable import OpenCtrlServer

struct PromTextTests {
    private func text(_ w: PromText) -> String { String(decoding: w.bytes, as: UTF8.self) }

    @Test func familyHeaderAndPlainSamples() {
        var w = PromText()
        w.family("openctrl_start_time_seconds", .gauge, help: "Start time.\nIn \\ seconds.")
        w.sample("openctrl_start_time_seconds", 1_700_000_000.25)
        w.family("x_total", .counter, help: "X.")
        w.sample("x_total", UInt64(0))
        w.sample("x_total", UInt64.max)
        #expect(text(w) == """
            # HELP openctrl_start_time_seconds Start time.\\nIn \\\\ seconds.
            # TYPE openctrl_start_time_seconds gauge
            openctrl_start_time_seconds 1700000000.25
            # HELP x_total X.
            # TYPE x_total counter
            x_total 0
            x_total 18446744073709551615

            """)
    }

    struct EscapeCase: Sendable {
        var input: [UInt8]
        var expected: String
        var line: UInt = #line
    }

    static let escapes: [EscapeCase] = [
        EscapeCase(input: Array("plain".utf8), expected: "plain"),
        EscapeCase(input: Array("a\\b".utf8), expected: "a\\\\b"),
        EscapeCase(input: Array("say \"hi\"".utf8), expected: "say \\\"hi\\\""),
        EscapeCase(input: Array("two\nlines".utf8), expected: "two\\nlines"),
        EscapeCase(input: Array("tab\there".utf8), expected: "tab\there"),
        EscapeCase(input: Array("ünï €".utf8), expected: "ünï €"),
        EscapeCase(input: [0x61, 0xFF, 0x62], expected: "a\u{FFFD}b"),
        EscapeCase(input: [0xE2, 0x82], expected: "\u{FFFD}"),
        EscapeCase(input: [0xC0, 0x80], expected: "\u{FFFD}\u{FFFD}"),
        EscapeCase(input: [], expected: ""),
    ]

    @Test(arguments: escapes)
    func labelValueEscaping(_ c: EscapeCase) {
        #expect(String(decoding: PromText.escape(utf8: c.input), as: UTF8.self) == c.expected,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    struct FloatCase: Sendable {
        var value: Double
        var expected: String
        var line: UInt = #line
    }

    static let floats: [FloatCase] = [
        FloatCase(value: 0, expected: "0"),
        FloatCase(value: 1, expected: "1"),
        FloatCase(value: -3, expected: "-3"),
        FloatCase(value: 0.0005, expected: "0.0005"),
        FloatCase(value: 0.0025, expected: "0.0025"),
        FloatCase(value: 0.25, expected: "0.25"),
        FloatCase(value: 0.00001, expected: "1e-05"),
        FloatCase(value: 1e20, expected: "1e+20"),
        FloatCase(value: .infinity, expected: "+Inf"),
        FloatCase(value: -.infinity, expected: "-Inf"),
        FloatCase(value: .nan, expected: "NaN"),
    ]

    @Test(arguments: floats)
    func floatsParseBack(_ c: FloatCase) {
        let out = String(decoding: PromText.formatted(c.value), as: UTF8.self)
        #expect(out == c.expected, sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
        if c.value.isFinite { #expect(Double(out) == c.value) }
    }

    @Test func labelledSamples() {
        var w = PromText()
        w.sample("a", "id", escaped: PromText.escape("x\"y"), 1.5)
        w.sample("b_total", "id", escaped: PromText.escape("z"), UInt64(7))
        w.sample("c", [("route", PromText.escape("info")), ("code", PromText.escape("200"))], 3)
        w.sample("d", [], 2)
        #expect(text(w) == "a{id=\"x\\\"y\"} 1.5\nb_total{id=\"z\"} 7\nc{route=\"info\",code=\"200\"} 3\nd 2\n")
    }

    @Test func histogramIsCumulativeWithInfSumAndCount() {
        var h = Histogram(bounds: [0.001, 0.01, 1])
        for v in [0.0005, 0.001, 0.005, 2.0] { h.observe(v) }
        #expect(h.counts == [2, 1, 0])
        var w = PromText()
        w.histogram("w_seconds", h)
        #expect(text(w) == """
            w_seconds_bucket{le="0.001"} 2
            w_seconds_bucket{le="0.01"} 3
            w_seconds_bucket{le="1"} 3
            w_seconds_bucket{le="+Inf"} 4
            w_seconds_sum 2.0065
            w_seconds_count 4

            """)
    }
}
