/// The blocking halves of the change log, run on the state writer thread: appending one group
/// commit, and folding (a whole state file written by the §21.4 procedure, then a new empty log
/// naming it as its base).
public enum ChangeLogWriter {
    /// Appends one frame and makes it durable, then closes the log: `ChangeLogAppender`
    /// without keeping the descriptor.
    public static func append(_ frame: [UInt8], to files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        let appender = ChangeLogAppender()
        try appender.append(frame, to: files, using: fs)
        try appender.close(files, using: fs)
    }

    /// Writes `snapshot` as the new primary, then replaces the log with an empty one based on
    /// it. A crash between the two leaves the old log naming the old primary: the loader sees it
    /// is superseded (the new primary holds all of it) and does not replay it.
    public static func fold(
        _ snapshot: [UInt8], to files: StateFiles, primaryKnownGood: Bool, using fs: some FileSystem
    ) throws(SystemError) {
        try StateFileWriter.write(snapshot, to: files, primaryKnownGood: primaryKnownGood, using: fs)
        try create(base: ChangeLogBase(stateFile: snapshot), in: files, using: fs)
    }

    /// The log appears under its name only whole and synced (temporary file, fsync, rename,
    /// directory fsync), so a log with a short or missing header is damage, never a crash.
    static func create(base: ChangeLogBase, in files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        do throws(SystemError) {
            let fd = try fs.openForWrite(files.logTmp)
            do throws(SystemError) {
                try fs.write(fd, ChangeLog.header(base: base), path: files.logTmp)
                try fs.fsync(fd, path: files.logTmp)
            } catch {
                try? fs.close(fd, path: files.logTmp)
                throw error
            }
            try fs.close(fd, path: files.logTmp)
            try fs.rename(files.logTmp, files.log)
        } catch {
            try? fs.unlink(files.logTmp)
            throw error
        }
        do throws(SystemError) {
            try fs.fsyncDirectory(files.directory)
        } catch where StateFileWriter.unsupportedDirectorySync.contains(error.errno) {
            return
        }
    }
}
