import Glibc

/// What startup did with the change log (`ChangeLog`).
public enum ChangeLogOutcome: Equatable, Sendable {
    /// There is none (first start, or a directory written before logs existed).
    case absent
    /// Its frames were replayed over the loaded file (possibly none).
    case replayed(changes: Int)
    /// Replayed, and the unfinished last append (`bytes` long, never acknowledged) was dropped;
    /// the log as found is kept for inspection.
    case tornTail(changes: Int, bytes: Int, copy: CorruptCopy)
    /// It names the backup of a valid primary: a fold stopped after its new primary was in
    /// place, and that primary already holds every change of the log.
    case superseded
    /// It names a file that was not loaded (the invalid primary the backup replaced, or neither
    /// state file), so it cannot be replayed; kept for inspection.
    case orphaned(copy: CorruptCopy)
}

/// The state file and the change log together, as the master starts from them.
public struct StateLoad: Equatable, Sendable {
    /// The records are those after the log's replay.
    public var result: StateLoadResult
    public var log: ChangeLogOutcome
    /// The log must be replaced (a fold) before the first append: it is missing, holds frames,
    /// or does not extend the current primary.
    public var needsFold: Bool
}

extension StateFileLoader {
    /// §21.5 for the state file, then the log under the same rules: replayed only over the
    /// file it extends, a torn last append dropped, damage in front of acknowledged changes
    /// refused rather than cut short. A refusal found in the log touches nothing.
    public static func loadWithChangeLog(_ files: StateFiles, using fs: some FileSystem, nowUnixSeconds: Int) -> StateLoad {
        try? fs.unlink(files.logTmp)
        let logBytes: [UInt8]?
        do {
            logBytes = try fs.readFile(files.log, limit: ChangeLog.maxFileSize)
        } catch {
            if error.errno != ENOENT { return refusal(files, reason: readFailure(error)) }
            logBytes = nil
        }
        var logBase: ChangeLogBase?
        var contents: Result<ChangeLogContents, ChangeLogError>?
        if let logBytes {
            do {
                logBase = try ChangeLog.base(of: logBytes)
            } catch .unsupportedVersion(let version) {
                return StateLoad(result: .unsupportedVersion(version: version, path: files.log), log: .absent, needsFold: false)
            } catch {
                return refusal(files, reason: error.description)
            }
            do {
                contents = .success(try ChangeLog.decode(logBytes))
            } catch {
                contents = .failure(error)
            }
        }
        // Which file the log extends, decided from the files as they are, before `load` may
        // rename an invalid primary: a log that would be replayed but cannot be read refuses
        // the start with every file untouched.
        let primaryBase = base(of: files.primary, fs), backupBase = base(of: files.backup, fs)
        if let logBase, case .failure(let error) = contents, logBase == primaryBase || logBase == backupBase {
            return refusal(files, reason: error.description)
        }

        let result = load(files, using: fs, nowUnixSeconds: nowUnixSeconds)
        guard let logBase, case .success(let contents) = contents else {
            return StateLoad(result: result, log: .absent, needsFold: true)
        }
        let records: [InstanceRecord], loadedBase: ChangeLogBase?
        switch result {
        case let .loaded(r, _): (records, loadedBase) = (r, primaryBase)
        case let .restored(r, _, _, _): (records, loadedBase) = (r, backupBase)
        case .fresh:
            // A log without a state file extends nothing that exists.
            return StateLoad(result: result, log: .orphaned(copy: keepAside(files, fs, nowUnixSeconds)), needsFold: true)
        case .unsupportedVersion, .unreadable:
            return StateLoad(result: result, log: .absent, needsFold: false)
        }
        guard logBase == loadedBase else {
            // A fold makes the old primary the backup before it replaces the log, so a log naming
            // the backup of a valid primary is the old one: the primary holds all of it. A log
            // naming anything else is kept aside rather than overwritten by the next fold.
            if case .loaded = result, logBase == backupBase {
                return StateLoad(result: result, log: .superseded, needsFold: true)
            }
            return StateLoad(result: result, log: .orphaned(copy: keepAside(files, fs, nowUnixSeconds)), needsFold: true)
        }

        let replayed = ChangeLog.replay(contents.frames, over: records)
        let changes = contents.frames.reduce(0) { $0 + $1.count }
        let outcome: ChangeLogOutcome = contents.tornTailBytes > 0
            ? .tornTail(changes: changes, bytes: contents.tornTailBytes, copy: keepAside(files, fs, nowUnixSeconds))
            : .replayed(changes: changes)
        switch result {
        case let .restored(_, from, reason, copy):
            return StateLoad(result: .restored(records: replayed, from: from, primaryReason: reason, corruptCopy: copy),
                             log: outcome, needsFold: true)
        default:
            return StateLoad(result: .loaded(records: replayed, from: files.primary), log: outcome,
                             needsFold: changes > 0 || contents.tornTailBytes > 0)
        }
    }

    /// The base a state file would give a log, nil when it cannot be read.
    private static func base(of path: String, _ fs: some FileSystem) -> ChangeLogBase? {
        guard let bytes = try? fs.readFile(path, limit: StateCodec.maxFileSize), bytes.count >= StateCodec.trailerSize else { return nil }
        return ChangeLogBase(stateFile: bytes)
    }

    private static func keepAside(_ files: StateFiles, _ fs: some FileSystem, _ now: Int) -> CorruptCopy {
        let path = files.corruptLogPath(unixSeconds: now)
        do {
            try fs.rename(files.log, path)
            return .kept(path)
        } catch {
            return .failed(error)
        }
    }

    private static func readFailure(_ error: SystemError) -> String {
        if error.op == "read" && error.errno == EFBIG { return "file too large (limit \(ChangeLog.maxFileSize) bytes)" }
        return "\(error.op) failed: \(error.reason)"
    }

    private static func refusal(_ files: StateFiles, reason: String) -> StateLoad {
        StateLoad(
            result: .unreadable(message: "Master.loadState: state log unreadable: \(files.log): \(reason); "
                + "move it aside to start from \(files.primary) without the changes it holds"),
            log: .absent, needsFold: false)
    }
}
