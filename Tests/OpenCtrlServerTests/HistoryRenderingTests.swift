import Testing
@testable import OpenCtrlServer

/// The two renderings of a history (CONTRACT §22.2), byte for byte.
@Suite struct HistoryRenderingTests {
    static let second = HistoryTests.second

    /// The time text events would carry for this instant in the local zone.
    static func time(_ nanoseconds: Int32) -> String {
        var clock = EventClock()
        return clock.time(seconds: second, nanoseconds: nanoseconds, utcOffset: EventClock.localOffset).text
    }

    static func sample() -> History {
        let history = History()
        HistoryTests.add(history, Array("Master.startInstanceLocked: instance starting: x://y".utf8), .master, nanoseconds: 5)
        HistoryTests.add(history, Array("a<b> \"q\"\t".utf8) + [0xFF, 0x20] + Array("é".utf8), nanoseconds: 120_000)
        HistoryTests.add(history, Array("last".utf8), nanoseconds: 0)
        return history
    }

    @Test func json() {
        let body = String(decoding: Self.sample().json(id: "d34db33f", tail: 100, after: nil), as: UTF8.self)
        let expected = #"{"id":"d34db33f","first":1,"next":4,"lines":["#
            + #"{"seq":1,"time":"\#(Self.time(5))","source":"master","text":"Master.startInstanceLocked: instance starting: x://y"},"#
            + #"{"seq":2,"time":"\#(Self.time(120_000))","source":"output","text":"a\u003cb\u003e \"q\"\t\ufffd é"},"#
            + #"{"seq":3,"time":"\#(Self.time(0))","source":"output","text":"last"}]}"#
        #expect(body == expected)
    }

    @Test func jsonOfAnEmptySelection() {
        #expect(String(decoding: History().json(id: "d34db33f", tail: 100, after: nil), as: UTF8.self)
            == #"{"id":"d34db33f","first":0,"next":1,"lines":[]}"#)
        #expect(String(decoding: Self.sample().json(id: "d34db33f", tail: 5, after: 3), as: UTF8.self)
            == #"{"id":"d34db33f","first":1,"next":4,"lines":[]}"#)
    }

    @Test func text() {
        let body = Self.sample().text(tail: 2, after: nil)
        let expected = Array("\(Self.time(120_000)) output a<b> \"q\"\t".utf8) + [0xEF, 0xBF, 0xBD, 0x20] + Array("é".utf8) + [0x0A]
            + Array("\(Self.time(0)) output last\n".utf8)
        #expect(body == expected)
        #expect(Self.sample().text(tail: 1, after: 0) == Array("\(Self.time(5)) master Master.startInstanceLocked: instance starting: x://y\n".utf8))
        #expect(History().text(tail: 100, after: nil).isEmpty)
    }

    /// Each byte that starts no valid sequence becomes one U+FFFD; valid runs stay as they are.
    @Test(arguments: [
        ([0xFF], [0xEF, 0xBF, 0xBD]),
        ([0x61, 0xC3], [0x61, 0xEF, 0xBF, 0xBD]),
        ([0xE2, 0x82, 0x41], [0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 0x41]),
        ([0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD]),
        ([0xF0, 0x9F, 0x98, 0x80, 0x00], [0xF0, 0x9F, 0x98, 0x80, 0x00]),
    ] as [([UInt8], [UInt8])])
    func invalidBytesInText(_ input: [UInt8], _ expected: [UInt8]) {
        var w = JSONWriter()
        input.withUnsafeBufferPointer { History.writeReplacingInvalid($0, into: &w) }
        #expect(w.bytes == expected)
    }
}
