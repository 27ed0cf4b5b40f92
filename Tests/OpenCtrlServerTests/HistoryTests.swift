import Testing
@testable import OpenCtrlServer

/// The per-instance history ring (CONTRACT §22.2): bounds, `seq`, the 4,096-byte cut and the
/// selection a query makes.
@Suite struct HistoryTests {
    static let second: Int64 = 1_780_891_200

    static func add(_ history: History, _ text: [UInt8], _ source: HistorySource = .output, nanoseconds: Int32 = 0) {
        text.withUnsafeBytes { history.append(source, line: $0, seconds: second, nanoseconds: nanoseconds) }
    }

    static func add(_ history: History, _ text: String, _ source: HistorySource = .output) {
        add(history, Array(text.utf8), source)
    }

    /// Every entry held, oldest first, as (seq, text).
    static func held(_ history: History) -> [(UInt64, [UInt8])] {
        (0..<history.count).map { i in
            let (seq, entry) = history.entry(i)
            return (seq, history.withText(of: entry) { Array($0) })
        }
    }

    @Test func emptyHistory() {
        let history = History()
        #expect(history.first == 0)
        #expect(history.next == 1)
        #expect(history.count == 0)
        #expect(history.selection(tail: 100, after: nil) == 0..<0)
        #expect(history.selection(tail: 100, after: 0) == 0..<0)
    }

    @Test func seqCountsFromOne() {
        let history = History()
        for n in 1...3 { Self.add(history, "line \(n)") }
        #expect(history.first == 1)
        #expect(history.next == 4)
        #expect(Self.held(history).map(\.0) == [1, 2, 3])
        #expect(Self.held(history).map { String(decoding: $0.1, as: UTF8.self) } == ["line 1", "line 2", "line 3"])
    }

    @Test func atMostFiveHundredEntriesOldestFirstOut() {
        let history = History()
        for n in 1...1_234 { Self.add(history, "\(n)") }
        #expect(history.count == 500)
        #expect(history.first == 735)
        #expect(history.next == 1_235)
        let held = Self.held(history)
        #expect(held.first.map { String(decoding: $0.1, as: UTF8.self) } == "735")
        #expect(held.last.map { String(decoding: $0.1, as: UTF8.self) } == "1234")
        #expect(zip(held, held.dropFirst()).allSatisfy { $0.0 + 1 == $1.0 })
    }

    @Test func atMostSixtyFourKiBOfText() {
        let history = History()
        for n in 0..<100 { Self.add(history, [UInt8](repeating: UInt8(ascii: "a") + UInt8(n % 26), count: 1_000)) }
        #expect(history.textBytes == 65_000)
        #expect(history.count == 65)
        #expect(history.first == 36)
        Self.add(history, [UInt8](repeating: 0x7A, count: 536))
        #expect(history.textBytes == 65_536)
        #expect(history.count == 66)
        Self.add(history, [0x7A])
        #expect(history.count == 66)
        #expect(history.first == 37)
    }

    /// Entries of every size, many wrapping around the end of the text buffer while it grows
    /// and after: each keeps its text.
    @Test func textSurvivesWrapsAndGrowth() {
        let history = History()
        var expected: [(UInt64, [UInt8])] = []
        var textBytes = 0
        for n in 1...5_000 {
            let length = (n * 7_919) % 4_097
            let text = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) | 0x20 & 0x7F }
            Self.add(history, text)
            expected.append((UInt64(n), text))
            textBytes += length
            while expected.count > 500 || textBytes > History.maxTextBytes {
                textBytes -= expected.removeFirst().1.count
            }
        }
        let held = Self.held(history)
        #expect(held.map(\.0) == expected.map(\.0))
        #expect(held.map(\.1) == expected.map(\.1))
        #expect(history.textBytes == textBytes)
    }

    @Test func longLinesAreCutWithAMarker() {
        let history = History()
        Self.add(history, [UInt8](repeating: 0x61, count: 4_096))
        Self.add(history, [UInt8](repeating: 0x61, count: 5_000))
        // "é" is two bytes; one starting at byte 4,095 would end past the bound.
        Self.add(history, [UInt8](repeating: 0x61, count: 4_095) + Array("é".utf8) + [0x62])
        // A byte that starts no valid sequence is a character of its own.
        Self.add(history, [UInt8](repeating: 0x61, count: 4_095) + [0xFF, 0xFF])
        let held = Self.held(history).map(\.1)
        #expect(held[0] == [UInt8](repeating: 0x61, count: 4_096))
        #expect(held[1] == [UInt8](repeating: 0x61, count: 4_096) + Array(" [truncated 904 bytes]".utf8))
        #expect(held[2] == [UInt8](repeating: 0x61, count: 4_095) + Array(" [truncated 3 bytes]".utf8))
        #expect(held[3] == [UInt8](repeating: 0x61, count: 4_095) + [0xFF] + Array(" [truncated 1 bytes]".utf8))
    }

    struct Pick: Sendable, CustomTestStringConvertible {
        let tail: Int
        let after: UInt64?
        let seqs: ClosedRange<UInt64>?
        var testDescription: String { "tail=\(tail) after=\(after.map(String.init) ?? "-")" }
    }

    /// History holding seqs 101...600 (the first 100 dropped).
    @Test(arguments: [
        Pick(tail: 100, after: nil, seqs: 501...600),
        Pick(tail: 500, after: nil, seqs: 101...600),
        Pick(tail: 1, after: nil, seqs: 600...600),
        Pick(tail: 100, after: 0, seqs: 101...200),
        Pick(tail: 100, after: 100, seqs: 101...200),
        Pick(tail: 100, after: 101, seqs: 102...201),
        Pick(tail: 3, after: 550, seqs: 551...553),
        Pick(tail: 100, after: 590, seqs: 591...600),
        Pick(tail: 100, after: 599, seqs: 600...600),
        Pick(tail: 100, after: 600, seqs: nil),
        Pick(tail: 100, after: UInt64(Int64.max), seqs: nil),
    ])
    func selection(_ pick: Pick) {
        let history = History()
        for n in 1...600 { Self.add(history, "\(n)") }
        let range = history.selection(tail: pick.tail, after: pick.after)
        let seqs = range.map { history.entry($0).seq }
        #expect(seqs == (pick.seqs.map(Array.init) ?? []))
    }
}
