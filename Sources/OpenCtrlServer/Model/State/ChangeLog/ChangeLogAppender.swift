import Glibc

/// The change log held open between appends, so an acknowledged change needs no new descriptor:
/// a master out of descriptors (children's pipes took the last ones) still makes its changes
/// durable, and an append costs one `write` and one `fdatasync`. Used by one thread at a time
/// (the state writer's); a fold closes it, because the fold replaces the file.
public final class ChangeLogAppender: @unchecked Sendable {
    private var fd: Int32?

    public init() {}

    /// `fdatasync` suffices: the log's name and header were fsynced when it was created, and an
    /// append only changes data and length. A failed append closes the log, since a fold must
    /// replace it before anything may follow a possibly partial frame.
    public func append(_ frame: [UInt8], to files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        let fd: Int32
        if let open = self.fd {
            try requireNamed(open, files, fs)
            fd = open
        } else {
            fd = try fs.openForAppend(files.log)
            self.fd = fd
        }
        do throws(SystemError) {
            try fs.write(fd, frame, path: files.log)
            try fs.fdatasync(fd, path: files.log)
        } catch {
            self.fd = nil
            try? fs.close(fd, path: files.log)
            throw error
        }
    }

    /// The held log must still be the one the path names: removed or replaced while the master
    /// runs, appending there would write where no restart looks. Then the append fails (ENOENT,
    /// as a fresh open would) and the store folds, which writes everything anew.
    private func requireNamed(_ fd: Int32, _ files: StateFiles, _ fs: some FileSystem) throws(SystemError) {
        do throws(SystemError) {
            if try fs.linkCount(fd, path: files.log) > 0 { return }
            throw SystemError(op: "open", path: files.log, errno: ENOENT)
        } catch {
            self.fd = nil
            try? fs.close(fd, path: files.log)
            throw error
        }
    }

    /// Opens the log ahead of the first append (after a fold), so the master holds the same
    /// descriptors whether or not anything was appended yet.
    public func open(_ files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        guard fd == nil else { return }
        fd = try fs.openForAppend(files.log)
    }

    public func close(_ files: StateFiles, using fs: some FileSystem) throws(SystemError) {
        guard let fd else { return }
        self.fd = nil
        try fs.close(fd, path: files.log)
    }
}
