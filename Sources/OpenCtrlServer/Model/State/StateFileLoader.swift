import Glibc

/// What startup found in the state directory (CONTRACT §21.5).
public enum StateLoadResult: Equatable, Sendable {
    /// Neither file exists: first start, empty registry.
    case fresh
    /// The primary is valid; this process may treat it as known good.
    case loaded(records: [InstanceRecord], from: String)
    /// The primary was missing or invalid and the backup is used. The caller logs
    /// `primaryReason`, must write a fresh primary at once, and must not treat the current
    /// primary as known good (it is absent, or the invalid one if it could not be moved aside).
    case restored(records: [InstanceRecord], from: String, primaryReason: String, corruptCopy: CorruptCopy)
    /// Written by a newer master: refuse to start; neither file was touched.
    case unsupportedVersion(version: UInt16, path: String)
    /// Refuse to start; neither file was touched. Corrupt never means empty.
    case unreadable(message: String)

    /// The startup error for the two refusal cases, nil when the master may start.
    public var message: String? {
        switch self {
        case let .unsupportedVersion(version, path):
            return "Master.loadState: unsupported state format version \(version): \(path)"
        case let .unreadable(message):
            return message
        case .fresh, .loaded, .restored:
            return nil
        }
    }
}

/// What happened to an invalid primary when the backup was used instead.
public enum CorruptCopy: Equatable, Sendable {
    /// There was no primary to keep.
    case notNeeded
    /// Renamed to this path for inspection.
    case kept(String)
    /// The rename failed, so the invalid primary is still in place and the fresh write will
    /// replace it; the caller logs this error.
    case failed(SystemError)
}

/// The startup half of the state layer: decides which file to trust, never silently
/// starting empty when a file exists but cannot be used (CONTRACT §21.5, redis's "CRC error"
/// refusal in `tests/integration/rdb.tcl`).
public enum StateFileLoader {
    static let missingReason = "no such file or directory"

    public static func load(_ files: StateFiles, using fs: some FileSystem, nowUnixSeconds: Int) -> StateLoadResult {
        // Leftovers of an interrupted write. Failure to remove them is harmless: the writer
        // truncates the tmp and removes the backup tmp again before linking.
        try? fs.unlink(files.tmp)
        try? fs.unlink(files.backupTmp)

        let primary = examine(files.primary, using: fs)
        let primaryReason: String
        switch primary {
        case let .valid(records):
            return .loaded(records: records, from: files.primary)
        case let .unsupported(version):
            return .unsupportedVersion(version: version, path: files.primary)
        case .missing:
            primaryReason = missingReason
        case let .invalid(reason):
            primaryReason = reason
        }

        switch examine(files.backup, using: fs) {
        case let .unsupported(version):
            return .unsupportedVersion(version: version, path: files.backup)
        case .missing where primary == .missing:
            return .fresh
        case .missing:
            return unreadable(files, primaryReason: primaryReason, backupReason: missingReason)
        case let .invalid(reason):
            return unreadable(files, primaryReason: primaryReason, backupReason: reason)
        case let .valid(records):
            var copy = CorruptCopy.notNeeded
            if primary != .missing {
                let path = files.corruptPath(unixSeconds: nowUnixSeconds)
                do {
                    try fs.rename(files.primary, path)
                    copy = .kept(path)
                } catch {
                    copy = .failed(error)
                }
            }
            return .restored(records: records, from: files.backup, primaryReason: primaryReason, corruptCopy: copy)
        }
    }

    private enum Examination: Equatable {
        case missing
        case valid([InstanceRecord])
        case invalid(String)
        case unsupported(UInt16)
    }

    /// An I/O error other than ENOENT makes the file invalid rather than missing: a primary we
    /// cannot read (permissions, EIO) must not be mistaken for a first start.
    private static func examine(_ path: String, using fs: some FileSystem) -> Examination {
        let bytes: [UInt8]
        do {
            bytes = try fs.readFile(path, limit: StateCodec.maxFileSize)
        } catch {
            if error.errno == ENOENT { return .missing }
            if error.op == "read" && error.errno == EFBIG {
                return .invalid("file too large (limit \(StateCodec.maxFileSize) bytes)")
            }
            return .invalid("\(error.op) failed: \(error.reason)")
        }
        do {
            return .valid(try StateCodec.decode(bytes))
        } catch .unsupportedVersion(let version) {
            return .unsupported(version)
        } catch {
            return .invalid(error.description)
        }
    }

    private static func unreadable(_ files: StateFiles, primaryReason: String, backupReason: String) -> StateLoadResult {
        .unreadable(message: "Master.loadState: state files unreadable: \(files.primary): \(primaryReason); "
            + "\(files.backup): \(backupReason)")
    }
}
