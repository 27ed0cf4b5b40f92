/// The outcome of a write a request waited for.
public enum SaveOutcome: Sendable, Equatable {
    case saved
    case failed(SystemError)
}

/// Group commit for the state file (CONTRACT §21.4).
///
/// Changes are numbered; a write carries a snapshot encoded on the loop and covers every
/// change made before it was encoded. Only one write runs at a time, off the loop; changes
/// that arrive meanwhile ride on the next write together, so N concurrent mutations cost one
/// fsync round, not N. A request that must be durable before it is answered awaits `commit`.
@LoopActor
public final class StateStore {
    public let files: StateFiles
    private let fs: FileSystem
    private let loop: Loop
    /// Supplies the records to persist; deleted records are never part of it.
    public var snapshot: @LoopActor () -> [InstanceRecord] = { [] }
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

    public init(files: StateFiles, fs: FileSystem, loop: Loop, primaryKnownGood: Bool) {
        self.files = files
        self.fs = fs
        self.loop = loop
        self.primaryKnownGood = primaryKnownGood
    }

    public var isDirty: Bool { changeSeq > durableSeq }

    /// Records a change to be written soon, without waiting (backoff applies after failures).
    public func noteChange() {
        changeSeq += 1
        if !retryTimer.isPending { startWriteIfNeeded() }
    }

    /// Records a change that the caller is about to write itself with `saveBeforeLoop`.
    public func markChanged() {
        changeSeq += 1
    }

    /// Records a change and returns once a write containing it has been fsynced (or failed).
    public func commit() async -> SaveOutcome {
        changeSeq += 1
        let seq = changeSeq
        return await withCheckedContinuation { done in
            waiters.append((seq, done))
            // A waiting client is worth an attempt now even during a retry backoff.
            retryTimer.cancel()
            startWriteIfNeeded()
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
            startWriteIfNeeded()
        }
    }

    /// Writes the current snapshot on the loop thread, blocking it. Only for startup (before
    /// the loop serves anyone) and shutdown; waits for a background write to finish first.
    public func saveNow() async -> SaveOutcome {
        while writing { await withCheckedContinuation { idleWaiters.append($0) } }
        retryTimer.cancel()
        return complete(seq: changeSeq, result: write(StateCodec.encode(snapshot())))
    }

    /// Same as `saveNow` for code that runs before the loop does.
    public func saveBeforeLoop() -> SaveOutcome {
        precondition(!writing)
        let outcome = complete(seq: changeSeq, result: write(StateCodec.encode(snapshot())))
        if outcome != .saved { retryTimer.schedule(after: Self.retryDelay(failures: failures)) }
        return outcome
    }

    private func write(_ bytes: [UInt8]) -> Result<Void, SystemError> {
        do throws(SystemError) {
            try StateFileWriter.write(bytes, to: files, primaryKnownGood: primaryKnownGood, using: fs)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    private func startWriteIfNeeded() {
        guard !writing, changeSeq > durableSeq || !waiters.isEmpty else { return }
        writing = true
        let seq = changeSeq
        let bytes = StateCodec.encode(snapshot())
        let files = self.files, fs = self.fs, knownGood = primaryKnownGood
        WorkerThread.detach {
            let result: Result<Void, SystemError>
            do throws(SystemError) {
                try StateFileWriter.write(bytes, to: files, primaryKnownGood: knownGood, using: fs)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            LoopActor.schedule { self.finishBackgroundWrite(seq: seq, result: result) }
        }
    }

    private func finishBackgroundWrite(seq: UInt64, result: Result<Void, SystemError>) {
        writing = false
        _ = complete(seq: seq, result: result)
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

    /// Applies a finished write: advances what is durable and answers the waiters it covers.
    private func complete(seq: UInt64, result: Result<Void, SystemError>) -> SaveOutcome {
        let outcome: SaveOutcome
        switch result {
        case .success:
            durableSeq = max(durableSeq, seq)
            primaryKnownGood = true
            failures = 0
            outcome = .saved
        case .failure(let error):
            failures += 1
            Log.info("Master.saveState: \(error)")
            outcome = .failed(error)
        }
        let covered = waiters.filter { $0.seq <= seq }
        waiters.removeAll { $0.seq <= seq }
        for waiter in covered { waiter.done.resume(returning: outcome) }
        return outcome
    }

    /// 5 s, 10 s, 20 s, 40 s, then 60 s between retries of a failing write.
    nonisolated static func retryDelay(failures: Int) -> Double {
        min(60, 5 * Double(1 << min(max(failures - 1, 0), 4)))
    }
}
