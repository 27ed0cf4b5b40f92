import Testing

@testable import OpenCtrlServer

/// Byte counters, bases and the reset action (CONTRACT §10, "Our rule").
struct CountersTests {
    static let max: UInt64 = 9_223_372_036_854_775_807

    @Test func maximumIsTheLargestSignedInt64() {
        #expect(ByteCounter.maximum == Self.max)
        #expect(ByteCounter.maximum == UInt64(Int64.max))
    }

    /// §10's worked example, step by step.
    @Test func workedExample() {
        var c = ByteCounter()
        c.start()
        #expect(c.displayed == 0)
        c.apply(raw: 100)
        #expect(c.displayed == 100)
        c.reset()
        #expect(c.resetOffset == 100 && c.displayed == 0)
        c.apply(raw: 150)
        #expect(c.displayed == 50)
        c.reset()
        #expect(c.resetOffset == 150 && c.displayed == 0)
        c.apply(raw: 160)
        #expect(c.displayed == 10)
        // stop leaves the counter untouched
        c.start()
        #expect(c.base == 10 && c.resetOffset == 0)
        c.apply(raw: 5)
        #expect(c.displayed == 15)
    }

    struct SaturationCase: Sendable, CustomTestStringConvertible {
        var loaded: UInt64
        var raw: UInt64
        var expected: UInt64
        var line: UInt

        init(loaded: UInt64, raw: UInt64, _ expected: UInt64, line: UInt = #line) {
            self.loaded = loaded
            self.raw = raw
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "\(loaded) + \(raw)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let saturationCases: [SaturationCase] = [
        SaturationCase(loaded: 0, raw: max, max),
        SaturationCase(loaded: 0, raw: max - 1, max - 1),
        SaturationCase(loaded: 0, raw: max + 1, max),
        SaturationCase(loaded: 0, raw: UInt64.max, max),
        SaturationCase(loaded: 1, raw: max - 1, max),
        SaturationCase(loaded: 1, raw: max - 2, max - 1),
        SaturationCase(loaded: 1, raw: max, max),
        SaturationCase(loaded: 1 << 62, raw: 1 << 62, max),
        SaturationCase(loaded: 1 << 62, raw: (1 << 62) - 1, max),
        SaturationCase(loaded: 1 << 62, raw: (1 << 62) - 2, max - 1),
        SaturationCase(loaded: max - 5, raw: 4, max - 1),
        SaturationCase(loaded: max - 5, raw: 5, max),
        SaturationCase(loaded: max - 5, raw: 6, max),
        SaturationCase(loaded: max, raw: 0, max),
        SaturationCase(loaded: max, raw: 1, max),
        SaturationCase(loaded: max, raw: UInt64.max, max),
        SaturationCase(loaded: UInt64.max, raw: UInt64.max, max),
    ]

    /// Huge raws on huge bases: `B + v` saturates at 2^63 − 1 instead of wrapping or trapping.
    @Test(arguments: saturationCases)
    func saturation(_ c: SaturationCase) {
        var counter = ByteCounter(displayed: c.loaded)
        counter.start()
        counter.apply(raw: c.raw)
        #expect(counter.displayed == c.expected, sourceLocation: c.location)
    }

    /// A large reset offset with a raw value that wraps past it.
    @Test func saturationAfterAResetWithAHugeOffset() {
        var c = ByteCounter()
        c.start()
        c.apply(raw: UInt64.max - 1)
        #expect(c.displayed == Self.max)
        c.reset()
        #expect(c.resetOffset == UInt64.max - 1)
        c.apply(raw: UInt64.max)
        #expect(c.displayed == 1)
        c.apply(raw: 3)
        #expect(c.displayed == 3 && c.resetOffset == 0)
    }

    /// The reset offset is the last raw value even when saturation cut the displayed value, so the
    /// next checkpoint shows exactly the bytes since the reset (`R + (D − B)` would give 140 here).
    @Test func resetAfterSaturationCountsFromTheLastRawValue() {
        var c = ByteCounter(displayed: Self.max - 10)
        c.start()
        c.apply(raw: 100)
        #expect(c.displayed == Self.max)
        c.reset()
        c.apply(raw: 150)
        #expect(c.displayed == 50)
    }

    /// A new run counts the child's raw values from zero on top of what was displayed, even
    /// though they restart below the previous run's (the original's bug 2 subtracted the old offset).
    @Test func rawValueGoesBackwardsAfterAChildRestart() {
        var c = ByteCounter()
        c.start()
        c.apply(raw: 100)
        c.reset()
        c.apply(raw: 130)
        #expect(c.displayed == 30)
        c.start()
        #expect(c.base == 30 && c.resetOffset == 0)
        c.apply(raw: 5)
        #expect(c.displayed == 35)
        c.apply(raw: 150)
        #expect(c.displayed == 180)
    }

    /// Within one run, a raw value below the reset offset means the child's own counter restarted:
    /// all of it counts, and the offset is dropped.
    @Test func rawValueBelowTheResetOffsetWithinARun() {
        var c = ByteCounter(displayed: 1000)
        c.start()
        c.apply(raw: 100)
        #expect(c.displayed == 1100)
        c.reset()
        c.apply(raw: 30)
        #expect(c.displayed == 30 && c.resetOffset == 0)
        c.apply(raw: 50)
        #expect(c.displayed == 50)
    }

    /// Without a reset, the formula follows the raw value down (no offset to drop).
    @Test func rawValueGoesBackwardsWithoutAReset() {
        var c = ByteCounter(displayed: 7)
        c.start()
        c.apply(raw: 100)
        c.apply(raw: 40)
        #expect(c.displayed == 47)
    }

    /// The original's bug 1: a second reset must measure from the raw value, not the delta.
    @Test func resetTwiceInOneRun() {
        var c = ByteCounter(displayed: 500)
        c.start()
        c.apply(raw: 100)
        #expect(c.displayed == 600)
        c.reset()
        c.apply(raw: 150)
        #expect(c.displayed == 50)
        c.reset()
        c.apply(raw: 160)
        #expect(c.displayed == 10)
    }

    @Test func resetBeforeTheFirstCheckpointOfARun() {
        var c = ByteCounter(displayed: 40)
        c.start()
        c.reset()
        #expect(c.displayed == 0 && c.resetOffset == 0)
        c.apply(raw: 25)
        #expect(c.displayed == 25)
    }

    /// Reset while stopped zeroes D and B; the next run shows its raw values unreduced.
    @Test func resetWhileStopped() {
        var c = ByteCounter()
        c.start()
        c.apply(raw: 100)
        // the child stops here; nothing touches the counter
        c.reset()
        #expect(c.displayed == 0 && c.base == 0)
        c.start()
        #expect(c.base == 0 && c.resetOffset == 0)
        c.apply(raw: 7)
        #expect(c.displayed == 7)
    }

    /// Reset after master boot, before the instance ever ran.
    @Test func resetWhileStoppedBeforeAnyRun() {
        var c = ByteCounter(displayed: 500)
        c.reset()
        #expect(c.displayed == 0 && c.base == 0 && c.resetOffset == 0)
        c.start()
        c.apply(raw: 7)
        #expect(c.displayed == 7)
    }

    /// A persisted value above 2^63 − 1 (the Go original's wrap-around or a hand-edited file) is
    /// shown as saturated at once and stays there until a reset.
    @Test(arguments: [CountersTests.max + 1, UInt64.max - 1, UInt64.max])
    func loadedAboveTheMaximum(_ loaded: UInt64) {
        var c = ByteCounter(displayed: loaded)
        #expect(c.displayed == Self.max)
        c.start()
        #expect(c.base == Self.max)
        c.apply(raw: 0)
        #expect(c.displayed == Self.max)
        c.apply(raw: 12)
        #expect(c.displayed == Self.max)
        c.reset()
        #expect(c.displayed == 0)
        c.apply(raw: 20)
        #expect(c.displayed == 8)
    }

    @Test func loadedAtTheMaximumIsKept() {
        #expect(ByteCounter(displayed: Self.max).displayed == Self.max)
        #expect(ByteCounter(displayed: Self.max - 1).displayed == Self.max - 1)
    }

    /// Any sequence of operations with extreme values keeps D and B in range, without trapping.
    @Test func extremeSequencesNeverLeaveTheRange() {
        let raws: [UInt64] = [0, 1, 2, Self.max - 1, Self.max, Self.max + 1, UInt64.max - 1, UInt64.max]
        for loaded in raws {
            for first in raws {
                for second in raws {
                    var c = ByteCounter(displayed: loaded)
                    for step in 0..<6 {
                        switch step {
                        case 0, 3: c.start()
                        case 1: c.apply(raw: first)
                        case 2: c.reset()
                        default: c.apply(raw: second)
                        }
                        #expect(c.displayed <= Self.max && c.base <= Self.max, "\(loaded) \(first) \(second) step \(step)")
                    }
                }
            }
        }
    }

    @Test func counterSetAppliesEachCounterAndSkipsOverflowedOnes() throws {
        var set = CounterSet(tcprx: 1, tcptx: 2, udprx: 3, udptx: UInt64.max)
        #expect(set.udptx.displayed == Self.max)
        set.start()
        let checkpoint = try #require(CheckpointParser.parse(
            "CHECK_POINT|MODE=1|PING=12ms|POOL=4|TCPS=10|UDPS=2|TCPRX=10|TCPTX=20|UDPRX=18446744073709551616|UDPTX=40"))
        set.apply(checkpoint)
        #expect(set.tcprx.displayed == 11)
        #expect(set.tcptx.displayed == 22)
        #expect(set.udprx.displayed == 3)
        #expect(set.udprx.lastRaw == 0)
        #expect(set.udptx.displayed == Self.max)
        set.reset()
        #expect([set.tcprx, set.tcptx, set.udprx, set.udptx].map(\.displayed) == [0, 0, 0, 0])
        #expect([set.tcprx, set.tcptx, set.udprx, set.udptx].map(\.resetOffset) == [10, 20, 0, 40])
        set.apply(Checkpoint(mode: nil, ping: nil, pool: nil, tcps: nil, udps: nil, tcprx: 15, tcptx: nil, udprx: 9, udptx: 41))
        #expect([set.tcprx, set.tcptx, set.udprx, set.udptx].map(\.displayed) == [5, 0, 9, 1])
        set.start()
        #expect([set.tcprx, set.tcptx, set.udprx, set.udptx].map(\.base) == [5, 0, 9, 1])
        #expect([set.tcprx, set.tcptx, set.udprx, set.udptx].map(\.resetOffset) == [0, 0, 0, 0])
    }
}
