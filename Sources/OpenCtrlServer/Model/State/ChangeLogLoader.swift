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
    /// It names an earlier state file: a fold stopped after its new primary was in place, and
    /// that primary already holds every change of the log.
    case superseded
    /// It names the invalid primary the backup replaced, so it cannot be replayed; kept for
    /// inspection.
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
        if let logBytes {
            do {
                logBase = try ChangeLog.base(of: logBytes)
            } catch .unsupportedVersion(let version) {
                return StateLoad(result: .unsupportedVersion(version: version, path: files.log), log: .absent, needsFold: false)
            } catch {
                return refusal(files, reason: error.description)
            }
        }

        let result = load(files, using: fs, nowUnixSeconds: nowUnixSeconds)
        guard let logBytes, let logBase else {
            return StateLoad(result: result, log: .absent, needsFold: true)
        }
        let records: [InstanceRecord], path: String
        switch result {
        case let .loaded(r, from): (records, path) = (r, from)
        case let .restored(r, from, _, _): (records, path) = (r, from)
        case .fresh:
            // A log without a state file extends nothing that exists.
            return StateLoad(result: result, log: .orphaned(copy: keepAside(files, fs, nowUnixSeconds)), needsFold: true)
        case .unsupportedVersion, .unreadable:
            return StateLoad(result: result, log: .absent, needsFold: false)
        }

        let loadedBase: ChangeLogBase
        do {
            loadedBase = ChangeLogBase(stateFile: try fs.readFile(path, limit: StateCodec.maxFileSize))
        } catch {
            return refusal(files, reason: "\(path): \(readFailure(error))")
        }
        guard loadedBase == logBase else {
            if path == files.primary { return StateLoad(result: result, log: .superseded, needsFold: true) }
            return StateLoad(result: result, log: .orphaned(copy: keepAside(files, fs, nowUnixSeconds)), needsFold: true)
        }

        let contents: ChangeLogContents
        do {
            contents = try ChangeLog.decode(logBytes)
        } catch {
            return refusal(files, reason: error.description)
        }
        let replayed = ChangeLog.replay(contents.frames, over: records)
        let changes = contents.frames.reduce(0) { $0 + $1.count }
        let outcome: ChangeLogOutcome = contents.tornTailBytes > 0
            ? .tornTail(changes: changes, bytes: contents.tornTailBytes, copy: keepAside(files, fs, nowUnixSeconds))
            : .replayed(changes: changes)
        let replaced: StateLoadResult = switch result {
        case let .restored(_, from, reason, copy): .restored(records: replayed, from: from, primaryReason: reason, corruptCopy: copy)
        default: .loaded(records: replayed, from: path)
        }
        return StateLoad(result: replaced, log: outcome, needsFold: changes > 0 || contents.tornTailBytes > 0)
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
