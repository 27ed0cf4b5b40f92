import Glibc

/// The real file system. Stateless, so one value can be used from any thread.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func openForWrite(_ path: String) throws(SystemError) -> Int32 {
        try retrying("open", path) { Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
    }

    public func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
            } else if n < 0 && Glibc.errno == EINTR {
                continue
            } else {
                // write(2) returning 0 for a non-empty buffer makes no progress; looping on it
                // would spin forever, so it is reported as an I/O error.
                throw SystemError(op: "write", path: path, errno: n == 0 ? EIO : Glibc.errno)
            }
        }
    }

    public func fsync(_ fd: Int32, path: String) throws(SystemError) {
        _ = try retrying("fsync", path) { Glibc.fsync(fd) }
    }

    public func openForAppend(_ path: String) throws(SystemError) -> Int32 {
        try retrying("open", path) { Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC) }
    }

    public func linkCount(_ fd: Int32, path: String) throws(SystemError) -> Int {
        var info = stat()
        _ = try retrying("fstat", path) { fstat(fd, &info) }
        return Int(info.st_nlink)
    }

    public func fdatasync(_ fd: Int32, path: String) throws(SystemError) {
        _ = try retrying("fdatasync", path) { Glibc.fdatasync(fd) }
    }

    /// Not retried on EINTR: Linux has released the descriptor by then, and a retry could close
    /// a descriptor another thread just received. The data is already fsynced, so EINTR is success.
    public func close(_ fd: Int32, path: String) throws(SystemError) {
        if Glibc.close(fd) != 0 && Glibc.errno != EINTR {
            throw SystemError(op: "close", path: path, errno: Glibc.errno)
        }
    }

    public func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try retrying("open", path) { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try retrying("read", path) {
                chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > limit { throw SystemError(op: "read", path: path, errno: EFBIG) }
        }
    }

    public func exists(_ path: String) -> Bool {
        Glibc.access(path, F_OK) == 0
    }

    public func link(_ from: String, _ to: String) throws(SystemError) {
        _ = try retrying("link", to) { Glibc.link(from, to) }
    }

    public func rename(_ from: String, _ to: String) throws(SystemError) {
        _ = try retrying("rename", to) { Glibc.rename(from, to) }
    }

    public func unlink(_ path: String) throws(SystemError) {
        _ = try retrying("unlink", path) { Glibc.unlink(path) }
    }

    @discardableResult
    public func makeDirectory(_ path: String) throws(SystemError) -> Bool {
        if Glibc.mkdir(path, 0o700) == 0 { return true }
        if Glibc.errno == EEXIST { return false }
        throw SystemError(op: "mkdir", path: path, errno: Glibc.errno)
    }

    public func fsyncDirectory(_ path: String) throws(SystemError) {
        let fd = try retrying("fsync dir", path) { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        _ = try retrying("fsync dir", path) { Glibc.fsync(fd) }
    }
}

/// Runs a call that reports failure as -1 plus errno, retrying EINTR (swift-system's
/// `valueOrErrno(retryOnInterrupt:)`).
private func retrying<T: FixedWidthInteger>(
    _ op: String, _ path: String, _ call: () -> T
) throws(SystemError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        if Glibc.errno != EINTR { throw SystemError(op: op, path: path, errno: Glibc.errno) }
    }
}
