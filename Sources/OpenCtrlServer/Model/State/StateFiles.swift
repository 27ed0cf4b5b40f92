/// The names of the state files in their directory (CONTRACT §21.1). Temporary files live next
/// to their targets so every rename stays within one file system and is atomic.
public struct StateFiles: Sendable, Equatable {
    public let directory: String
    public let primary: String
    public let backup: String
    public let tmp: String
    public let backupTmp: String
    /// The change log extending the primary (see `ChangeLog`), and the name a new one is
    /// written under before it replaces the old one.
    public let log: String
    public let logTmp: String

    public init(directory: String) {
        var dir = directory.isEmpty ? "." : directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
        let prefix = dir == "/" ? "/" : dir + "/"
        primary = prefix + "openctrl.gob"
        backup = prefix + "openctrl.gob.backup"
        tmp = prefix + "openctrl.gob.tmp"
        backupTmp = prefix + "openctrl.gob.backup.tmp"
        log = prefix + "openctrl.gob.log"
        logTmp = prefix + "openctrl.gob.log.tmp"
    }

    /// Where an invalid primary is kept for inspection when the backup is used instead.
    public func corruptPath(unixSeconds: Int) -> String {
        primary + ".corrupt-\(unixSeconds)"
    }

    /// Where a change log that cannot be replayed whole is kept for inspection.
    public func corruptLogPath(unixSeconds: Int) -> String {
        log + ".corrupt-\(unixSeconds)"
    }

    /// The directory holding `directory`, whose fsync makes a newly created `directory` durable.
    var parentDirectory: String {
        guard let slash = directory.lastIndex(of: "/") else { return "." }
        return slash == directory.startIndex ? "/" : String(directory[..<slash])
    }
}
