import Glibc
import Testing
@testable import OpenCtrlServer

/// Every failing step of the write procedure (CONTRACT §21.4): the error names the step, the
/// temporary files are gone, and the files under final names still load.
struct StateFileWriterFaultTests {
    /// Primary holds generation 2 and backup generation 1, as after two saves.
    func prepare(_ files: StateFiles) throws {
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: false, using: Fixture.posix)
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(2)), to: files, primaryKnownGood: true, using: Fixture.posix)
    }

    func writeThird(_ files: StateFiles, _ fs: FaultyFileSystem) throws(SystemError) {
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(3)), to: files, primaryKnownGood: true, using: fs)
    }

    enum Target: Sendable { case directory, tmp, backupTmp, backup, primary }

    struct Case: Sendable, CustomTestStringConvertible {
        var fault: FaultyFileSystem.Fault
        var op: String
        var path: Target
        var primaryAfter: Int
        var backupAfter: Int
        var line: UInt = #line
        var testDescription: String { "\(op) #\(fault.nth) errno \(fault.errno)" }
    }

    static let failures: [Case] = [
        Case(fault: .init(call: .mkdir, errno: EACCES), op: "mkdir", path: .directory, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .open, errno: ENOSPC), op: "open", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .write, errno: ENOSPC), op: "write", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .write, errno: EIO), op: "write", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .fsync, errno: EIO), op: "fsync", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .fsync, errno: ENOSPC), op: "fsync", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .close, errno: EIO), op: "close", path: .tmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .link, errno: EMLINK), op: "link", path: .backupTmp, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .rename, nth: 1, errno: EIO), op: "rename", path: .backup, primaryAfter: 2, backupAfter: 1),
        Case(fault: .init(call: .rename, nth: 2, errno: EIO), op: "rename", path: .primary, primaryAfter: 2, backupAfter: 2),
        Case(fault: .init(call: .rename, nth: 2, errno: ENOSPC), op: "rename", path: .primary, primaryAfter: 2, backupAfter: 2),
        Case(fault: .init(call: .fsyncDir, errno: EIO), op: "fsync dir", path: .directory, primaryAfter: 3, backupAfter: 2),
    ]

    @Test(arguments: failures)
    func failingStep(_ c: Case) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            let fs = FaultyFileSystem(root: root, fault: c.fault)
            let error = #expect(throws: SystemError.self, sourceLocation: location) { try writeThird(files, fs) }
            let path = switch c.path {
            case .directory: files.directory
            case .tmp: files.tmp
            case .backupTmp: files.backupTmp
            case .backup: files.backup
            case .primary: files.primary
            }
            #expect(error == SystemError(op: c.op, path: path, errno: c.fault.errno), sourceLocation: location)
            #expect(fs.openDescriptors.isEmpty, "descriptor leaked", sourceLocation: location)
            #expect(!Disk.exists(files.tmp), "tmp left behind", sourceLocation: location)
            #expect(!Disk.exists(files.backupTmp), "backup tmp left behind", sourceLocation: location)
            #expect(Fixture.generationIn(files.primary) == c.primaryAfter, sourceLocation: location)
            #expect(Fixture.generationIn(files.backup) == c.backupAfter, sourceLocation: location)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(c.primaryAfter), from: files.primary), sourceLocation: location)
        }
    }

    @Test func errorNamesStepPathAndReason() throws {
        try Fixture.withStateDirectory { root, files in
            let fs = FaultyFileSystem(root: root, fault: .init(call: .write, errno: ENOSPC))
            let error = #expect(throws: SystemError.self) { try writeThird(files, fs) }
            #expect(error?.description == "write failed: \(files.tmp): No space left on device")
        }
    }

    @Test(arguments: [EINVAL, ENOTSUP, EOPNOTSUPP])
    func directoryFsyncRefusalIsTolerated(_ errno: Int32) throws {
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            try writeThird(files, FaultyFileSystem(root: root, fault: .init(call: .fsyncDir, errno: errno)))
            #expect(Fixture.generationIn(files.primary) == 3)
            #expect(Fixture.generationIn(files.backup) == 2)
        }
    }

    @Test func exactStepSequence() throws {
        try Fixture.withStateDirectory { root, files in
            let fs = FaultyFileSystem(root: root)
            try StateFileWriter.write(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: true, using: fs)
            // A new directory: its parent is fsynced too, and there is no primary to back up.
            #expect(fs.trace == [
                "mkdir gob",
                "open gob/openctrl.gob.tmp", "write gob/openctrl.gob.tmp",
                "fsync gob/openctrl.gob.tmp", "close gob/openctrl.gob.tmp",
                "exists gob/openctrl.gob",
                "rename gob/openctrl.gob.tmp gob/openctrl.gob",
                "fsync dir gob", "fsync dir .",
            ])
            let second = FaultyFileSystem(root: root)
            try StateFileWriter.write(StateCodec.encode(Fixture.generation(2)), to: files, primaryKnownGood: true, using: second)
            #expect(second.trace == Self.rotatingWrite)
        }
    }

    static let rotatingWrite = [
        "mkdir gob",
        "open gob/openctrl.gob.tmp", "write gob/openctrl.gob.tmp",
        "fsync gob/openctrl.gob.tmp", "close gob/openctrl.gob.tmp",
        "exists gob/openctrl.gob",
        "unlink gob/openctrl.gob.backup.tmp",
        "link gob/openctrl.gob gob/openctrl.gob.backup.tmp",
        "rename gob/openctrl.gob.backup.tmp gob/openctrl.gob.backup",
        "unlink gob/openctrl.gob.backup.tmp",
        "rename gob/openctrl.gob.tmp gob/openctrl.gob",
        "fsync dir gob",
    ]

    /// After a failed primary rename the backup and the primary are one file; the next save
    /// must still rotate cleanly.
    @Test func saveAfterFailedPrimaryRename() throws {
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            let fs = FaultyFileSystem(root: root, fault: .init(call: .rename, nth: 2))
            #expect(throws: SystemError.self) { try writeThird(files, fs) }
            try StateFileWriter.write(StateCodec.encode(Fixture.generation(4)), to: files, primaryKnownGood: true, using: Fixture.posix)
            #expect(Fixture.generationIn(files.primary) == 4)
            #expect(Fixture.generationIn(files.backup) == 2)
            #expect(!Disk.exists(files.backupTmp))
        }
    }

    @Test func parentDirectoryFsyncFailureIsReported() throws {
        try Fixture.withStateDirectory { root, files in
            let fs = FaultyFileSystem(root: root, fault: .init(call: .fsyncDir, nth: 2, errno: EIO))
            let error = #expect(throws: SystemError.self) {
                try StateFileWriter.write(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: false, using: fs)
            }
            #expect(error == SystemError(op: "fsync dir", path: root, errno: EIO))
        }
    }

    /// The process dies at each step in turn (the double stops touching the disk, as `kill -9`
    /// would): the next start must find the old or the new generation, never less.
    @Test(arguments: rotatingWrite.indices)
    func crashAtEveryStepLeavesALoadableState(_ step: Int) throws {
        let entry = Self.rotatingWrite[step]
        let call = entry.hasPrefix("fsync dir")
            ? FaultyFileSystem.Call.fsyncDir
            : try #require(FaultyFileSystem.Call(rawValue: String(entry.prefix { $0 != " " })))
        let nth = Self.rotatingWrite[...step].filter { $0.hasPrefix(call.rawValue + " ") }.count
        try Fixture.withStateDirectory { root, files in
            try prepare(files)
            let fs = FaultyFileSystem(root: root, fault: .init(call: call, nth: nth, crash: true))
            #expect(throws: SystemError.self) { try writeThird(files, fs) }
            #expect(Array(fs.trace.prefix(step + 1)) == Array(Self.rotatingWrite.prefix(step + 1)))
            let renamed = step > Self.rotatingWrite.firstIndex(of: "rename gob/openctrl.gob.tmp gob/openctrl.gob")!
            let expected = renamed ? 3 : 2
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(expected), from: files.primary), "crash at \(entry)")
            #expect([1, 2].contains(Fixture.generationIn(files.backup)), "crash at \(entry)")
        }
    }
}
