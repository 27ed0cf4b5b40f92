import Glibc

/// The blocking half of a state save (CONTRACT §21.4 steps 2–5), run on a worker thread.
///
/// The sequence is the one in the comment above redis's `fsyncFileDir`: write a temporary file
/// beside the target, fsync it, rename it over the target, fsync the directory. Before the
/// rename, the previous primary (if this process knows it is good) becomes the backup through a
/// hard link and a second rename, so the backup is always a complete earlier generation and a
/// file that failed validation is never promoted. At every instant one complete, checksummed
/// file exists under a final name, whatever step a crash interrupts.
public enum StateFileWriter {
    /// Directory fsync errors meaning "this file system does not sync directories", not failure
    /// (ENOTSUP and EOPNOTSUPP are one value on Linux, distinct elsewhere).
    static let unsupportedDirectorySync: [Int32] = [EINVAL, ENOTSUP, EOPNOTSUPP]

    /// Throws the error of the first failing step, after removing the temporary files (best
    /// effort). Holds no state of its own; callers run one write at a time.
    public static func write(
        _ bytes: [UInt8], to files: StateFiles, primaryKnownGood: Bool, using fs: some FileSystem
    ) throws(SystemError) {
        do {
            let createdDirectory = try fs.makeDirectory(files.directory)
            try writeTemporary(bytes, to: files.tmp, using: fs)
            if primaryKnownGood && fs.exists(files.primary) {
                try rotateBackup(files, using: fs)
            }
            try fs.rename(files.tmp, files.primary)
            try syncDirectory(files.directory, using: fs)
            if createdDirectory {
                try syncDirectory(files.parentDirectory, using: fs)
            }
        } catch {
            try? fs.unlink(files.tmp)
            throw error
        }
    }

    private static func writeTemporary(
        _ bytes: [UInt8], to path: String, using fs: some FileSystem
    ) throws(SystemError) {
        let fd = try fs.openForWrite(path)
        do {
            try fs.write(fd, bytes, path: path)
            try fs.fsync(fd, path: path)
        } catch {
            try? fs.close(fd, path: path)
            throw error
        }
        try fs.close(fd, path: path)
    }

    /// The link shares the primary's inode, so the backup receives exactly the fsynced bytes
    /// without copying them; the rename then replaces the old backup atomically.
    private static func rotateBackup(_ files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        // A leftover from an interrupted write; if it cannot be removed, link reports EEXIST.
        try? fs.unlink(files.backupTmp)
        try fs.link(files.primary, files.backupTmp)
        do {
            try fs.rename(files.backupTmp, files.backup)
        } catch {
            try? fs.unlink(files.backupTmp)
            throw error
        }
        // When the backup already is a link to the primary (a save or a crash stopped between
        // the two renames), rename(2) sees two names of one file, "does nothing, and returns a
        // success status": the backup tmp name would stay behind.
        try? fs.unlink(files.backupTmp)
    }

    private static func syncDirectory(_ path: String, using fs: some FileSystem) throws(SystemError) {
        do {
            try fs.fsyncDirectory(path)
        } catch where unsupportedDirectorySync.contains(error.errno) {
            return
        }
    }
}
