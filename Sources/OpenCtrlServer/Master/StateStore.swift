/// The outcome of a write a request waited for.
public enum SaveOutcome: Sendable, Equatable {
    case saved
    case failed(SystemError)
}

/// Group commit for the state file and its change log (CONTRACT §21.4, `ChangeLog`).
///
/// Changes are numbered; a write covers every change made before it started, is prepared on
/// the loop and runs off it, one at a time, on the store's long-lived worker thread; changes
/// that arrive meanwhile ride on the next write together, so N concurrent mutations cost one
/// sync, not N. A request that must be durable before it is answered awaits `commit`.
///
/// A write is one of two shapes. An append puts the current image (or the removal) of every
/// instance changed since the last write into one log frame and `fdatasync`s it. A fold writes
/// the whole registry with the §21.4 procedure and starts a new empty log; it is used for
/// changes to the `********` record (the primary must hold the current key: installer scripts
/// read it there), for periodic counter flushes, at startup and shutdown, once the log outgrows
/// its bound, and after any failed write (a failed append may have left a partial frame that
/// nothing may follow).
@LoopActor
public final class StateStore {
    /// What a change touched.
    public enum Change: Sendable {
        case instance(String)
        /// The key record or many instances: written by a fold.
        case all
    }

    public let files: StateFiles
    private let fs: FileSystem
    private let loop: Loop
    private let worker = SerialWorker()
    /// Touched only by the write in progress (on the worker, or on the loop while none runs).
    private let appender = ChangeLogAppender()
    /// Supplies the records to persist; deleted records are never part of it.
    public var snapshot: @LoopActor () -> [InstanceRecord] = { [] }
    /// The live record under an ID, nil once it is deleted.
    public var record: @LoopActor (String) -> InstanceRecord? = { _ in nil }
    /// True once this process validated the primary at load or wrote and fsynced it: only
    /// then may it be promoted to backup.
    private var primaryKnownGood: Bool
    private var changeSeq: UInt64 = 0
    private var durableSeq: UInt64 = 0
    private var writing = false
    private var waiters: [(seq: UInt64, done: CheckedContinuation<SaveOutcome, Never>)] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var failures = 0
    private lazy var retryTimer = Timer(loop: loop) { [unowned self] in self.startWriteIfNeeded() }
    /// Starts the next write at the end of this loop turn, so the changes one event makes
    /// together (a removal and its stop's save, concurrent requests) share one write.
    private lazy var writeSoon = Wakeup(loop: loop) { [unowned self] in self.startWriteIfNeeded() }
    /// Instances changed since the last write started.
    private var dirty: Set<String> = []
    private var foldNeeded: Bool
    /// The log's length as we wrote it, and the length past which the next write folds.
    private var logBytes = ChangeLog.headerSize
    private var foldThreshold = StateStore.minimumFoldThreshold
    static let minimumFoldThreshold = 1 << 20
    /// Write procedures by outcome and duration, for `/metrics`.
    private(set) var writeCounters = StateWriteCounters()

    public init(files: StateFiles, fs: FileSystem, loop: Loop, primaryKnownGood: Bool, foldNeeded: Bool) {
        self.files = files
        self.fs = fs
        self.loop = loop
        self.primaryKnownGood = primaryKnownGood
        self.foldNeeded = foldNeeded
    }

    public var isDirty: Bool { changeSeq > durableSeq }

    /// The last write failed and none has succeeded since: acknowledged changes cannot be made
    /// durable (§22.5).
    public var isFailing: Bool { failures > 0 }

    private func note(_ change: Change) {
        changeSeq += 1
        switch change {
        case .instance(let id): dirty.insert(id)
        case .all: foldNeeded = true
        }
    }

    /// Records a change to be written soon, without waiting (backoff applies after failures).
    public func noteChange(_ change: Change) {
        note(change)
        if !retryTimer.isPending { writeSoon.activate() }
    }

    /// Records a change that the caller is about to write itself with `saveBeforeLoop`.
    public func markChanged() {
        note(.all)
    }

    /// Records a change and returns once a write containing it has been fsynced (or failed).
    public func commit(_ change: Change) async -> SaveOutcome {
        note(change)
        let seq = changeSeq
        return await withCheckedContinuation { done in
            waiters.append((seq, done))
            // A waiting client is worth an attempt now even during a retry backoff.
            retryTimer.cancel()
            writeSoon.activate()
        }
    }

    /// Returns once every change noted so far is on disk (or a write carrying them failed),
    /// for a request whose change was already noted by someone else (a deletion's removal):
    /// a write already running may carry it, where `commit` would wait for the next one.
    public func durable() async -> SaveOutcome {
        let seq = changeSeq
        guard seq > durableSeq else { return .saved }
        return await withCheckedContinuation { done in
            waiters.append((seq, done))
            retryTimer.cancel()
            writeSoon.activate()
        }
    }

    /// Folds on the loop thread, blocking it. Only for startup (before the loop serves anyone)
    /// and shutdown; waits for a background write to finish first.
    public func saveNow() async -> SaveOutcome {
        while writing { await withCheckedContinuation { idleWaiters.append($0) } }
        retryTimer.cancel()
        return saveInline()
    }

    /// Same as `saveNow` for code that runs before the loop does.
    public func saveBeforeLoop() -> SaveOutcome {
        precondition(!writing)
        let outcome = saveInline()
        if outcome != .saved { retryTimer.schedule(after: Self.retryDelay(failures: failures)) }
        return outcome
    }

    private func saveInline() -> SaveOutcome {
        let write = prepareFold()
        return complete(write, Self.run(write, files: files, fs: fs, appender: appender))
    }

    // MARK: writes

    /// A write prepared on the loop: the bytes and what it covers.
    private struct Write: Sendable {
        var seq: UInt64
        var fold: Bool
        var bytes: [UInt8]
        var knownGood: Bool
    }

    private func prepareFold() -> Write {
        let bytes = StateCodec.encode(snapshot())
        dirty.removeAll()
        foldNeeded = false
        return Write(seq: changeSeq, fold: true, bytes: bytes, knownGood: primaryKnownGood)
    }

    private func prepareWrite() -> Write {
        if foldNeeded || logBytes >= foldThreshold { return prepareFold() }
        let changes: [StateChange] = dirty.sorted(by: bytesLess).map { id in
            record(id).map { .put($0) } ?? .remove(id: id)
        }
        dirty.removeAll()
        return Write(seq: changeSeq, fold: false, bytes: ChangeLog.frame(changes), knownGood: primaryKnownGood)
    }

    /// What a write procedure reports back to the loop: its result and how long it ran.
    private struct Ran: Sendable {
        var result: Result<Void, SystemError>
        var seconds: Double
    }

    /// Timed where it runs (on the writer thread), so the duration is the procedure's own and
    /// not the wait for the loop to pick the report up.
    private nonisolated static func run(_ write: Write, files: StateFiles, fs: FileSystem, appender: ChangeLogAppender) -> Ran {
        let started = ContinuousClock.now
        let result: Result<Void, SystemError>
        do throws(SystemError) {
            if write.fold {
                try? appender.close(files, using: fs)
                try ChangeLogWriter.fold(write.bytes, to: files, primaryKnownGood: write.knownGood, using: fs)
                try? appender.open(files, using: fs)
            } else {
                try appender.append(write.bytes, to: files, using: fs)
            }
            result = .success(())
        } catch {
            result = .failure(error)
        }
        return Ran(result: result, seconds: (ContinuousClock.now - started).inSeconds)
    }

    private func startWriteIfNeeded() {
        guard !writing, changeSeq > durableSeq || !waiters.isEmpty else { return }
        // Nothing to append (a `durable` for a change already written): a no-op write would
        // still be a frame, so answer at once.
        if !foldNeeded && dirty.isEmpty {
            _ = settle(Write(seq: changeSeq, fold: false, bytes: [], knownGood: primaryKnownGood), result: .success(()))
            return
        }
        writing = true
        let write = prepareWrite()
        let files = self.files, fs = self.fs, appender = self.appender
        worker.submit {
            let ran = Self.run(write, files: files, fs: fs, appender: appender)
            LoopActor.schedule { self.finishBackgroundWrite(write, ran) }
        }
    }

    private func finishBackgroundWrite(_ write: Write, _ ran: Ran) {
        writing = false
        let result = ran.result
        _ = complete(write, ran)
        let idle = idleWaiters
        idleWaiters.removeAll()
        for waiter in idle { waiter.resume() }
        if writing { return }
        switch result {
        case .success:
            startWriteIfNeeded()
        case .failure:
            if !waiters.isEmpty {
                startWriteIfNeeded()
            } else if isDirty {
                retryTimer.schedule(after: Self.retryDelay(failures: failures))
            }
        }
    }

    /// Counts a write procedure that ran, then applies it.
    private func complete(_ write: Write, _ ran: Ran) -> SaveOutcome {
        writeCounters.record(succeeded: (try? ran.result.get()) != nil, seconds: ran.seconds)
        return settle(write, result: ran.result)
    }

    /// Applies a finished write: advances what is durable and answers the waiters it covers.
    private func settle(_ write: Write, result: Result<Void, SystemError>) -> SaveOutcome {
        let outcome: SaveOutcome
        switch result {
        case .success:
            durableSeq = max(durableSeq, write.seq)
            failures = 0
            outcome = .saved
            if write.fold {
                primaryKnownGood = true
                logBytes = ChangeLog.headerSize
                foldThreshold = max(Self.minimumFoldThreshold, write.bytes.count)
            } else {
                logBytes += write.bytes.count
            }
        case .failure(let error):
            failures += 1
            foldNeeded = true
            Log.info("Master.saveState: \(error)")
            outcome = .failed(error)
        }
        let covered = waiters.filter { $0.seq <= write.seq }
        waiters.removeAll { $0.seq <= write.seq }
        for waiter in covered { waiter.done.resume(returning: outcome) }
        return outcome
    }

    /// 5 s, 10 s, 20 s, 40 s, then 60 s between retries of a failing write.
    nonisolated static func retryDelay(failures: Int) -> Double {
        min(60, 5 * Double(1 << min(max(failures - 1, 0), 4)))
    }
}
