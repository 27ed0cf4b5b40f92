import Testing
@testable import OpenCtrlServer

/// §22.3's pieces that need no process: the restart count the lifecycle keeps, the object's
/// bytes and signal names (`MetricsCountersTests` covers the `/proc` parsing).
struct ProcessFactsTests {
    @Test func automaticRestartsCountTimerStartsOnly() {
        var d = LifeDriver(LifeDriver.errorWithoutProcess)
        #expect(d.life.automaticRestarts == 0)
        let due = d.life.restartDueAt
        #expect(due != nil)
        d.send(.restartDue, after: .seconds(5))
        #expect(d.life.automaticRestarts == 1)
        // A timer that fires with nothing armed (cancelled by a stop) is not a restart.
        d.send(.spawnFailed(.failed("x")))
        d.send(.stop)
        d.send(.restartDue, after: .seconds(60))
        #expect(d.life.automaticRestarts == 1)
        // Operator starts never count.
        d.send(.start(byOperator: true))
        #expect(d.life.automaticRestarts == 1)
    }

    /// A live child is stopped first; the restart counts when the start behind that stop runs.
    @Test func restartOfALiveProcessCounts() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        #expect(d.life.restartDueAt != nil)
        d.send(.restartDue, after: .seconds(5))
        d.send(.exited(.code(0)))
        #expect(d.life.automaticRestarts == 1)
    }

    @Test func jsonWithAChildAndAnExit() {
        var facts = ProcessFacts()
        let t0 = ContinuousClock.now
        facts.started = ("2026-12-07T01:00:00.5Z", t0)
        facts.lastExit = ProcessFacts.Exit(time: "2026-12-07T00:59:00Z", reason: .signal(9))
        let json = facts.json(id: "d34db33f", status: "running", pid: 4242, restarts: 3, nextRestart: nil,
                              cpuSeconds: 1.25, rssBytes: 8_388_608, now: t0.advanced(by: .milliseconds(12_345)))
        #expect(String(decoding: json, as: UTF8.self) == #"{"id":"d34db33f","status":"running","pid":4242,"#
            + #""started":"2026-12-07T01:00:00.5Z","uptime":12.345,"restarts":3,"#
            + #""last_exit":{"time":"2026-12-07T00:59:00Z","code":null,"signal":"SIGKILL","reason":"signal: killed"},"#
            + #""next_restart":null,"cpu":1.25,"rss":8388608}"#)
    }

    @Test func jsonWithoutAChild() {
        let facts = ProcessFacts()
        let json = facts.json(id: "a", status: "error", pid: 0, restarts: 0, nextRestart: "2026-12-07T01:00:05Z",
                              cpuSeconds: 0, rssBytes: 0, now: .now)
        #expect(String(decoding: json, as: UTF8.self) == #"{"id":"a","status":"error","pid":0,"started":null,"uptime":0,"#
            + #""restarts":0,"last_exit":null,"next_restart":"2026-12-07T01:00:05Z","cpu":0,"rss":0}"#)
    }

    @Test(arguments: [(0, "0"), (1, "0.001"), (10, "0.01"), (1_000, "1"), (12_300, "12.3"), (-5, "0")] as [(Int64, String)])
    func milliDecimals(_ millis: Int64, _ text: String) {
        #expect(ProcessFacts.milliDecimal(millis) == text)
    }

    @Test func exitCodesAndSignals() {
        #expect(ProcessFacts.Exit(time: "t", reason: .code(3)) == ProcessFacts.Exit(time: "t", code: 3, reason: "exit status 3"))
        #expect(ProcessFacts.Exit(time: "t", reason: .signal(15)).signal == "SIGTERM")
        #expect(ProcessFacts.Exit.signalName(11) == "SIGSEGV")
        #expect(ProcessFacts.Exit.signalName(31) == "SIGSYS")
        #expect(ProcessFacts.Exit.signalName(34) == "SIGRTMIN")
        #expect(ProcessFacts.Exit.signalName(40) == "SIGRTMIN+6")
        #expect(ProcessFacts.Exit.signalName(32) == "SIG32")
    }
}
