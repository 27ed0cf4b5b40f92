import Testing
@testable import OpenCtrlServer

/// Feeds one `Lifecycle` with injected monotonic time: tests advance `now`, they never sleep.
struct LifeDriver {
    let t0 = ContinuousClock.now
    var now: ContinuousClock.Instant
    var life: Lifecycle

    init(restart: Bool = true, _ given: [LifecycleEvent] = []) {
        now = t0
        life = Lifecycle(restart: restart)
        for event in given { send(event) }
    }

    @discardableResult
    mutating func send(_ event: LifecycleEvent, after delay: Duration = .zero) -> [LifecycleEffect] {
        now = now.advanced(by: delay)
        return life.handle(event, now: now)
    }

    static let running: [LifecycleEvent] = [.start(byOperator: false), .spawned]
    static let errorWithoutProcess: [LifecycleEvent] = [.start(byOperator: false), .spawnFailed(.failed("x"))]
    static let errorWithProcess: [LifecycleEvent] = running + [.errorLine]
    static let stopping: [LifecycleEvent] = running + [.stop]
}

extension LifecycleTests {
    /// One transition: from the state `given` leads to, `event` must return `effects` and leave
    /// `status`.
    struct Transition: Sendable, CustomTestStringConvertible {
        var name: String
        var given: [LifecycleEvent]
        var restart = true
        var event: LifecycleEvent
        var effects: [LifecycleEffect]
        var status: InstanceStatus
        var line: UInt = #line

        var testDescription: String { name }

        func check() {
            var d = LifeDriver(restart: restart, given)
            let at = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
            #expect(d.send(event) == effects, sourceLocation: at)
            #expect(d.life.status == status, sourceLocation: at)
        }
    }
}

private let grace = LifecycleEffect.armGraceTimer(.seconds(5))
private let firstRestart = LifecycleEffect.armRestartTimer(.seconds(5))
private let stoppedLine = LifecycleEffect.log("Master.stopInstanceLocked: instance stopped")
private let forceKilledLine = LifecycleEffect.log("Master.stopInstanceLocked: instance force killed")

struct LifecycleTests {
    static let t2: [Transition] = [
        Transition(name: "stopped starts", given: [], event: .start(byOperator: false),
                   effects: [.resetCountersBase, .spawn], status: .stopped),
        Transition(name: "error without process starts, no extra event (our rule)",
                   given: LifeDriver.errorWithoutProcess, event: .start(byOperator: true),
                   effects: [.cancelRestartTimer, .resetCountersBase, .spawn], status: .stopped),
        Transition(name: "error with live process is a no-op (our rule)",
                   given: LifeDriver.errorWithProcess, event: .start(byOperator: true), effects: [], status: .error),
        Transition(name: "running is a no-op", given: LifeDriver.running, event: .start(byOperator: true),
                   effects: [], status: .running),
        Transition(name: "deleted is a no-op", given: [.delete], event: .start(byOperator: true),
                   effects: [], status: .stopped),
        Transition(name: "shutting down is a no-op", given: [.shutdown(hurry: false)], event: .start(byOperator: false),
                   effects: [], status: .stopped),
        Transition(name: "during a stop queues the start", given: LifeDriver.stopping, event: .start(byOperator: true),
                   effects: [], status: .running),
    ]

    @Test(arguments: t2)
    func t2_startOnlyFromStoppedOrErrorWithoutProcess(_ row: Transition) { row.check() }

    @Test func t2_startUnsetsLastCheckpoint() {
        var d = LifeDriver(LifeDriver.running + [.checkpoint, .stop, .exited(.code(0))])
        #expect(d.life.lastCheckpointAt == nil)
        d.send(.start(byOperator: true))
        d.send(.spawned)
        #expect(d.send(.checkpointCheck, after: .seconds(100)) == [])
    }

    @Test func t2_queuedStartRunsAfterTheStop() {
        var d = LifeDriver(LifeDriver.stopping + [.start(byOperator: true)])
        #expect(d.send(.exited(.signal(15))) ==
                [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate, .resetCountersBase, .spawn])
    }

    @Test func t2b_spawnFailureLogsAndGoesToError() {
        var d = LifeDriver([.start(byOperator: false)])
        #expect(d.send(.spawnFailed(.failed("fork/exec /x: no such file or directory"))) ==
                [.log("Master.startInstanceLocked: instance error: fork/exec /x: no such file or directory"),
                 firstRestart, .publishUpdate])
        #expect(d.life.status == .error)
        #expect(d.life.phase == .idle)
    }

    @Test func t2b_noRuntimeBinaryAlsoPublishesTheReason() {
        let reason = "no runtime binary configured (start the master with bin=<path>)"
        var d = LifeDriver(restart: false, [.start(byOperator: false)])
        #expect(d.send(.spawnFailed(.noRuntimeBinary)) ==
                [.log("Master.startInstanceLocked: instance error: " + reason), .publishLog(reason), .publishUpdate])
        #expect(d.life.status == .error)
    }

    @Test func t2c_spawnSucceedsToRunning() {
        var d = LifeDriver([.start(byOperator: false)])
        #expect(d.send(.spawned) == [.publishUpdate])
        #expect(d.life.status == .running)
        #expect(d.life.phase == .running)
        #expect(d.send(.spawned) == [], "a second outcome for one spawn is ignored")
    }

    static let t3: [Transition] = [
        Transition(name: "from running", given: LifeDriver.running, event: .exited(.code(0)),
                   effects: [.clearLiveMetrics, .save, .publishUpdate], status: .stopped),
        Transition(name: "from error (T5 first): its restart is cancelled", given: LifeDriver.errorWithProcess,
                   event: .exited(.code(0)),
                   effects: [.clearLiveMetrics, .cancelRestartTimer, .save, .publishUpdate], status: .stopped),
    ]

    @Test(arguments: t3)
    func t3_exitZeroStopsAndIsNeverRestarted(_ row: Transition) { row.check() }

    struct ExitCase: Sendable {
        var reason: ExitReason
        var message: String
        var line: UInt = #line
    }

    static let exitTexts: [ExitCase] = [
        ExitCase(reason: .code(1), message: "exit status 1"),
        ExitCase(reason: .code(2), message: "exit status 2"),
        ExitCase(reason: .code(255), message: "exit status 255"),
        ExitCase(reason: .signal(9), message: "signal: killed"),
        ExitCase(reason: .signal(15), message: "signal: terminated"),
        ExitCase(reason: .signal(11), message: "signal: segmentation fault"),
        ExitCase(reason: .signal(11, coreDumped: true), message: "signal: segmentation fault (core dumped)"),
        ExitCase(reason: .signal(6, coreDumped: true), message: "signal: aborted (core dumped)"),
        ExitCase(reason: .signal(1), message: "signal: hangup"),
        ExitCase(reason: .signal(2), message: "signal: interrupt"),
        ExitCase(reason: .signal(3), message: "signal: quit"),
        ExitCase(reason: .signal(4), message: "signal: illegal instruction"),
        ExitCase(reason: .signal(7), message: "signal: bus error"),
        ExitCase(reason: .signal(8), message: "signal: floating point exception"),
        ExitCase(reason: .signal(10), message: "signal: user defined signal 1"),
        ExitCase(reason: .signal(12), message: "signal: user defined signal 2"),
        ExitCase(reason: .signal(13), message: "signal: broken pipe"),
        ExitCase(reason: .signal(14), message: "signal: alarm clock"),
        ExitCase(reason: .signal(24), message: "signal: CPU time limit exceeded"),
        ExitCase(reason: .signal(31), message: "signal: bad system call"),
        ExitCase(reason: .signal(32), message: "signal: signal 32"),
        ExitCase(reason: .signal(34), message: "signal: signal 34"),
        ExitCase(reason: .signal(0), message: "signal: signal 0"),
        ExitCase(reason: .signal(-1), message: "signal: signal -1"),
    ]

    @Test(arguments: exitTexts)
    func t4_failureLogsGoExitTextClearsMetricsAndUpdates(_ c: ExitCase) {
        var d = LifeDriver(LifeDriver.running)
        let at = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(c.reason.message == c.message, sourceLocation: at)
        #expect(d.send(.exited(c.reason)) ==
                [.log("Master.monitorInstance: instance error: " + c.message), .clearLiveMetrics, firstRestart, .publishUpdate],
                sourceLocation: at)
        #expect(d.life.status == .error, sourceLocation: at)
        #expect(d.life.phase == .idle, sourceLocation: at)
    }

    @Test func t4_afterT5IsNotASecondFailure() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        #expect(d.send(.exited(.code(3)), after: .seconds(1)) ==
                [.log("Master.monitorInstance: instance error: exit status 3"), .clearLiveMetrics, .publishUpdate])
        #expect(d.life.consecutiveFailures == 1)
        #expect(d.life.restartDueAt == d.t0.advanced(by: .seconds(5)))
    }

    struct WaitCase: Sendable {
        var status: Int32
        var reason: ExitReason?
        var line: UInt = #line
    }

    static let waitStatuses: [WaitCase] = [
        WaitCase(status: 0x0000, reason: .code(0)),
        WaitCase(status: 0x0100, reason: .code(1)),
        WaitCase(status: 0xFF00, reason: .code(255)),
        WaitCase(status: 0x0009, reason: .signal(9)),
        WaitCase(status: 0x000F, reason: .signal(15)),
        WaitCase(status: 0x008B, reason: .signal(11, coreDumped: true)),
        WaitCase(status: 0x0086, reason: .signal(6, coreDumped: true)),
        WaitCase(status: 0x137F, reason: nil),
        WaitCase(status: 0x057F, reason: nil),
        WaitCase(status: 0xFFFF, reason: nil),
    ]

    @Test(arguments: waitStatuses)
    func t4_waitStatusDecoding(_ c: WaitCase) {
        #expect(ExitReason(waitStatus: c.status) == c.reason,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    static let t5: [Transition] = [
        Transition(name: "running to error, metrics cleared, update published (our rule)", given: LifeDriver.running,
                   event: .errorLine, effects: [.clearLiveMetrics, firstRestart, .publishUpdate], status: .error),
        Transition(name: "without restart, no timer", given: LifeDriver.running, restart: false,
                   event: .errorLine, effects: [.clearLiveMetrics, .publishUpdate], status: .error),
        Transition(name: "already error: nothing", given: LifeDriver.errorWithProcess, event: .errorLine,
                   effects: [], status: .error),
        Transition(name: "during a stop: status frozen", given: LifeDriver.stopping, event: .errorLine,
                   effects: [], status: .running),
        Transition(name: "deleted: nothing", given: LifeDriver.running + [.delete], event: .errorLine,
                   effects: [], status: .running),
        Transition(name: "no process: nothing", given: [], event: .errorLine, effects: [], status: .stopped),
    ]

    @Test(arguments: t5)
    func t5_errorLine(_ row: Transition) { row.check() }

    @Test func t5_processKeepsRunning() {
        let d = LifeDriver(LifeDriver.errorWithProcess)
        #expect(d.life.phase == .running)
    }

    static let t6: [Transition] = [
        Transition(name: "T6 error to running", given: LifeDriver.errorWithProcess, event: .checkpoint,
                   effects: [.cancelRestartTimer, .publishUpdate], status: .running),
        Transition(name: "T6' running stays running", given: LifeDriver.running, event: .checkpoint,
                   effects: [.publishUpdate], status: .running),
        Transition(name: "T6' stopped stays stopped", given: [], event: .checkpoint,
                   effects: [.publishUpdate], status: .stopped),
        Transition(name: "during a stop: update, status frozen", given: LifeDriver.errorWithProcess + [.stop],
                   event: .checkpoint, effects: [.publishUpdate], status: .error),
        Transition(name: "deleted: no update", given: LifeDriver.running + [.delete], event: .checkpoint,
                   effects: [], status: .running),
    ]

    @Test(arguments: t6)
    func t6_checkpoint(_ row: Transition) { row.check() }

    struct SilenceCase: Sendable {
        var checkpointed: Bool
        var silence: Duration
        var timesOut: Bool
        var line: UInt = #line
    }

    static let silences: [SilenceCase] = [
        SilenceCase(checkpointed: true, silence: .seconds(5), timesOut: false),
        SilenceCase(checkpointed: true, silence: .seconds(15), timesOut: false),
        SilenceCase(checkpointed: true, silence: .seconds(15) + .nanoseconds(1), timesOut: true),
        SilenceCase(checkpointed: true, silence: .seconds(20), timesOut: true),
        SilenceCase(checkpointed: false, silence: .seconds(20), timesOut: false),
        SilenceCase(checkpointed: false, silence: .seconds(3600), timesOut: false),
    ]

    @Test(arguments: silences)
    func t7_checkpointSilence(_ c: SilenceCase) {
        var d = LifeDriver(LifeDriver.running)
        if c.checkpointed { d.send(.checkpoint, after: .seconds(1)) }
        let effects = d.send(.checkpointCheck, after: c.silence)
        let at = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(effects == (c.timesOut ? [firstRestart, .publishUpdate] : []), sourceLocation: at)
        #expect(d.life.status == (c.timesOut ? .error : .running), sourceLocation: at)
        #expect(d.life.phase == .running, "the process keeps running", sourceLocation: at)
    }

    /// Ticks every `checkpointCheckInterval`, whatever their phase against the checkpoint,
    /// catch the silence after more than 15 s and at most 20 s.
    @Test(arguments: [0, 1, 2_500, 4_999] as [Int64])
    func t7_detectedWithin15To20s(tickPhaseMilliseconds: Int64) {
        var d = LifeDriver(LifeDriver.running + [.checkpoint])
        var silence = Duration.milliseconds(tickPhaseMilliseconds)
        d.send(.checkpointCheck, after: silence)
        while d.life.status == .running, silence < .seconds(60) {
            silence += Lifecycle.checkpointCheckInterval
            d.send(.checkpointCheck, after: Lifecycle.checkpointCheckInterval)
        }
        #expect(silence > .seconds(15) && silence <= .seconds(20), "\(silence)")
    }

    @Test func t7_notFromErrorAndNotDuringAStop() {
        var d = LifeDriver(LifeDriver.running + [.checkpoint, .errorLine])
        #expect(d.send(.checkpointCheck, after: .seconds(30)) == [])
        var s = LifeDriver(LifeDriver.running + [.checkpoint, .stop])
        #expect(s.send(.checkpointCheck, after: .seconds(30)) == [])
    }

    static let t8: [Transition] = [
        Transition(name: "T8 stopped: no-op", given: [], event: .stop, effects: [], status: .stopped),
        Transition(name: "T8a error without process", given: LifeDriver.errorWithoutProcess, event: .stop,
                   effects: [.clearLiveMetrics, .cancelRestartTimer, .save, .publishUpdate], status: .stopped),
        Transition(name: "T8b running: TERM and grace", given: LifeDriver.running, event: .stop,
                   effects: [.sendTerm, grace], status: .running),
        Transition(name: "T8b error with process: timer cancelled", given: LifeDriver.errorWithProcess, event: .stop,
                   effects: [.cancelRestartTimer, .sendTerm, grace], status: .error),
        Transition(name: "T8b exit within the grace", given: LifeDriver.stopping, event: .exited(.signal(15)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate],
                   status: .stopped),
        Transition(name: "T8b grace expired: KILL", given: LifeDriver.stopping, event: .graceExpired,
                   effects: [.sendKill], status: .running),
        Transition(name: "T8b exit after KILL", given: LifeDriver.stopping + [.graceExpired], event: .exited(.signal(9)),
                   effects: [forceKilledLine, .clearLiveMetrics, .save, .publishUpdate], status: .stopped),
        Transition(name: "second stop while stopping: nothing", given: LifeDriver.stopping, event: .stop,
                   effects: [], status: .running),
        Transition(name: "stale grace expiry: nothing", given: LifeDriver.running, event: .graceExpired,
                   effects: [], status: .running),
    ]

    @Test(arguments: t8)
    func t8_stop(_ row: Transition) { row.check() }

    @Test func t8b_stopCancelsAQueuedStart() {
        var d = LifeDriver(LifeDriver.running + [.restart, .stop])
        #expect(d.send(.exited(.code(0))) == [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate])
        #expect(d.life.phase == .idle)
    }

    static let t9: [Transition] = [
        Transition(name: "running: stop first", given: LifeDriver.running, event: .restart,
                   effects: [.sendTerm, grace], status: .running),
        Transition(name: "stopped: plain start", given: [], event: .restart,
                   effects: [.resetCountersBase, .spawn], status: .stopped),
        Transition(name: "error without process: T8a then T2", given: LifeDriver.errorWithoutProcess, event: .restart,
                   effects: [.clearLiveMetrics, .cancelRestartTimer, .save, .publishUpdate, .resetCountersBase, .spawn],
                   status: .stopped),
        Transition(name: "stopping: start queued", given: LifeDriver.stopping, event: .restart,
                   effects: [], status: .running),
    ]

    @Test(arguments: t9)
    func t9_restartIsStopThenStart(_ row: Transition) { row.check() }

    @Test func t9_startFollowsTheStop() {
        var d = LifeDriver(LifeDriver.running + [.restart])
        #expect(d.send(.exited(.signal(15)), after: .seconds(1)) ==
                [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate, .resetCountersBase, .spawn])
        #expect(d.send(.spawned) == [.publishUpdate])
        #expect(d.life.status == .running)
    }

    static let t10: [Transition] = [
        Transition(name: "stopped: removed at once, no update", given: [], event: .delete,
                   effects: [.removed, .save], status: .stopped),
        Transition(name: "error without process: final update first", given: LifeDriver.errorWithoutProcess,
                   event: .delete,
                   effects: [.cancelRestartTimer, .clearLiveMetrics, .publishUpdate, .removed, .save], status: .stopped),
        Transition(name: "running: stop first", given: LifeDriver.running, event: .delete,
                   effects: [.sendTerm, grace], status: .running),
        Transition(name: "running: removed after the exit", given: LifeDriver.running + [.delete],
                   event: .exited(.signal(15)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .publishUpdate, .removed, .save],
                   status: .stopped),
        Transition(name: "twice: nothing", given: [.delete], event: .delete, effects: [], status: .stopped),
        Transition(name: "then stop: nothing", given: LifeDriver.running + [.delete], event: .stop,
                   effects: [], status: .running),
        Transition(name: "then restart: nothing", given: LifeDriver.running + [.delete], event: .restart,
                   effects: [], status: .running),
    ]

    @Test(arguments: t10)
    func t10_delete(_ row: Transition) { row.check() }

    @Test func t10_deleteWhileStopping() {
        var d = LifeDriver(LifeDriver.running + [.restart])
        #expect(d.send(.delete) == [])
        #expect(d.send(.checkpoint) == [], "deleted suppresses checkpoint events")
        #expect(d.send(.errorLine) == [], "deleted suppresses the ERROR rule")
        #expect(d.send(.graceExpired, after: .seconds(5)) == [.sendKill])
        #expect(d.send(.exited(.signal(9))) ==
                [forceKilledLine, .clearLiveMetrics, .publishUpdate, .removed, .save],
                "the queued start is dropped; the final update precedes removed")
    }

    static let t12: [Transition] = [
        Transition(name: "running: TERM and grace", given: LifeDriver.running, event: .shutdown(hurry: false),
                   effects: [.sendTerm, grace], status: .running),
        Transition(name: "running, hurry: KILL at once", given: LifeDriver.running, event: .shutdown(hurry: true),
                   effects: [.sendKill], status: .running),
        Transition(name: "second signal skips the grace", given: LifeDriver.running + [.shutdown(hurry: false)],
                   event: .shutdown(hurry: true), effects: [.cancelGraceTimer, .sendKill], status: .running),
        Transition(name: "after the second signal: force killed",
                   given: LifeDriver.running + [.shutdown(hurry: false), .shutdown(hurry: true)],
                   event: .exited(.signal(9)), effects: [forceKilledLine, .clearLiveMetrics, .save, .publishUpdate],
                   status: .stopped),
        Transition(name: "hurry from the start: force killed", given: LifeDriver.running + [.shutdown(hurry: true)],
                   event: .exited(.signal(9)), effects: [forceKilledLine, .clearLiveMetrics, .save, .publishUpdate],
                   status: .stopped),
        Transition(name: "stopped: nothing", given: [], event: .shutdown(hurry: false), effects: [], status: .stopped),
        Transition(name: "error without process: timer cancelled, status kept", given: LifeDriver.errorWithoutProcess,
                   event: .shutdown(hurry: false), effects: [.cancelRestartTimer], status: .error),
        Transition(name: "already stopping, no hurry: nothing", given: LifeDriver.stopping,
                   event: .shutdown(hurry: false), effects: [], status: .running),
        Transition(name: "a restart in progress does not start again", given: LifeDriver.running + [.restart, .shutdown(hurry: false)],
                   event: .exited(.signal(15)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate], status: .stopped),
        Transition(name: "no restart armed any more", given: LifeDriver.errorWithoutProcess + [.shutdown(hurry: false)],
                   event: .setRestart(true), effects: [], status: .error),
    ]

    @Test(arguments: t12)
    func t12_shutdown(_ row: Transition) { row.check() }

    static let race: [Transition] = [
        Transition(name: "failure exit during a stop", given: LifeDriver.stopping, event: .exited(.code(1)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate], status: .stopped),
        Transition(name: "exit 0 during a stop", given: LifeDriver.stopping, event: .exited(.code(0)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate], status: .stopped),
        Transition(name: "crash during a stop of an error instance: no restart", given: LifeDriver.errorWithProcess + [.stop],
                   event: .exited(.signal(11)),
                   effects: [.cancelGraceTimer, stoppedLine, .clearLiveMetrics, .save, .publishUpdate], status: .stopped),
    ]

    @Test(arguments: race)
    func raceRule_exitAfterStopRequestIsPartOfTheStop(_ row: Transition) { row.check() }

    @Test func spawningDefersRequestsUntilTheOutcome() {
        var d = LifeDriver([.start(byOperator: false)])
        #expect(d.send(.stop) == [])
        #expect(d.send(.spawned) == [.publishUpdate, .sendTerm, grace])
        var f = LifeDriver([.start(byOperator: false)])
        #expect(f.send(.delete) == [])
        #expect(f.send(.spawnFailed(.failed("x"))) ==
                [.log("Master.startInstanceLocked: instance error: x"), firstRestart, .publishUpdate,
                 .cancelRestartTimer, .clearLiveMetrics, .publishUpdate, .removed, .save])
        var s = LifeDriver([.start(byOperator: false)])
        #expect(s.send(.shutdown(hurry: false)) == [])
        #expect(s.send(.spawnFailed(.failed("x"))) ==
                [.log("Master.startInstanceLocked: instance error: x"), .publishUpdate],
                "shutdown is known at once, so no restart is armed")
    }
}
