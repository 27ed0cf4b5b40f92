import Testing
@testable import OpenCtrlServer

struct EventRingTests {
    static let boot = "0123abcd"

    /// A frame whose bytes name its sequence, so a misplaced entry cannot pass for another.
    static func frame(_ sequence: UInt64, size: Int = 16) -> [UInt8] {
        let tag = Array("#\(sequence);".utf8)
        return tag + [UInt8](repeating: UInt8(ascii: "."), count: max(size - tag.count, 0))
    }

    /// Sequences 1...count; every third one (3, 6, 9, …) is a state event, the rest are logs.
    static func ring(count: UInt64, capacity: Int = 1024, byteBudget: Int = 4 << 20, size: Int = 16) -> EventRing {
        var ring = EventRing(capacity: capacity, byteBudget: byteBudget)
        for s in stride(from: 1, through: count, by: 1) {
            ring.append(sequence: s, isLog: s % 3 != 0, frame: frame(s, size: size))
        }
        return ring
    }

    static func logs(_ range: ClosedRange<UInt64>) -> [UInt64] { range.filter { $0 % 3 != 0 } }

    struct Case: Sendable, CustomTestStringConvertible {
        var header: String?
        var expected: ResumePlan
        var line: UInt
        var testDescription: String { "line \(line): \(header.debugDescription)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
        init(_ header: String?, _ expected: ResumePlan, line: UInt = #line) {
            (self.header, self.expected, self.line) = (header, expected, line)
        }
    }

    /// Against a ring holding 1...20 of boot 0123abcd.
    static let replayable: [Case] = [
        Case(nil, .none),
        Case("", .none),
        Case("0123abcd.20", .replay([])),
        Case("0123abcd.19", .replay([20])),
        Case("0123abcd.17", .replay([19, 20])),
        Case("0123abcd.10", .replay(logs(11...20))),
        Case("0123abcd.1", .replay(logs(2...20))),
        Case("0123abcd.0", .replay(logs(1...20))),
    ]

    static let gaps: [Case] = [
        Case("0123abce.10", .gap),
        Case("ffffffff.10", .gap),
        Case("0123ABCD.10", .gap),
        Case("0123abcd.21", .gap),
        Case("0123abcd.18446744073709551615", .gap),
        Case("0123abcd.010", .gap),
        Case("0123abcd.", .gap),
        Case("0123abcd", .gap),
        Case(" ", .gap),
        Case("garbage", .gap),
    ]

    @Test(arguments: replayable + gaps)
    func planForHeldEvents(_ c: Case) {
        #expect(Self.ring(count: 20).plan(lastEventID: c.header, boot: Self.boot) == c.expected, sourceLocation: c.location)
    }

    @Test func freshRing() {
        let ring = EventRing()
        #expect(ring.count == 0 && ring.lastSequence == 0 && ring.firstSequence == 1)
        #expect(ring.plan(lastEventID: "0123abcd.0", boot: Self.boot) == .replay([]))
        #expect(ring.plan(lastEventID: "0123abcd.1", boot: Self.boot) == .gap)
        #expect(ring.plan(lastEventID: nil, boot: Self.boot) == .none)
        #expect(ring[0] == nil && ring[1] == nil)
    }

    /// After 1030 events a ring of 1024 holds 7...1030: an id of 6 still replays everything held,
    /// 5 means event 6 was missed for good.
    @Test func evictionByCount() throws {
        let ring = Self.ring(count: 1030)
        #expect(ring.count == 1024)
        #expect(ring.firstSequence == 7 && ring.lastSequence == 1030)
        #expect(ring.bytes == 1024 * 16)
        #expect(ring.plan(lastEventID: "0123abcd.6", boot: Self.boot) == .replay(Self.logs(7...1030)))
        #expect(ring.plan(lastEventID: "0123abcd.5", boot: Self.boot) == .gap)
        #expect(ring.plan(lastEventID: "0123abcd.1", boot: Self.boot) == .gap)
        #expect(ring.plan(lastEventID: "0123abcd.1029", boot: Self.boot) == .replay([1030]))
        #expect(ring[6] == nil)
        let oldest = try #require(ring[7])
        #expect(oldest.sequence == 7 && oldest.isLog && oldest.frame == Self.frame(7))
    }

    /// 100-byte frames in a 1000-byte budget: ten are held whatever the count capacity.
    @Test func evictionByBytes() {
        let ring = Self.ring(count: 25, byteBudget: 1000, size: 100)
        #expect(ring.count == 10 && ring.bytes == 1000)
        #expect(ring.firstSequence == 16 && ring.lastSequence == 25)
        #expect(ring.plan(lastEventID: "0123abcd.15", boot: Self.boot) == .replay(Self.logs(16...25)))
        #expect(ring.plan(lastEventID: "0123abcd.14", boot: Self.boot) == .gap)
        #expect(ring[15] == nil && ring[16]?.frame == Self.frame(16, size: 100))
    }

    /// A frame larger than the whole budget is still held (alone), so the newest event can
    /// always be replayed.
    @Test func oversizedFrameIsHeldAlone() {
        var ring = Self.ring(count: 5, byteBudget: 1000, size: 100)
        ring.append(sequence: 6, isLog: true, frame: Self.frame(6, size: 5000))
        #expect(ring.count == 1 && ring.bytes == 5000 && ring.firstSequence == 6)
        #expect(ring.plan(lastEventID: "0123abcd.5", boot: Self.boot) == .replay([6]))
        #expect(ring.plan(lastEventID: "0123abcd.4", boot: Self.boot) == .gap)
        ring.append(sequence: 7, isLog: true, frame: Self.frame(7, size: 100))
        #expect(ring.count == 1 && ring.bytes == 100 && ring.firstSequence == 7)
    }

    /// Every held sequence maps to its own entry across several wraps of the storage.
    @Test(arguments: [1, 2, 7, 64])
    func subscriptAcrossWraps(_ capacity: Int) {
        for total in UInt64(1)...UInt64(3 * capacity + 1) {
            let ring = Self.ring(count: total, capacity: capacity)
            let first = total > UInt64(capacity) ? total - UInt64(capacity) + 1 : 1
            #expect(ring.firstSequence == first, "capacity \(capacity), total \(total)")
            for s in first...total {
                #expect(ring[s]?.sequence == s && ring[s]?.frame == Self.frame(s), "capacity \(capacity), sequence \(s)")
            }
        }
    }

    @Test(arguments: [0, 6, 1031, 2000, UInt64.max] as [UInt64])
    func subscriptOutOfRangeIsNil(_ sequence: UInt64) {
        #expect(Self.ring(count: 1030)[sequence] == nil)
    }

    @Test func replayCarriesOnlyLogsInOrder() throws {
        var ring = EventRing(capacity: 8)
        let kinds = [true, false, false, true, true, false, true]
        for (i, isLog) in kinds.enumerated() {
            ring.append(sequence: UInt64(i + 1), isLog: isLog, frame: Self.frame(UInt64(i + 1)))
        }
        #expect(ring.plan(lastEventID: "0123abcd.0", boot: Self.boot) == .replay([1, 4, 5, 7]))
        #expect(ring.plan(lastEventID: "0123abcd.1", boot: Self.boot) == .replay([4, 5, 7]))
        #expect(ring.plan(lastEventID: "0123abcd.5", boot: Self.boot) == .replay([7]))
        #expect(ring.plan(lastEventID: "0123abcd.6", boot: Self.boot) == .replay([7]))
        #expect(ring.plan(lastEventID: "0123abcd.7", boot: Self.boot) == .replay([]))
        #expect(try #require(ring[4]).isLog && !(try #require(ring[6]).isLog))
    }
}
