import Testing
@testable import OpenCtrlServer

extension LifeDriver {
    /// The delays of the restart timers armed by `effects`.
    static func restartDelays(_ effects: [LifecycleEffect]) -> [Duration] {
        effects.compactMap { if case .armRestartTimer(let d) = $0 { d } else { nil } }
    }

    /// Lets the armed restart timer fire at its due time; returns what the lifecycle asked for.
    @discardableResult
    mutating func fireRestart() -> [LifecycleEffect] {
        guard let due = life.restartDueAt else { return [] }
        return send(.restartDue, after: now.duration(to: due))
    }

    /// `n` runs that each crash after `uptime`, relaunched by the timer; the armed delays.
    mutating func crashLoop(_ n: Int, uptime: Duration = .seconds(1)) -> [Duration] {
        var delays: [Duration] = []
        for _ in 0..<n {
            if life.phase == .idle { #expect(fireRestart() == [.resetCountersBase, .spawn]) }
            send(.spawned)
            delays += Self.restartDelays(send(.exited(.code(1)), after: uptime))
        }
        return delays
    }
}

struct RestartPolicyTests {
    struct DelayCase: Sendable {
        var failures: Int
        var seconds: Int64
        var line: UInt = #line
    }

    static let delays: [DelayCase] = [
        DelayCase(failures: 1, seconds: 5), DelayCase(failures: 2, seconds: 10),
        DelayCase(failures: 3, seconds: 20), DelayCase(failures: 4, seconds: 40),
        DelayCase(failures: 5, seconds: 80), DelayCase(failures: 6, seconds: 160),
        DelayCase(failures: 7, seconds: 300), DelayCase(failures: 8, seconds: 300),
        DelayCase(failures: 64, seconds: 300), DelayCase(failures: Int.max, seconds: 300),
    ]

    @Test(arguments: delays)
    func backoffIsCappedExponential(_ c: DelayCase) {
        #expect(RestartPolicy.delay(afterFailures: c.failures) == .seconds(c.seconds),
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    static let sequence: [Duration] = [5, 10, 20, 40, 80, 160, 300, 300].map { .seconds($0) }

    @Test func crashLoopBacksOff() {
        var d = LifeDriver([.start(byOperator: false)])
        #expect(d.crashLoop(8) == Self.sequence)
        #expect(d.life.consecutiveFailures == 8)
    }

    @Test func spawnFailuresCountAsFailures() {
        var d = LifeDriver([.start(byOperator: false)])
        var delays: [Duration] = []
        for _ in 0..<8 {
            delays += LifeDriver.restartDelays(d.send(.spawnFailed(.noRuntimeBinary)))
            #expect(d.fireRestart() == [.resetCountersBase, .spawn])
        }
        #expect(delays == Self.sequence)
    }

    @Test func neverGivesUp() {
        var d = LifeDriver([.start(byOperator: false)])
        #expect(d.crashLoop(50).last == .seconds(300))
        #expect(d.fireRestart() == [.resetCountersBase, .spawn])
    }

    struct UptimeCase: Sendable {
        var uptime: Duration
        var delay: Duration
        var line: UInt = #line
    }

    /// After three crashes the next delay is 40 s, unless the fourth run stayed up 60 s.
    static let uptimes: [UptimeCase] = [
        UptimeCase(uptime: .seconds(1), delay: .seconds(40)),
        UptimeCase(uptime: .seconds(59), delay: .seconds(40)),
        UptimeCase(uptime: .seconds(60) - .nanoseconds(1), delay: .seconds(40)),
        UptimeCase(uptime: .seconds(60), delay: .seconds(5)),
        UptimeCase(uptime: .seconds(3600), delay: .seconds(5)),
    ]

    @Test(arguments: uptimes)
    func healthyRunOf60sResetsTheCount(_ c: UptimeCase) {
        var d = LifeDriver([.start(byOperator: false)])
        _ = d.crashLoop(3)
        let at = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        #expect(d.crashLoop(1, uptime: c.uptime) == [c.delay], sourceLocation: at)
    }

    /// Four failures so far (the 4th a T5 11 s into the run, undone by a checkpoint at 12 s):
    /// the healthy clock restarts at that T6, so 59 s later (71 s into the run) it stands.
    @Test func healthyRunCountsFromLeavingError() {
        for (sinceT6, delay): (Duration, Duration) in [(.seconds(59), .seconds(80)), (.seconds(60), .seconds(5))] {
            var d = LifeDriver([.start(byOperator: false)])
            _ = d.crashLoop(3)
            d.fireRestart()
            d.send(.spawned)
            d.send(.checkpoint, after: .seconds(1))
            #expect(LifeDriver.restartDelays(d.send(.errorLine, after: .seconds(10))) == [.seconds(40)])
            d.send(.checkpoint, after: .seconds(1))
            #expect(LifeDriver.restartDelays(d.send(.exited(.code(1)), after: sinceT6)) == [delay], "\(sinceT6)")
        }
    }

    struct ActionCase: Sendable, CustomTestStringConvertible {
        var event: LifecycleEvent
        var resets: Bool
        var line: UInt = #line
        var testDescription: String { "\(event)" }
    }

    static let actions: [ActionCase] = [
        ActionCase(event: .start(byOperator: true), resets: true),
        ActionCase(event: .stop, resets: true),
        ActionCase(event: .restart, resets: true),
        ActionCase(event: .setRestart(true), resets: true),
        ActionCase(event: .setRestart(false), resets: true),
        ActionCase(event: .start(byOperator: false), resets: false),
        ActionCase(event: .restartDue, resets: false),
        ActionCase(event: .checkpointCheck, resets: false),
        ActionCase(event: .errorLine, resets: false),
        ActionCase(event: .checkpoint, resets: false),
    ]

    @Test(arguments: actions)
    func operatorActionsResetTheCount(_ c: ActionCase) {
        var d = LifeDriver([.start(byOperator: false)])
        for _ in 0..<3 {
            d.send(.spawnFailed(.failed("x")))
            d.fireRestart()
        }
        d.send(.spawnFailed(.failed("x")))
        d.send(c.event, after: .seconds(1))
        #expect(d.life.consecutiveFailures == (c.resets ? 0 : 4),
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    @Test func operatorStartMakesTheNextDelayTheFirst() {
        var d = LifeDriver([.start(byOperator: false)])
        _ = d.crashLoop(5)
        #expect(d.send(.start(byOperator: true)) == [.cancelRestartTimer, .resetCountersBase, .spawn])
        #expect(LifeDriver.restartDelays(d.send(.spawnFailed(.failed("x")))) == [.seconds(5)])
    }

    @Test func noRestartWhenTheFlagIsOff() {
        for failure: LifecycleEvent in [.exited(.code(1)), .exited(.signal(9)), .errorLine] {
            var d = LifeDriver(restart: false, LifeDriver.running)
            #expect(LifeDriver.restartDelays(d.send(failure)) == [], "\(failure)")
        }
        var s = LifeDriver(restart: false, [.start(byOperator: false)])
        #expect(LifeDriver.restartDelays(s.send(.spawnFailed(.noRuntimeBinary))) == [])
        var t = LifeDriver(restart: false, LifeDriver.running + [.checkpoint])
        #expect(t.send(.checkpointCheck, after: .seconds(20)) == [.publishUpdate])
    }

    @Test func t5TriggersARestartOfTheLiveProcess() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        #expect(d.fireRestart() == [.sendTerm, .armGraceTimer(.seconds(5))])
        #expect(d.now == d.t0.advanced(by: .seconds(5)), "armed for exactly the backoff on entering error")
        #expect(d.send(.exited(.signal(15)), after: .seconds(1)) ==
                [.cancelGraceTimer, .log("Master.stopInstanceLocked: instance stopped"), .clearLiveMetrics,
                 .save, .publishUpdate, .resetCountersBase, .spawn])
        #expect(d.send(.spawned) == [.publishUpdate])
        #expect(d.life.consecutiveFailures == 1, "a timed restart is not an operator action")
    }

    @Test func t7TriggersARestartOfTheLiveProcess() {
        var d = LifeDriver(LifeDriver.running + [.checkpoint])
        #expect(d.send(.checkpointCheck, after: .seconds(20)) == [.armRestartTimer(.seconds(5)), .publishUpdate])
        #expect(d.fireRestart() == [.sendTerm, .armGraceTimer(.seconds(5))])
    }

    @Test func switchingTheFlagWhileInError() {
        var d = LifeDriver(restart: false, LifeDriver.errorWithoutProcess)
        #expect(d.send(.setRestart(true)) == [.armRestartTimer(.seconds(5))])
        #expect(d.send(.setRestart(true)) == [], "one timer per instance")
        #expect(d.send(.setRestart(false)) == [.cancelRestartTimer])
        #expect(d.send(.restartDue) == [], "a cancelled timer that fires anyway is ignored")
        #expect(d.life.status == .error)
    }

    @Test func leavingErrorCancelsTheRestart() {
        var d = LifeDriver(LifeDriver.errorWithProcess)
        #expect(d.send(.checkpoint) == [.cancelRestartTimer, .publishUpdate])
        #expect(d.send(.restartDue, after: .seconds(5)) == [])
        #expect(d.life.phase == .running)
    }
}

/// Random event sequences against a model of the master: every timer the lifecycle arms is
/// cancelled or fires exactly once, the restart timer exists exactly when a restart is wanted,
/// and its delay is always the policy's. Seeded, so a failing walk replays from its seed.
struct LifecycleWalkTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// What the master knows: armed timers and whether a process exists.
    struct Model {
        var graceArmed = false
        var restartArmed = false
        var spawnPending = false
        var alive = false
        var removed = false

        func pick(_ rng: inout SplitMix64) -> LifecycleEvent {
            var events: [LifecycleEvent] = [.start(byOperator: .random(using: &rng)), .stop, .restart,
                                            .setRestart(.random(using: &rng)), .checkpointCheck]
            if Int.random(in: 0..<40, using: &rng) == 0 { events += [.delete, .shutdown(hurry: .random(using: &rng))] }
            if spawnPending {
                events += Array(repeating: .spawned, count: 4) + [.spawnFailed(.failed("x")), .spawnFailed(.noRuntimeBinary)]
            }
            if alive { events += [.errorLine, .checkpoint, .checkpoint, .exited(.code(0)), .exited(.code(1)), .exited(.signal(9))] }
            if graceArmed { events += [.graceExpired, .graceExpired] }
            if restartArmed { events += [.restartDue, .restartDue] }
            return events[Int.random(in: 0..<events.count, using: &rng)]
        }

        /// The outside world's side of an event: a fired timer is no longer armed, a process
        /// that exited is gone, a spawn outcome settles the pending spawn.
        mutating func deliver(_ event: LifecycleEvent) {
            switch event {
            case .graceExpired: graceArmed = false
            case .restartDue: restartArmed = false
            case .exited: alive = false
            case .spawned: spawnPending = false; alive = true
            case .spawnFailed: spawnPending = false
            default: break
            }
        }

        mutating func execute(_ effects: [LifecycleEffect], by life: Lifecycle, replayed: Bool, _ note: Comment) {
            for (i, effect) in effects.enumerated() {
                switch effect {
                case .spawn:
                    #expect(!spawnPending && !alive && i == effects.count - 1, note)
                    spawnPending = true
                case .sendTerm, .sendKill:
                    #expect(alive, note)
                case .armGraceTimer(let d):
                    #expect(!graceArmed && d == Lifecycle.stopGrace, note)
                    graceArmed = true
                case .cancelGraceTimer:
                    #expect(graceArmed, note)
                    graceArmed = false
                case .armRestartTimer(let d):
                    #expect(!restartArmed, note)
                    if !replayed { #expect(d == RestartPolicy.delay(afterFailures: max(1, life.consecutiveFailures)), note) }
                    restartArmed = true
                case .cancelRestartTimer:
                    #expect(restartArmed, note)
                    restartArmed = false
                case .removed:
                    #expect(!removed && life.isDeleted, note)
                    removed = true
                default:
                    break
                }
            }
            if !replayed { #expect(effects.filter { $0 == .publishUpdate }.count <= 1, note) }
            check(life, note)
        }

        func check(_ life: Lifecycle, _ note: Comment) {
            let stopping: Bool, escalated: Bool
            if case .stopping(_, let e) = life.phase { stopping = true; escalated = e } else { stopping = false; escalated = false }
            #expect(graceArmed == (stopping && !escalated), note)
            #expect(restartArmed == (life.restartDueAt != nil), note)
            if life.restartDueAt != nil {
                #expect(life.status == .error && life.restartEnabled && !life.isDeleted && !life.isShuttingDown, note)
                #expect(life.phase == .idle || life.phase == .running, note)
            }
            #expect(spawnPending == (life.phase == .spawning), note)
            #expect(alive == (life.phase == .running || stopping), note)
            if life.status == .running { #expect(alive, note) }
            if life.phase == .spawning { #expect(life.status == .stopped, note) }
            if life.phase == .idle { #expect(life.afterStop == .stay, note) }
            if life.isDeleted { #expect(life.phase != .running, note) }
            if removed { #expect(life.phase == .idle && life.status == .stopped, note) }
        }
    }

    @Test func randomWalks() {
        for seed in UInt64(1)...300 {
            var rng = SplitMix64(state: seed)
            var d = LifeDriver(restart: .random(using: &rng))
            var m = Model()
            var step = 0
            func feed(_ event: LifecycleEvent, after delay: Duration = .zero) {
                let replayed = !d.life.deferred.isEmpty && (event == .spawned || {
                    if case .spawnFailed = event { true } else { false } }())
                m.deliver(event)
                let effects = d.send(event, after: delay)
                m.execute(effects, by: d.life, replayed: replayed, "seed \(seed) step \(step) \(event)")
                step += 1
            }
            while step < 150, !m.removed {
                feed(m.pick(&rng), after: .milliseconds(Int64.random(in: 0...30_000, using: &rng)))
            }
            guard !m.removed else { continue }
            feed(.shutdown(hurry: true))
            if m.spawnPending { feed(.spawned) }
            if m.alive { feed(.exited(.signal(9))) }
            #expect(d.life.phase == .idle && !m.graceArmed && !m.restartArmed, "seed \(seed): shutdown leaves nothing behind")
        }
    }
}
