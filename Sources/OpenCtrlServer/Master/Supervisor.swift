import Glibc

/// Runs every instance's lifecycle: feeds events to the pure `Lifecycle` reducer and carries
/// out the effects it returns (spawn, signals, timers, metrics, events, saves, log lines), and
/// turns each child's output into lines, checkpoints, mirrored stdout and `log` events.
@LoopActor
final class Supervisor {
    private let loop: Loop
    private let bin: String
    private let store: StateStore
    private let events: EventHub
    private let reaper: ChildReaper
    private let mirror: StdoutMirror
    private unowned let registry: Registry
    private var ticker: Timer?
    private var countersDirty = false
    private var lastCounterFlush = ContinuousClock.now
    static let counterFlushInterval: Duration = .seconds(60)

    init(loop: Loop, bin: String, registry: Registry, store: StateStore, events: EventHub) {
        self.loop = loop
        self.registry = registry
        self.bin = bin
        self.store = store
        self.events = events
        reaper = ChildReaper(loop: loop)
        mirror = StdoutMirror(loop: loop)
        let ticker = Timer(loop: loop) { [unowned self] in self.tick() }
        self.ticker = ticker
        ticker.schedule(after: Lifecycle.checkpointCheckInterval.seconds)
    }

    func send(_ event: LifecycleEvent, to instance: ManagedInstance) {
        recordProcessFacts(event, of: instance)
        let effects = instance.lifecycle.handle(event, now: .now)
        let status = instance.lifecycle.status.rawValue
        // Assigning invalidates the record's cached JSON, so only a real change does.
        if instance.record.status != status { instance.record.status = status }
        for effect in effects { execute(effect, for: instance) }
        if instance.isSettled {
            let waiters = instance.settleWaiters
            instance.settleWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// §22.3: a child's start, and how any child ended or failed to start, whoever caused it.
    private func recordProcessFacts(_ event: LifecycleEvent, of instance: ManagedInstance) {
        switch event {
        case .spawned:
            instance.processFacts.started = (RFC3339.now(), .now)
        case .exited(let reason):
            instance.processFacts.started = nil
            instance.processFacts.lastExit = ProcessFacts.Exit(time: RFC3339.now(), reason: reason)
        case .spawnFailed(let failure):
            instance.processFacts.lastExit = ProcessFacts.Exit(time: RFC3339.now(), reason: failure.reason)
        default:
            break
        }
    }

    /// Returns once no stop, spawn or removal is pending for the instance.
    func settled(_ instance: ManagedInstance) async {
        while !instance.isSettled {
            await withCheckedContinuation { instance.settleWaiters.append($0) }
        }
    }

    private func execute(_ effect: LifecycleEffect, for instance: ManagedInstance) {
        switch effect {
        case .spawn:
            spawn(instance)
        case .sendTerm:
            instance.child?.signalGroup(SIGTERM)
        case .sendKill:
            instance.child?.signalGroup(SIGKILL)
        case .armGraceTimer(let delay):
            instance.graceTimer = arm(delay) { [unowned self, unowned instance] in self.send(.graceExpired, to: instance) }
        case .cancelGraceTimer:
            instance.graceTimer?.cancel()
            instance.graceTimer = nil
        case .armRestartTimer(let delay):
            instance.restartTimer = arm(delay) { [unowned self, unowned instance] in self.send(.restartDue, to: instance) }
        case .cancelRestartTimer:
            instance.restartTimer?.cancel()
            instance.restartTimer = nil
        case .clearLiveMetrics:
            instance.clearLiveMetrics()
        case .resetCountersBase:
            instance.counters.start()
        case .publishUpdate:
            events.publish(.update, instance.json)
        case .publishLog(let text):
            events.publish(.log, instance.json, logs: text)
        case .save:
            store.noteChange(.instance(instance.id))
        case .log(let text):
            instance.log(text)
        case .removed:
            registry.remove(instance.id)
            store.noteChange(.instance(instance.id))
            events.publish(.delete, instance.json)
        }
    }

    private func arm(_ delay: Duration, _ fire: @escaping @LoopActor () -> Void) -> Timer {
        let timer = Timer(loop: loop, handler: fire)
        timer.schedule(after: delay.seconds)
        return timer
    }

    // MARK: spawning and output

    private func spawn(_ instance: ManagedInstance) {
        guard !bin.isEmpty else {
            send(.spawnFailed(.noRuntimeBinary), to: instance)
            return
        }
        instance.log("Master.startInstanceLocked: instance starting: \(LogRedaction.url(instance.record.url))")
        guard let path = RuntimeBinary.resolve(bin) else {
            let reason = bin.contains("/")
                ? "fork/exec \(bin): \(RuntimeBinary.failureText(bin))"
                : "exec: \"\(bin)\": executable file not found in $PATH"
            send(.spawnFailed(.failed(reason)), to: instance)
            return
        }
        ChildProcess.spawn(path: path, arguments: [bin, instance.record.url], loop: loop, reaper: reaper) { [unowned self] result in
            switch result {
            case .success(let child):
                self.attach(child, to: instance)
                self.send(.spawned, to: instance)
            case .failure(let error):
                self.send(.spawnFailed(.failed(error.description)), to: instance)
            }
        }
    }

    private func attach(_ child: ChildProcess, to instance: ManagedInstance) {
        instance.child = child
        instance.splitter = LineSplitter()
        child.onOutput = { [unowned self, unowned instance] chunk in
            instance.splitter.feed(chunk) { line in self.handleLine(line, of: instance) }
        }
        child.onExit = { [unowned self, unowned instance] reason, outputStillOpen in
            instance.splitter.finish { line in self.handleLine(line, of: instance) }
            if outputStillOpen {
                instance.log("Master.monitorInstance: output still open after exit, closing")
            }
            instance.child = nil
            self.send(.exited(reason), to: instance)
        }
    }

    /// One output line (CONTRACT §12.4): a checkpoint is applied and neither mirrored nor
    /// published; any other line may trigger the ERROR rule, is mirrored to stdout, and unless
    /// empty or the instance is deleted becomes a `log` event and a history entry (§22.2).
    private func handleLine(_ line: UnsafeRawBufferPointer, of instance: ManagedInstance) {
        if let checkpoint = CheckpointParser.parse(line) {
            guard !instance.lifecycle.isDeleted else { return }
            instance.applyCheckpoint(checkpoint)
            countersDirty = true
            send(.checkpoint, to: instance)
            return
        }
        if CheckpointParser.containsErrorMarker(line) {
            send(.errorLine, to: instance)
        }
        mirror.mirror(line, id: instance.id)
        guard !line.isEmpty, !instance.lifecycle.isDeleted else { return }
        let (seconds, nanoseconds) = EventClock.wallTime()
        instance.history.append(.output, line: line, seconds: seconds, nanoseconds: nanoseconds)
        events.publishLog(instance.json, line: line, seconds: seconds, nanoseconds: nanoseconds)
    }

    // MARK: periodic work

    private func tick() {
        for instance in registry.instances.values where instance.lifecycle.phase == .running {
            send(.checkpointCheck, to: instance)
        }
        let now = ContinuousClock.now
        if countersDirty, now - lastCounterFlush >= Self.counterFlushInterval {
            countersDirty = false
            lastCounterFlush = now
            store.noteChange(.all)
        }
        ticker?.schedule(after: Lifecycle.checkpointCheckInterval.seconds)
    }

    /// Stops every child concurrently (T12) and returns when none is left or `deadline` passed.
    func shutdown(hurry: Bool, deadline: ContinuousClock.Instant) async {
        ticker?.cancel()
        for instance in Array(registry.instances.values) { send(.shutdown(hurry: hurry), to: instance) }
        while registry.instances.values.contains(where: { !$0.isSettled || $0.child != nil }), ContinuousClock.now < deadline {
            await loop.sleep(seconds: 0.02)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
