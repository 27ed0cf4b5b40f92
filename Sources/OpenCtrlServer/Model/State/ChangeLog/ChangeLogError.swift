/// Why a change log cannot be replayed (see `ChangeLog`). The description is the `<reason>` of
/// the refusal operators read, so it names positions, never content.
public enum ChangeLogError: Error, Equatable, Sendable, CustomStringConvertible {
    case badMagic
    /// The header is written whole before the log gets its final name, so a short one is damage.
    case truncatedHeader(length: Int)
    case headerChecksumMismatch
    case invalidVersion
    /// Written by a newer master: refuse to start and touch nothing, as for the state file.
    case unsupportedVersion(UInt16)
    case unknownFlags(UInt16)
    case fileTooLarge(Int)
    /// Frame `index` at byte `offset` is damaged and an intact frame starts at `intactAt`:
    /// acknowledged changes lie beyond the damage.
    case damagedFrame(index: Int, offset: Int, intactAt: Int)
    /// Frame `index` passed its checksum but does not hold what we write.
    case badFrame(index: Int, offset: Int, ChangeLogFrameError)

    public var description: String {
        switch self {
        case .badMagic:
            return "not an OpenCtrl change log"
        case let .truncatedHeader(length):
            return "truncated header (\(length) of \(ChangeLog.headerSize) bytes)"
        case .headerChecksumMismatch:
            return "header checksum mismatch"
        case .invalidVersion:
            return "invalid format version 0"
        case let .unsupportedVersion(v):
            return "unsupported change log format version \(v)"
        case let .unknownFlags(flags):
            return "unknown flags \(flags)"
        case let .fileTooLarge(length):
            return "file too large (\(length) bytes, limit \(ChangeLog.maxFileSize))"
        case let .damagedFrame(index, offset, intactAt):
            return "entry \(index) at byte \(offset) is damaged and an intact entry follows at byte \(intactAt)"
        case let .badFrame(index, offset, problem):
            return "bad entry \(index) at byte \(offset): \(problem)"
        }
    }
}

/// What is wrong inside one checksummed frame.
public enum ChangeLogFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case noChanges
    case countMismatch(declared: Int, found: Int)
    case unknownKind(Int, UInt8)
    case change(Int, StateRecordError)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .noChanges:
            return "no changes"
        case let .countMismatch(declared, found):
            return "change count \(declared) does not match (\(found) found)"
        case let .unknownKind(index, kind):
            return "change \(index) has unknown kind \(kind)"
        case let .change(index, problem):
            return "change \(index): \(problem)"
        case let .trailingBytes(n):
            return "\(n) bytes after the last change"
        }
    }
}
