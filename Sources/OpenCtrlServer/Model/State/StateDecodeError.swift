/// Why a state file was rejected (CONTRACT §21.2). The description is the `<reason>` operators
/// read in `Master.loadState: state files unreadable: …`, so it is short and never quotes file
/// content (a corrupt file could hold anything, including the API key).
public enum StateDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the header announces (a crash mid-write on a system without our fsync,
    /// or a copy cut short).
    case truncated(length: Int, expected: Int)
    /// More bytes than the header announces.
    case trailingBytes(length: Int, expected: Int)
    /// Wrong magic: most likely a gob file left by the Go original, which we do not read.
    case badMagic
    /// Written by a newer master. Not damage: the caller refuses to start and touches nothing.
    case unsupportedVersion(UInt16)
    /// Version 0 was never written by anyone, so it is damage.
    case invalidVersion
    case unknownFlags(UInt16)
    case fileTooLarge(Int)
    case checksumMismatch
    /// The payload cannot even hold the `u32` record count.
    case missingRecordCount
    case tooManyRecords(Int)
    /// The payload ended after `found` complete records.
    case recordCountMismatch(declared: Int, found: Int)
    /// Bytes follow the last declared record.
    case trailingPayload(declared: Int, bytes: Int)
    /// Record `index` (1-based, in file order) is malformed.
    case badRecord(Int, StateRecordError)

    public var description: String {
        switch self {
        case let .truncated(length, expected):
            return "truncated file (\(length) of \(expected) bytes)"
        case let .trailingBytes(length, expected):
            return "file length \(length) exceeds the \(expected) bytes its header announces"
        case .badMagic:
            return "not an OpenCtrl state file (gob data from the Go original?)"
        case let .unsupportedVersion(v):
            return "unsupported state format version \(v)"
        case .invalidVersion:
            return "invalid format version 0"
        case let .unknownFlags(flags):
            return "unknown flags \(hex16(flags))"
        case let .fileTooLarge(length):
            return "file too large (\(length) bytes, limit \(StateCodec.maxFileSize))"
        case .checksumMismatch:
            return "checksum mismatch"
        case .missingRecordCount:
            return "payload too short for the record count"
        case let .tooManyRecords(n):
            return "too many records (\(n), limit \(StateCodec.maxRecords))"
        case let .recordCountMismatch(declared, found):
            return "record count \(declared) does not match payload (\(found) records found)"
        case let .trailingPayload(declared, bytes):
            return "record count \(declared) does not match payload (\(bytes) bytes after the last record)"
        case let .badRecord(index, problem):
            return "bad record \(index): \(problem)"
        }
    }
}

/// What is wrong inside one record.
public enum StateRecordError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The record's length prefix or body runs past the payload.
    case runsPastPayload
    /// Fewer than the 5 bytes of a field header (`u8` tag, `u32` length) remain in the record.
    case fieldHeaderPastRecord
    /// A length prefix runs past its container (the record, or the tag 11 value).
    case runsPastContainer(StateField)
    case invalidTag(UInt8)
    case tagOutOfOrder(UInt8)
    case tagRepeated(UInt8)
    case wrongLength(tag: UInt8, length: Int)
    case invalidRestart(UInt8)
    case stringTooLong(StateField)
    case invalidUTF8(StateField)
    case missingID
    case emptyID
    case duplicateID
    /// Writers always sort, so disorder means the file was not written by us intact.
    case idOutOfOrder
    case tooManyTags(Int)
    case tagKeyOutOfOrder(entry: Int)
    case duplicateTagKey(entry: Int)
    case tagsTrailingBytes(Int)

    public var description: String {
        switch self {
        case .runsPastPayload:
            return "record runs past the payload"
        case .fieldHeaderPastRecord:
            return "field header runs past the record"
        case let .runsPastContainer(field):
            return "\(field) runs past \(field.container)"
        case let .invalidTag(tag):
            return "tag \(tag) is not valid"
        case let .tagOutOfOrder(tag):
            return "tag \(tag) out of order"
        case let .tagRepeated(tag):
            return "tag \(tag) repeated"
        case let .wrongLength(tag, length):
            return "tag \(tag) has length \(length), expected \(StateCodec.expectedLengthText(tag: tag))"
        case let .invalidRestart(value):
            return "restart value \(value) is not 0 or 1"
        case let .stringTooLong(field):
            return "\(field) longer than 1 MiB"
        case let .invalidUTF8(field):
            return "\(field) is not valid UTF-8"
        case .missingID:
            return "missing id"
        case .emptyID:
            return "empty id"
        case .duplicateID:
            return "duplicate id"
        case .idOutOfOrder:
            return "id out of order"
        case let .tooManyTags(n):
            return "too many tags (\(n), limit \(StateCodec.maxTags))"
        case let .tagKeyOutOfOrder(entry):
            return "tag entry \(entry) key out of order"
        case let .duplicateTagKey(entry):
            return "tag entry \(entry) duplicate key"
        case let .tagsTrailingBytes(n):
            return "tag 11 has \(n) bytes after its last entry"
        }
    }
}

/// Names a value inside a record for error messages; entries are 1-based.
public enum StateField: Equatable, Sendable, CustomStringConvertible {
    case tag(UInt8)
    case tagKey(entry: Int)
    case tagValue(entry: Int)

    public var description: String {
        switch self {
        case let .tag(tag): return "tag \(tag)"
        case let .tagKey(entry): return "tag entry \(entry) key"
        case let .tagValue(entry): return "tag entry \(entry) value"
        }
    }

    var container: String {
        switch self {
        case .tag: return "the record"
        case .tagKey, .tagValue: return "tag 11"
        }
    }
}

private func hex16(_ v: UInt16) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
}
