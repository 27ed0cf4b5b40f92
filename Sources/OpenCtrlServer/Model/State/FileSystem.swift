import Glibc

/// A failed system call, named by the step of the contract it belongs to (`mkdir`, `open`,
/// `write`, `fsync`, `close`, `link`, `rename`, `fsync dir`, `read`, `unlink`), as redis
/// records `err_op`: the log line says which step failed on which file, not just an errno.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var op: String
    public var path: String
    public var errno: Int32

    public init(op: String, path: String, errno: Int32) {
        self.op = op
        self.path = path
        self.errno = errno
    }

    /// `strerror(errno)`, through the thread-safe `strerror_r` since writes fail on a worker thread.
    public var reason: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard strerror_r(errno, &buffer, buffer.count) == 0 else { return "Unknown error \(errno)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { "\(op) failed: \(path): \(reason)" }
}

/// The file operations the state layer performs, one requirement per system call it makes, so
/// tests can fail any single call with any errno (swift-system's mocking, SQLite's
/// `SimulateIOError`) and reach every error branch of the write and load procedures.
public protocol FileSystem: Sendable {
    /// `O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC`, mode 0600.
    func openForWrite(_ path: String) throws(SystemError) -> Int32
    /// Writes every byte: loops over short writes and retries EINTR.
    func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError)
    func fsync(_ fd: Int32, path: String) throws(SystemError)
    /// `O_WRONLY|O_APPEND|O_CLOEXEC` without `O_CREAT`: a log that vanished must not be
    /// silently recreated without its header.
    func openForAppend(_ path: String) throws(SystemError) -> Int32
    /// Data plus the metadata needed to read it back (the new length), not timestamps.
    func fdatasync(_ fd: Int32, path: String) throws(SystemError)
    /// How many names the open file has (`fstat`'s `st_nlink`): 0 once it was removed or
    /// renamed over, when appending to it would write where no restart looks.
    func linkCount(_ fd: Int32, path: String) throws(SystemError) -> Int
    func close(_ fd: Int32, path: String) throws(SystemError)
    /// The whole file, opened `O_RDONLY|O_CLOEXEC`. A file longer than `limit` bytes fails with
    /// EFBIG after reading at most `limit + 1` bytes; a missing one fails with ENOENT.
    func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8]
    func exists(_ path: String) -> Bool
    func link(_ from: String, _ to: String) throws(SystemError)
    func rename(_ from: String, _ to: String) throws(SystemError)
    func unlink(_ path: String) throws(SystemError)
    /// Mode 0700; an existing directory is fine. Returns whether this call created it, because a
    /// new directory's own entry is durable only once its parent has been fsynced.
    @discardableResult
    func makeDirectory(_ path: String) throws(SystemError) -> Bool
    /// Opens the directory `O_RDONLY|O_DIRECTORY|O_CLOEXEC`, fsyncs and closes it; any failure
    /// is reported as `fsync dir`.
    func fsyncDirectory(_ path: String) throws(SystemError)
}
