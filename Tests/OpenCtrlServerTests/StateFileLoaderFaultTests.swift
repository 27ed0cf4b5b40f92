import Glibc
import Testing
@testable import OpenCtrlServer

private typealias Raw = RawState

/// I/O errors during load (CONTRACT §21.5 step 6): anything but "does not exist" makes that
/// file invalid, never missing, so an unreadable primary can't pass for a first start.
struct StateFileLoaderFaultTests {
    func prepare(_ files: StateFiles) throws {
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: false, using: Fixture.posix)
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(2)), to: files, primaryKnownGood: true, using: Fixture.posix)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var fault: FaultyFileSystem.Fault
        var reason: String
        var line: UInt = #line
        var testDescription: String { reason }
    }

    static let unreadablePrimary: [Case] = [
        Case(fault: .init(call: .read, errno: EACCES, op: "open"), reason: "open failed: Permission denied"),
        Case(fault: .init(call: .read, errno: EIO), reason: "read failed: Input/output error"),
        Case(fault: .init(call: .read, errno: EISDIR), reason: "read failed: Is a directory"),
        Case(fault: .init(call: .read, errno: EFBIG), reason: "file too large (limit 67108864 bytes)"),
    ]

    @Test(arguments: unreadablePrimary)
    func unreadablePrimaryFallsBackToBackup(_ c: Case) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            let primary = Disk.read(files.primary)
            let fs = FaultyFileSystem(root: root, fault: c.fault)
            let copy = files.corruptPath(unixSeconds: Fixture.bootTime)
            #expect(StateFileLoader.load(files, using: fs, nowUnixSeconds: Fixture.bootTime)
                == .restored(records: Fixture.generation(1), from: files.backup, primaryReason: c.reason, corruptCopy: .kept(copy)),
                sourceLocation: location)
            #expect(Disk.read(copy) == primary, sourceLocation: location)
        }
    }

    @Test(arguments: unreadablePrimary)
    func unreadablePrimaryWithoutBackupRefuses(_ c: Case) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            _ = Glibc.unlink(files.backup)
            let primary = Disk.read(files.primary)
            let result = StateFileLoader.load(files, using: FaultyFileSystem(root: root, fault: c.fault), nowUnixSeconds: Fixture.bootTime)
            #expect(result == .unreadable(message: "Master.loadState: state files unreadable: "
                + "\(files.primary): \(c.reason); \(files.backup): no such file or directory"), sourceLocation: location)
            #expect(Disk.read(files.primary) == primary, sourceLocation: location)
        }
    }

    @Test func unreadableBackupBehindMissingPrimaryRefuses() throws {
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            _ = Glibc.unlink(files.primary)
            let fs = FaultyFileSystem(root: root, fault: .init(call: .read, nth: 2, errno: EACCES, op: "open"))
            #expect(StateFileLoader.load(files, using: fs, nowUnixSeconds: Fixture.bootTime)
                == .unreadable(message: "Master.loadState: state files unreadable: "
                    + "\(files.primary): no such file or directory; \(files.backup): open failed: Permission denied"))
            #expect(Fixture.generationIn(files.backup) == 1)
        }
    }

    @Test func failedCorruptCopyRenameIsReported() throws {
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            try Disk.write(Raw.hex("3fff81"), at: files.primary)
            let fs = FaultyFileSystem(root: root, fault: .init(call: .rename, errno: EIO))
            let copy = files.corruptPath(unixSeconds: Fixture.bootTime)
            #expect(StateFileLoader.load(files, using: fs, nowUnixSeconds: Fixture.bootTime)
                == .restored(records: Fixture.generation(1), from: files.backup,
                             primaryReason: "not an OpenCtrl state file (gob data from the Go original?)",
                             corruptCopy: .failed(SystemError(op: "rename", path: copy, errno: EIO))))
            #expect(Disk.read(files.primary) == Raw.hex("3fff81"))
            #expect(!Disk.exists(copy))
        }
    }

    /// The writer truncates the tmp and removes the backup tmp itself, so leftovers that cannot
    /// be removed at load do not stop the master.
    @Test func staleTmpRemovalFailureIsIgnored() throws {
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            let fs = FaultyFileSystem(root: root, fault: .init(call: .unlink, errno: EACCES))
            #expect(StateFileLoader.load(files, using: fs, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(2), from: files.primary))
            #expect(fs.trace == ["unlink gob/openctrl.gob.tmp", "unlink gob/openctrl.gob.backup.tmp", "read gob/openctrl.gob"])
        }
    }
}
