import Testing
@testable import OpenCtrlServer

struct LogPressureTests {
    static let kib = 1024

    struct Case: Sendable, CustomTestStringConvertible {
        var pending: Int
        var admitted: Bool
        var line: UInt
        var testDescription: String { "\(pending) pending, line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
        init(_ pending: Int, _ admitted: Bool, line: UInt = #line) { (self.pending, self.admitted, self.line) = (pending, admitted, line) }
    }

    /// "Above 256 KiB" skips, so exactly 256 KiB is still delivered.
    static let fresh: [Case] = [
        Case(0, true), Case(1, true), Case(64 * kib, true), Case(256 * kib - 1, true), Case(256 * kib, true),
        Case(256 * kib + 1, false), Case(300 * kib, false), Case(1024 * kib, false), Case(Int.max / 2, false), Case(257 * kib, false),
    ]

    @Test(arguments: fresh)
    func admitFromFreshState(_ c: Case) {
        var p = LogPressure()
        let admitted = p.admitLog(pending: c.pending)
        #expect(admitted == c.admitted, sourceLocation: c.location)
        #expect(p.skipping == !c.admitted, sourceLocation: c.location)
        #expect(p.skipped == (c.admitted ? 0 : 1), sourceLocation: c.location)
    }

    /// Once skipping, logs stay skipped until `caughtUp` sees the output under 64 KiB: the pending
    /// size alone, even far below 256 KiB, does not resume them.
    @Test(arguments: [256 * kib + 1, 256 * kib, 200 * kib, 64 * kib, 64 * kib - 1, 0])
    func skippingHoldsUntilCaughtUp(_ pending: Int) {
        var p = LogPressure()
        let first = p.admitLog(pending: 256 * Self.kib + 1)
        let second = p.admitLog(pending: pending)
        #expect(!first && !second)
        #expect(p.skipping && p.skipped == 2)
    }

    struct CatchUpCase: Sendable, CustomTestStringConvertible {
        var pending: Int
        var resumes: Bool
        var line: UInt
        var testDescription: String { "\(pending) pending, line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
        init(_ pending: Int, _ resumes: Bool, line: UInt = #line) { (self.pending, self.resumes, self.line) = (pending, resumes, line) }
    }

    /// "Falls back under 64 KiB": 65,536 pending is not under it.
    static let catchUps: [CatchUpCase] = [
        CatchUpCase(0, true), CatchUpCase(1, true), CatchUpCase(64 * kib - 1, true), CatchUpCase(32 * kib, true),
        CatchUpCase(64 * kib, false), CatchUpCase(64 * kib + 1, false), CatchUpCase(200 * kib, false), CatchUpCase(512 * kib, false),
    ]

    @Test(arguments: catchUps)
    func caughtUpOnlyUnder64KiB(_ c: CatchUpCase) {
        var p = LogPressure()
        _ = p.admitLog(pending: 300 * Self.kib)
        _ = p.admitLog(pending: 100 * Self.kib)
        let reported = p.caughtUp(pending: c.pending)
        #expect(reported == (c.resumes ? 2 : nil), sourceLocation: c.location)
        #expect(p.skipping == !c.resumes, sourceLocation: c.location)
        #expect(p.skipped == (c.resumes ? 0 : 2), sourceLocation: c.location)
    }

    @Test func caughtUpReportsOnceThenLogsFlowAgain() {
        var p = LogPressure()
        let skipped = p.admitLog(pending: 400 * Self.kib)
        let first = p.caughtUp(pending: 0)
        let second = p.caughtUp(pending: 0)
        #expect(!skipped && first == 1 && second == nil)
        #expect(p == LogPressure())
        let resumed = p.admitLog(pending: 100 * Self.kib)
        #expect(resumed)
    }

    @Test func caughtUpWithoutSkippingIsNil() {
        var p = LogPressure()
        let admitted = p.admitLog(pending: 10)
        let reported = p.caughtUp(pending: 0)
        #expect(admitted && reported == nil)
        #expect(!p.skipping && p.skipped == 0)
    }

    @Test func skipAccumulatesAcrossEpisodes() {
        var p = LogPressure()
        let first = p.admitLog(pending: 300 * Self.kib)
        p.skip(5)
        p.skip(0)
        let second = p.admitLog(pending: 70 * Self.kib)
        p.skip(1000)
        #expect(!first && !second && p.skipped == 1007)
        let early = p.caughtUp(pending: 64 * Self.kib)
        let caught = p.caughtUp(pending: 1)
        #expect(early == nil && caught == 1007)
        let again = p.admitLog(pending: 256 * Self.kib + 1)
        p.skip(2)
        let next = p.caughtUp(pending: 0)
        #expect(!again && next == 3)
    }

    @Test(arguments: [(0, "OpenCtrl dropped 0 log events for this connection"),
                      (1, "OpenCtrl dropped 1 log events for this connection"),
                      (1007, "OpenCtrl dropped 1007 log events for this connection")])
    func gapNoticeText(_ skipped: Int, _ text: String) {
        #expect(LogPressure.gapNotice(skipped: skipped) == text)
    }

    @Test func resumeNoticeTextAndThresholds() {
        #expect(LogPressure.resumeGapNotice == "OpenCtrl dropped log events before this connection")
        #expect(LogPressure.skipAbove == 262_144 && LogPressure.resumeBelow == 65_536)
    }
}
