import Testing
@testable import OpenCtrlServer

/// `Lifecycle.automaticRestarts` counts children the restart timer actually starts (§22.3).
struct AutomaticRestartsTests {
    @Test func timerStartsFromError() {
        var d = LifeDriver([.start(byOperator: false)])
        _ = d.crashLoop(3)
        // The loop's first spawn was the operator's start; the timer started the other two.
        #expect(d.life.automaticRestarts == 2)
        d.fireRestart()
        #expect(d.life.automaticRestarts == 3)
    }

    @Test func timerRestartsALiveChildOnlyOnceItStopped() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        d.fireRestart()
        #expect(d.life.automaticRestarts == 0, "the child is still stopping")
        let effects = d.send(.exited(.signal(15)))
        #expect(effects.contains(.spawn))
        #expect(d.life.automaticRestarts == 1)
    }

    @Test func operatorStopCancelsTheAutomaticStart() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        d.fireRestart()
        d.send(.stop)
        #expect(!d.send(.exited(.signal(15))).contains(.spawn))
        #expect(d.life.automaticRestarts == 0)
        // A later operator start is not automatic either.
        d.send(.start(byOperator: true))
        #expect(d.life.automaticRestarts == 0)
    }

    @Test func operatorActionsDoNotCount() {
        var d = LifeDriver(LifeDriver.running)
        d.send(.restart)
        d.send(.exited(.signal(15)))
        d.send(.spawned)
        d.send(.stop)
        d.send(.exited(.signal(15)))
        d.send(.start(byOperator: true))
        #expect(d.life.automaticRestarts == 0)
    }

    @Test func aCancelledTimerThatFiresAnywayDoesNotCount() {
        var d = LifeDriver([.start(byOperator: false), .spawnFailed(.failed("x")), .stop])
        #expect(d.life.restartDueAt == nil)
        d.send(.restartDue)
        #expect(d.life.automaticRestarts == 0)
    }
}
