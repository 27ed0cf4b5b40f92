/// The process-related state of one instance (CONTRACT §9.4, §11, §12, §18) as a pure reducer:
/// `handle(event, now)` changes the state and returns the effects for the master to execute.
/// No clock is read here: `now` is the loop's monotonic time, so every rule is a unit test
/// that never sleeps (supervisord's `transition()` tests, s6's `actions[state][event]`).
///
/// Choices the contract leaves open, and what we do:
/// - **Status is frozen while a stop is in progress.** T5 and T6 do not apply during a stop:
///   its outcome is `stopped` whatever the child prints while dying, and an `error` flash would
///   be the very noise the stop/exit race rule removes. Checkpoints still publish `update`
///   (their metrics changed, T6').
/// - **Requests during a stop wait for it**, as the original's lifecycle lock serialised them:
///   `start` or `restart` queue a start after the stop, `stop` cancels that queued start,
///   `delete` turns the end of the stop into the removal, `shutdown` cancels the queued start.
/// - **Requests while a spawn is outstanding are deferred** until `.spawned`/`.spawnFailed` and
///   then replayed in order. The master spawns synchronously, so this only guards against an
///   interleaving it should never produce; the replayed effects join the spawn outcome's batch
///   (which can then carry two `update`s, both showing the state at the end of the batch).
/// - **A timed restart of an instance without a process is a plain start** (T2 from `error`,
///   no `stopped` update or save in between); with a live process (after T5 or T7) it is T9,
///   stop then start, with the stop's log line, save and update.
/// - **`setRestart` resets the failure count whenever the PATCH carries the field**, changed or
///   not; switching it on while in `error` arms the first backoff step, off cancels the timer.
/// - **T4 on an instance already in `error`** (after T5/T7) logs and clears metrics but is not a
///   second failure: the instance entered `error` once, and its timer keeps its original delay.
/// - **The stop's log line follows what we sent**: `instance force killed` once SIGKILL went
///   out (grace expired or shutdown in a hurry), else `instance stopped`, whatever the status.
/// - **Saves** happen on every transition to `stopped` (§21.4); a deletion saves once, after
///   `removed`, so the written registry never holds the record. `running`/`error` are not saved.
/// - **Shutdown** stops live processes only (T12): an `error` instance without a process keeps
///   its status; no restart is armed or started from then on.
/// - **Boundaries**: T7 needs a silence of *more* than 15 s (the contract's words); a run resets
///   the failure count once it has been out of `error` for 60 s or more.
public struct Lifecycle: Equatable, Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// SIGTERM to SIGKILL (§12.2).
    public static let stopGrace: Duration = .seconds(5)
    /// T7 fires when the last checkpoint is *more* than this old.
    public static let checkpointTimeout: Duration = .seconds(15)
    /// Longest allowed gap between two `.checkpointCheck` ticks (detection within 15–20 s).
    public static let checkpointCheckInterval: Duration = .seconds(5)

    public enum Phase: Equatable, Sendable {
        /// No child process.
        case idle
        /// `spawn` was returned and its outcome has not come back yet.
        case spawning
        /// A live child that nobody asked to stop.
        case running
        /// SIGTERM (or, `escalated`, SIGKILL) went out at `since`; the grace timer is armed
        /// exactly when not escalated.
        case stopping(since: Instant, escalated: Bool)
    }

    /// What happens once the stopping child has exited.
    public enum AfterStop: Equatable, Sendable {
        case stay
        case start
        case remove
    }

    public private(set) var status: InstanceStatus = .stopped
    public private(set) var phase: Phase = .idle
    public private(set) var afterStop: AfterStop = .stay
    /// §8.8: from DELETE on, output no longer changes the instance or produces events; the
    /// master checks it before publishing a `log` event for an output line (§12.4).
    public private(set) var isDeleted = false
    public private(set) var isShuttingDown = false
    /// The record's `restart` flag, mirrored here because it decides automatic restarts.
    public private(set) var restartEnabled: Bool
    public private(set) var consecutiveFailures = 0
    /// Unset at each start, so T7 never fires for a runtime that prints no checkpoint.
    public private(set) var lastCheckpointAt: Instant?
    /// When the current run last entered `running`; nil without a run or while in `error`.
    public private(set) var healthySince: Instant?
    /// Due time of the armed restart timer; nil when none is armed.
    public private(set) var restartDueAt: Instant?
    /// Children started by the restart timer since this master started (§22.3 `restarts`,
    /// §22.4 `openctrl_instance_restarts_total`); operator starts and restarts do not count.
    public private(set) var automaticRestarts = 0
    /// The stop in progress was begun by the restart timer, so the start behind it is automatic.
    private var stopIsAutomaticRestart = false
    /// Requests received while spawning, replayed once the spawn has settled.
    private(set) var deferred: [LifecycleEvent] = []

    /// Every instance begins `stopped`: at creation (T1) and at master boot (T11).
    public init(restart: Bool) {
        restartEnabled = restart
    }

    public mutating func handle(_ event: LifecycleEvent, now: Instant) -> [LifecycleEffect] {
        var out: [LifecycleEffect] = []
        // Lazily applied: the count is only read when entering `error`, and this runs first.
        if let since = healthySince, now - since >= RestartPolicy.healthyRunLength {
            consecutiveFailures = 0
        }
        if phase == .spawning, Self.waitsForSpawn(event) {
            if case .shutdown = event { isShuttingDown = true }
            deferred.append(event)
            return out
        }
        switch event {
        case .start(let byOperator):
            if byOperator { consecutiveFailures = 0 }
            start(now: now, &out)
        case .stop:
            consecutiveFailures = 0
            stop(now: now, &out)
        case .restart:
            consecutiveFailures = 0
            restart(now: now, &out)
        case .setRestart(let enabled):
            consecutiveFailures = 0
            restartEnabled = enabled
            if enabled { armRestartIfWanted(now: now, &out) } else { cancelRestart(&out) }
        case .spawned:
            spawned(now: now, &out)
        case .spawnFailed(let failure):
            spawnFailed(failure, now: now, &out)
        case .exited(let reason):
            exited(reason, now: now, &out)
        case .errorLine:
            guard !isDeleted, phase == .running, status != .error else { break }
            out.append(.clearLiveMetrics)
            change(to: .error, now: now, &out)
            out.append(.publishUpdate)
        case .checkpoint:
            checkpoint(now: now, &out)
        case .graceExpired:
            guard case .stopping(let since, false) = phase else { break }
            phase = .stopping(since: since, escalated: true)
            out.append(.sendKill)
        case .restartDue:
            restartDue(now: now, &out)
        case .checkpointCheck:
            guard phase == .running, status == .running, let last = lastCheckpointAt,
                  now - last > Self.checkpointTimeout else { break }
            change(to: .error, now: now, &out)
            out.append(.publishUpdate)
        case .delete:
            delete(now: now, &out)
        case .shutdown(let hurry):
            shutdown(hurry: hurry, now: now, &out)
        }
        return out
    }

    /// Requests that need the spawn's outcome to be decided; everything else is either a flag
    /// (`setRestart`) or cannot concern a process that does not exist yet.
    private static func waitsForSpawn(_ event: LifecycleEvent) -> Bool {
        switch event {
        case .start, .stop, .restart, .delete, .shutdown: true
        default: false
        }
    }

    // MARK: Operator and master requests

    /// T2, plus our rule: `error` without a process starts too; with one it is a no-op.
    private mutating func start(now: Instant, _ out: inout [LifecycleEffect]) {
        guard !isDeleted, !isShuttingDown else { return }
        switch phase {
        case .idle: beginStart(now: now, &out)
        case .stopping: if afterStop == .stay { afterStop = .start }
        case .running, .spawning: break
        }
    }

    /// T8 / T8a / T8b.
    private mutating func stop(now: Instant, _ out: inout [LifecycleEffect]) {
        guard !isDeleted else { return }
        switch phase {
        case .idle: stopWithoutProcess(now: now, &out)
        case .running: beginStop(then: .stay, hurry: false, now: now, &out)
        case .stopping:
            if afterStop == .start { afterStop = .stay }
            stopIsAutomaticRestart = false
        case .spawning: break
        }
    }

    /// T9: T8 then T2. From `stopped` this is a plain start (PUT starts a stopped instance).
    private mutating func restart(now: Instant, _ out: inout [LifecycleEffect]) {
        guard !isDeleted, !isShuttingDown else { return }
        switch phase {
        case .idle:
            stopWithoutProcess(now: now, &out)
            beginStart(now: now, &out)
        case .running: beginStop(then: .start, hurry: false, now: now, &out)
        case .stopping: if afterStop == .stay { afterStop = .start }
        case .spawning: break
        }
    }

    /// T10 (§8.8): the final `update` (when not already stopped) precedes `removed`.
    private mutating func delete(now: Instant, _ out: inout [LifecycleEffect]) {
        guard !isDeleted else { return }
        isDeleted = true
        cancelRestart(&out)
        switch phase {
        case .idle:
            if status != .stopped {
                out.append(.clearLiveMetrics)
                change(to: .stopped, now: now, &out)
                out.append(.publishUpdate)
            }
            out += [.removed, .save]
        case .running: beginStop(then: .remove, hurry: false, now: now, &out)
        case .stopping: afterStop = .remove
        case .spawning: break
        }
    }

    /// T12 and §18 "Our rule": every instance stops concurrently; a second signal (`hurry`)
    /// skips what is left of the grace.
    private mutating func shutdown(hurry: Bool, now: Instant, _ out: inout [LifecycleEffect]) {
        isShuttingDown = true
        cancelRestart(&out)
        switch phase {
        case .running:
            beginStop(then: .stay, hurry: hurry, now: now, &out)
        case .stopping(let since, let escalated):
            if afterStop == .start { afterStop = .stay }
            stopIsAutomaticRestart = false
            if hurry, !escalated {
                phase = .stopping(since: since, escalated: true)
                out += [.cancelGraceTimer, .sendKill]
            }
        case .idle, .spawning: break
        }
    }

    /// The timer armed on entering `error` fired: T9 for a live process, T2 otherwise.
    /// Not an operator action, so the failure count stands.
    private mutating func restartDue(now: Instant, _ out: inout [LifecycleEffect]) {
        guard restartDueAt != nil else { return }
        restartDueAt = nil
        switch phase {
        case .idle:
            automaticRestarts += 1
            beginStart(now: now, &out)
        case .running:
            beginStop(then: .start, hurry: false, now: now, &out)
            stopIsAutomaticRestart = true
        case .spawning, .stopping: break
        }
    }

    // MARK: Process outcomes

    /// T2c.
    private mutating func spawned(now: Instant, _ out: inout [LifecycleEffect]) {
        guard phase == .spawning else { return }
        phase = .running
        change(to: .running, now: now, &out)
        out.append(.publishUpdate)
        replayDeferred(now: now, &out)
    }

    /// T2b. The master logged `instance starting` before trying, except for the no-`bin` case.
    private mutating func spawnFailed(_ failure: SpawnFailure, now: Instant, _ out: inout [LifecycleEffect]) {
        guard phase == .spawning else { return }
        phase = .idle
        out.append(.log("Master.startInstanceLocked: instance error: \(failure.reason)"))
        if failure == .noRuntimeBinary { out.append(.publishLog(failure.reason)) }
        change(to: .error, now: now, &out)
        out.append(.publishUpdate)
        replayDeferred(now: now, &out)
    }

    /// T3 / T4 for a child that ended by itself; after a stop request, the end of that stop
    /// whatever the exit status (our race rule).
    private mutating func exited(_ reason: ExitReason, now: Instant, _ out: inout [LifecycleEffect]) {
        switch phase {
        case .stopping(_, let escalated):
            finishStop(escalated: escalated, now: now, &out)
        case .running:
            phase = .idle
            lastCheckpointAt = nil
            if reason == .code(0) {
                out.append(.clearLiveMetrics)
                change(to: .stopped, now: now, &out)
                out += [.save, .publishUpdate]
            } else {
                out += [.log("Master.monitorInstance: instance error: \(reason.message)"), .clearLiveMetrics]
                change(to: .error, now: now, &out)
                out.append(.publishUpdate)
            }
        case .idle, .spawning:
            break
        }
    }

    /// T6 / T6'. The master has applied the fields whatever we return; a deleted instance
    /// publishes nothing (§12.5).
    private mutating func checkpoint(now: Instant, _ out: inout [LifecycleEffect]) {
        guard !isDeleted else { return }
        switch phase {
        case .running:
            lastCheckpointAt = now
            if status == .error { change(to: .running, now: now, &out) }
        case .stopping:
            lastCheckpointAt = now
        case .idle, .spawning:
            break
        }
        out.append(.publishUpdate)
    }

    // MARK: Building blocks

    /// T2 from `stopped`, or from `error` passing through `stopped` without an event.
    private mutating func beginStart(now: Instant, _ out: inout [LifecycleEffect]) {
        change(to: .stopped, now: now, &out)
        lastCheckpointAt = nil
        phase = .spawning
        out += [.resetCountersBase, .spawn]
    }

    /// T8 (nothing from `stopped`) or T8a.
    private mutating func stopWithoutProcess(now: Instant, _ out: inout [LifecycleEffect]) {
        guard status != .stopped else { return }
        out.append(.clearLiveMetrics)
        change(to: .stopped, now: now, &out)
        out += [.save, .publishUpdate]
    }

    /// First half of T8b. The status stays until the child has exited.
    private mutating func beginStop(then next: AfterStop, hurry: Bool, now: Instant, _ out: inout [LifecycleEffect]) {
        cancelRestart(&out)
        afterStop = next
        phase = .stopping(since: now, escalated: hurry)
        if hurry {
            out.append(.sendKill)
        } else {
            out += [.sendTerm, .armGraceTimer(Self.stopGrace)]
        }
    }

    /// Second half of T8b, then whatever was queued behind the stop.
    private mutating func finishStop(escalated: Bool, now: Instant, _ out: inout [LifecycleEffect]) {
        phase = .idle
        lastCheckpointAt = nil
        if !escalated { out.append(.cancelGraceTimer) }
        out.append(.log(escalated ? "Master.stopInstanceLocked: instance force killed"
                                  : "Master.stopInstanceLocked: instance stopped"))
        out.append(.clearLiveMetrics)
        change(to: .stopped, now: now, &out)
        let next = afterStop
        afterStop = .stay
        let automatic = stopIsAutomaticRestart
        stopIsAutomaticRestart = false
        switch next {
        case .stay:
            out += [.save, .publishUpdate]
        case .start:
            out += [.save, .publishUpdate]
            if automatic { automaticRestarts += 1 }
            beginStart(now: now, &out)
        case .remove:
            out += [.publishUpdate, .removed, .save]
        }
    }

    /// The one place the status changes (supervisord's `change_state`), so the failure count,
    /// the healthy-run clock and the restart timer can never disagree with it.
    private mutating func change(to new: InstanceStatus, now: Instant, _ out: inout [LifecycleEffect]) {
        guard new != status else { return }
        let old = status
        status = new
        switch new {
        case .running:
            healthySince = now
        case .stopped:
            healthySince = nil
        case .error:
            healthySince = nil
            consecutiveFailures += 1
        }
        if old == .error { cancelRestart(&out) }
        if new == .error { armRestartIfWanted(now: now, &out) }
    }

    /// §11: one timer per instance, armed for exactly the backoff when it enters `error`.
    private mutating func armRestartIfWanted(now: Instant, _ out: inout [LifecycleEffect]) {
        guard status == .error, restartEnabled, !isDeleted, !isShuttingDown, restartDueAt == nil else { return }
        switch phase {
        case .idle, .running: break
        case .spawning, .stopping: return
        }
        let delay = RestartPolicy.delay(afterFailures: max(1, consecutiveFailures))
        restartDueAt = now + delay
        out.append(.armRestartTimer(delay))
    }

    private mutating func cancelRestart(_ out: inout [LifecycleEffect]) {
        guard restartDueAt != nil else { return }
        restartDueAt = nil
        out.append(.cancelRestartTimer)
    }

    private mutating func replayDeferred(now: Instant, _ out: inout [LifecycleEffect]) {
        let pending = deferred
        deferred = []
        for event in pending {
            out += handle(event, now: now)
        }
    }
}
