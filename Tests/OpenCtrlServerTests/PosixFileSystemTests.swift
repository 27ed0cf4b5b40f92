import Glibc
import Testing
@testable import OpenCtrlServer

private let posix = Fixture.posix

/// The real system calls behind the seam: flags, modes, and errors carrying their step name.
struct PosixFileSystemTests {
    @Test func writeReadRoundTripAndMode() throws {
        try Fixture.withStateDirectory { root, _ in
            let path = root + "/f"
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let fd = try posix.openForWrite(path)
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
            try posix.write(fd, bytes, path: path)
            try posix.fsync(fd, path: path)
            try posix.close(fd, path: path)
            #expect(try posix.readFile(path, limit: bytes.count) == bytes)
            var info = stat()
            #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
    }

    @Test func openForWriteTruncates() throws {
        try Fixture.withStateDirectory { root, _ in
            let path = root + "/f"
            try Disk.write([1, 2, 3, 4], at: path)
            let fd = try posix.openForWrite(path)
            try posix.write(fd, [9], path: path)
            try posix.close(fd, path: path)
            #expect(Disk.read(path) == [9])
        }
    }

    @Test func readLimit() throws {
        try Fixture.withStateDirectory { root, _ in
            let path = root + "/f"
            try Disk.write([UInt8](repeating: 7, count: 100), at: path)
            #expect(try posix.readFile(path, limit: 100).count == 100)
            #expect(throws: SystemError(op: "read", path: path, errno: EFBIG)) { try posix.readFile(path, limit: 99) }
            try Disk.write([], at: path)
            #expect(try posix.readFile(path, limit: 0) == [])
        }
    }

    /// Paths inside a temp directory holding a file `f` and a directory `d`.
    struct Paths: Sendable {
        var root: String
        var f: String { root + "/f" }
        var d: String { root + "/d" }
        var missing: String { root + "/missing/x" }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var op: String
        var errno: Int32
        var call: @Sendable (Paths) throws(SystemError) -> Void
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let closed: Int32 = 1_000_000

    static let failures: [Case] = [
        Case(name: "read missing", op: "open", errno: ENOENT) { p throws(SystemError) in _ = try posix.readFile(p.missing, limit: 10) },
        Case(name: "read directory", op: "read", errno: EISDIR) { p throws(SystemError) in _ = try posix.readFile(p.d, limit: 10) },
        Case(name: "open for write in missing directory", op: "open", errno: ENOENT) { p throws(SystemError) in
            _ = try posix.openForWrite(p.missing)
        },
        Case(name: "open for write on directory", op: "open", errno: EISDIR) { p throws(SystemError) in _ = try posix.openForWrite(p.d) },
        Case(name: "mkdir without parent", op: "mkdir", errno: ENOENT) { p throws(SystemError) in try posix.makeDirectory(p.missing) },
        Case(name: "mkdir under a file", op: "mkdir", errno: ENOTDIR) { p throws(SystemError) in try posix.makeDirectory(p.f + "/x") },
        Case(name: "link onto existing", op: "link", errno: EEXIST) { p throws(SystemError) in try posix.link(p.f, p.d) },
        Case(name: "link missing", op: "link", errno: ENOENT) { p throws(SystemError) in try posix.link(p.missing, p.root + "/l") },
        Case(name: "rename missing", op: "rename", errno: ENOENT) { p throws(SystemError) in try posix.rename(p.missing, p.root + "/r") },
        Case(name: "rename file over directory", op: "rename", errno: EISDIR) { p throws(SystemError) in try posix.rename(p.f, p.d) },
        Case(name: "unlink missing", op: "unlink", errno: ENOENT) { p throws(SystemError) in try posix.unlink(p.missing) },
        Case(name: "fsync dir on a file", op: "fsync dir", errno: ENOTDIR) { p throws(SystemError) in try posix.fsyncDirectory(p.f) },
        Case(name: "fsync dir missing", op: "fsync dir", errno: ENOENT) { p throws(SystemError) in try posix.fsyncDirectory(p.missing) },
        Case(name: "write to a closed descriptor", op: "write", errno: EBADF) { p throws(SystemError) in
            try posix.write(closed, [1], path: p.f)
        },
        Case(name: "fsync a closed descriptor", op: "fsync", errno: EBADF) { p throws(SystemError) in try posix.fsync(closed, path: p.f) },
        Case(name: "close a closed descriptor", op: "close", errno: EBADF) { p throws(SystemError) in try posix.close(closed, path: p.f) },
    ]

    @Test(arguments: failures)
    func failuresNameTheirStep(_ c: Case) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { root, _ in
            let paths = Paths(root: root)
            try Disk.write([1], at: paths.f)
            try posix.makeDirectory(paths.d)
            let error = #expect(throws: SystemError.self, sourceLocation: location) { try c.call(paths) }
            #expect(error?.op == c.op, sourceLocation: location)
            #expect(error?.errno == c.errno, sourceLocation: location)
        }
    }

    @Test func makeDirectoryReportsCreation() throws {
        try Fixture.withStateDirectory { root, _ in
            let d = root + "/d"
            #expect(try posix.makeDirectory(d) == true)
            #expect(try posix.makeDirectory(d) == false)
            var info = stat()
            #expect(lstat(d, &info) == 0 && info.st_mode & 0o777 == 0o700)
            try posix.fsyncDirectory(d)
        }
    }

    @Test func existsAndLink() throws {
        try Fixture.withStateDirectory { root, _ in
            let f = root + "/f", g = root + "/g"
            #expect(!posix.exists(f))
            try Disk.write([5, 6], at: f)
            #expect(posix.exists(f))
            try posix.link(f, g)
            try posix.unlink(f)
            #expect(Disk.read(g) == [5, 6])
        }
    }

    struct Message: Sendable {
        var error: SystemError
        var text: String
        var line: UInt = #line
    }

    static let messages: [Message] = [
        Message(error: SystemError(op: "fsync", path: "gob/openctrl.gob.tmp", errno: EIO),
                text: "fsync failed: gob/openctrl.gob.tmp: Input/output error"),
        Message(error: SystemError(op: "fsync dir", path: "/srv/gob", errno: EROFS),
                text: "fsync dir failed: /srv/gob: Read-only file system"),
        Message(error: SystemError(op: "open", path: "x", errno: 99999), text: "open failed: x: Unknown error 99999"),
    ]

    @Test(arguments: messages)
    func description(_ m: Message) {
        #expect(m.error.description == m.text,
                sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(m.line), column: 1))
    }

    struct Names: Sendable {
        var directory: String
        var primary: String
        var parent: String
        var line: UInt = #line
    }

    static let names: [Names] = [
        Names(directory: "/opt/openctrl/gob", primary: "/opt/openctrl/gob/openctrl.gob", parent: "/opt/openctrl"),
        Names(directory: "/opt/openctrl/gob//", primary: "/opt/openctrl/gob/openctrl.gob", parent: "/opt/openctrl"),
        Names(directory: "gob", primary: "gob/openctrl.gob", parent: "."),
        Names(directory: "", primary: "./openctrl.gob", parent: "."),
        Names(directory: "/gob", primary: "/gob/openctrl.gob", parent: "/"),
        Names(directory: "/", primary: "/openctrl.gob", parent: "/"),
    ]

    @Test(arguments: names)
    func stateFileNames(_ n: Names) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(n.line), column: 1)
        let files = StateFiles(directory: n.directory)
        #expect(files.primary == n.primary, sourceLocation: location)
        #expect(files.backup == n.primary + ".backup", sourceLocation: location)
        #expect(files.tmp == n.primary + ".tmp", sourceLocation: location)
        #expect(files.backupTmp == n.primary + ".backup.tmp", sourceLocation: location)
        #expect(files.corruptPath(unixSeconds: 1_700_000_123) == n.primary + ".corrupt-1700000123", sourceLocation: location)
        #expect(files.parentDirectory == n.parent, sourceLocation: location)
    }
}
