import Glibc
import Synchronization
@testable import OpenCtrlServer

/// The real file system with one planted failure, after swift-system's mocking layer and
/// SQLite's `SimulateIOError`: the n-th call of one operation fails with a chosen errno. Every
/// call is recorded (paths relative to `root`) so tests can assert the exact step sequence.
/// With `crash`, the process is considered dead from the failing call on: every later call
/// fails without touching the disk, which leaves the files exactly as a `kill -9` at that
/// instant would.
final class FaultyFileSystem: FileSystem {
    enum Call: String, Sendable, CaseIterable {
        case mkdir, open, write, fsync, fdatasync, fstat, close, read, exists, link, rename, unlink
        case fsyncDir = "fsync dir"
    }

    struct Fault: Sendable {
        var call: Call
        var nth: Int = 1
        var errno: Int32 = EIO
        /// The step name in the thrown error when it differs from the call (a read that fails in open).
        var op: String?
        var crash = false
    }

    private struct State {
        var counts: [Call: Int] = [:]
        var trace: [String] = []
        var dead = false
        var openDescriptors: Set<Int32> = []
    }

    private let base = PosixFileSystem()
    private let root: String
    private let fault: Fault?
    private let state = Mutex(State())

    init(root: String, fault: Fault? = nil) {
        self.root = root.hasSuffix("/") ? root : root + "/"
        self.fault = fault
    }

    var trace: [String] { state.withLock { $0.trace } }
    /// Descriptors returned by `openForWrite` and not yet closed: a failed save must not leak one.
    var openDescriptors: Set<Int32> { state.withLock { $0.openDescriptors } }

    private func relative(_ path: String) -> String {
        if path + "/" == root { return "." }
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }

    /// Records the call and returns the error to throw instead of performing it, if any.
    private func intercept(_ call: Call, _ paths: String...) -> SystemError? {
        let path = paths[paths.count - 1]
        return state.withLock { s -> SystemError? in
            s.trace.append(([call.rawValue] + paths.map(relative)).joined(separator: " "))
            if s.dead { return SystemError(op: call.rawValue, path: path, errno: EIO) }
            s.counts[call, default: 0] += 1
            guard let fault, fault.call == call, fault.nth == s.counts[call] else { return nil }
            s.dead = fault.crash
            return SystemError(op: fault.op ?? call.rawValue, path: path, errno: fault.errno)
        }
    }

    func openForWrite(_ path: String) throws(SystemError) -> Int32 {
        if let e = intercept(.open, path) { throw e }
        let fd = try base.openForWrite(path)
        state.withLock { _ = $0.openDescriptors.insert(fd) }
        return fd
    }

    func openForAppend(_ path: String) throws(SystemError) -> Int32 {
        if let e = intercept(.open, path) { throw e }
        let fd = try base.openForAppend(path)
        state.withLock { _ = $0.openDescriptors.insert(fd) }
        return fd
    }

    func linkCount(_ fd: Int32, path: String) throws(SystemError) -> Int {
        if let e = intercept(.fstat, path) { throw e }
        return try base.linkCount(fd, path: path)
    }

    func fdatasync(_ fd: Int32, path: String) throws(SystemError) {
        if let e = intercept(.fdatasync, path) { throw e }
        try base.fdatasync(fd, path: path)
    }

    func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemError) {
        if let e = intercept(.write, path) { throw e }
        try base.write(fd, bytes, path: path)
    }

    func fsync(_ fd: Int32, path: String) throws(SystemError) {
        if let e = intercept(.fsync, path) { throw e }
        try base.fsync(fd, path: path)
    }

    /// A failed close still releases the descriptor, as close(2) does on Linux.
    func close(_ fd: Int32, path: String) throws(SystemError) {
        state.withLock { _ = $0.openDescriptors.remove(fd) }
        if let e = intercept(.close, path) {
            _ = Glibc.close(fd)
            throw e
        }
        try base.close(fd, path: path)
    }

    func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        if let e = intercept(.read, path) { throw e }
        return try base.readFile(path, limit: limit)
    }

    func exists(_ path: String) -> Bool {
        if intercept(.exists, path) != nil { return false }
        return base.exists(path)
    }

    func link(_ from: String, _ to: String) throws(SystemError) {
        if let e = intercept(.link, from, to) { throw e }
        try base.link(from, to)
    }

    func rename(_ from: String, _ to: String) throws(SystemError) {
        if let e = intercept(.rename, from, to) { throw e }
        try base.rename(from, to)
    }

    func unlink(_ path: String) throws(SystemError) {
        if let e = intercept(.unlink, path) { throw e }
        try base.unlink(path)
    }

    func makeDirectory(_ path: String) throws(SystemError) -> Bool {
        if let e = intercept(.mkdir, path) { throw e }
        return try base.makeDirectory(path)
    }

    func fsyncDirectory(_ path: String) throws(SystemError) {
        if let e = intercept(.fsyncDir, path) { throw e }
        try base.fsyncDirectory(path)
    }
}
