import Testing
@testable import OpenCtrlServer

/// The mode 2 reload rule (CONTRACT §3.3) with injected time: due at least an interval after
/// the previous attempt, and every attempt counts.
struct TLSReloadScheduleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        /// Handshake times in seconds after the startup load.
        let handshakes: [Double]
        /// Which of them re-read the files.
        let attempts: [Bool]
        let line: UInt

        init(_ name: String, _ handshakes: [Double], _ attempts: [Bool], line: UInt = #line) {
            self.name = name
            self.handshakes = handshakes
            self.attempts = attempts
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case("exactly an hour after the load", [3600], [true]),
        Case("just under an hour", [3599.999], [false]),
        Case("handshakes within the hour", [1, 1800, 3599], [false, false, false]),
        Case("first handshake long after", [90_000], [true]),
        Case("next attempt an hour after the previous one", [3600, 3601, 7199, 7200], [true, false, false, true]),
        Case("idle hours do not queue attempts", [36_000, 36_001, 39_600], [true, false, true]),
        Case("the attempt time is the handshake's, not the due time", [5000, 8599, 8600], [true, false, true]),
        Case("no handshakes, no attempts", [], []),
    ]

    @Test(arguments: cases)
    func attempts(_ c: Case) {
        let loaded = ContinuousClock.now
        var schedule = TLSReloadSchedule(interval: TLSReloadSchedule.standardInterval, loadedAt: loaded)
        let seen = c.handshakes.map { schedule.attemptDue(now: loaded + .seconds($0)) }
        #expect(seen == c.attempts, sourceLocation: c.location)
    }

    struct OverrideCase: Sendable, CustomTestStringConvertible {
        let raw: String?
        let expected: Duration
        let line: UInt

        init(_ raw: String?, _ expected: Duration, line: UInt = #line) {
            self.raw = raw
            self.expected = expected
            self.line = line
        }

        var testDescription: String { raw ?? "unset" }
    }

    static let overrides: [OverrideCase] = [
        OverrideCase("0.5", .milliseconds(500)),
        OverrideCase("2", .seconds(2)),
        OverrideCase("7200", .seconds(7200)),
        OverrideCase(nil, .seconds(3600)),
        OverrideCase("", .seconds(3600)),
        OverrideCase("0", .seconds(3600)),
        OverrideCase("-1", .seconds(3600)),
        OverrideCase("1s", .seconds(3600)),
        OverrideCase("inf", .seconds(3600)),
        OverrideCase("nan", .seconds(3600)),
    ]

    @Test(arguments: overrides)
    func testOverride(_ c: OverrideCase) {
        #expect(TLSReloadSchedule.interval(testOverride: c.raw) == c.expected,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }
}
