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

/// SQLite's "fail the N-th I/O" sweep: every operation a write makes fails in turn, with ENOSPC
/// and with EIO, for the first write into a new directory and for a write that rotates the
/// backup. The failures the writer tolerates by design (a failed `exists` skips the rotation, a
/// cleanup `unlink` is best effort) let the write succeed; all others are reported. Either way
/// the last good files still load, and the next write with the fault gone succeeds.
extension StateFileWriterFaultTests {
    enum Shape: Sendable { case first, rotating }

    struct NthFailure: Sendable, CustomTestStringConvertible {
        var shape: Shape
        var n: Int
        var step: String
        var reported: Bool
        var primaryAfter: Int?
        var backupAfter: Int?
        var line: UInt = #line
        var testDescription: String { "\(shape) write, operation \(n): \(step)" }
    }

    static let firstWrite = [
        "mkdir gob",
        "open gob/openctrl.gob.tmp", "write gob/openctrl.gob.tmp",
        "fsync gob/openctrl.gob.tmp", "close gob/openctrl.gob.tmp",
        "rename gob/openctrl.gob.tmp gob/openctrl.gob",
        "fsync dir gob", "fsync dir .",
    ]

    static let nthFailures: [NthFailure] = [
        NthFailure(shape: .first, n: 1, step: "mkdir gob", reported: true),
        NthFailure(shape: .first, n: 2, step: "open gob/openctrl.gob.tmp", reported: true),
        NthFailure(shape: .first, n: 3, step: "write gob/openctrl.gob.tmp", reported: true),
        NthFailure(shape: .first, n: 4, step: "fsync gob/openctrl.gob.tmp", reported: true),
        NthFailure(shape: .first, n: 5, step: "close gob/openctrl.gob.tmp", reported: true),
        NthFailure(shape: .first, n: 6, step: "rename gob/openctrl.gob.tmp gob/openctrl.gob", reported: true),
        NthFailure(shape: .first, n: 7, step: "fsync dir gob", reported: true, primaryAfter: 1),
        NthFailure(shape: .first, n: 8, step: "fsync dir .", reported: true, primaryAfter: 1),
        NthFailure(shape: .rotating, n: 1, step: "mkdir gob", reported: true, primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 2, step: "open gob/openctrl.gob.tmp", reported: true, primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 3, step: "write gob/openctrl.gob.tmp", reported: true, primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 4, step: "fsync gob/openctrl.gob.tmp", reported: true, primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 5, step: "close gob/openctrl.gob.tmp", reported: true, primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 6, step: "exists gob/openctrl.gob", reported: false, primaryAfter: 3, backupAfter: 1),
        NthFailure(shape: .rotating, n: 7, step: "unlink gob/openctrl.gob.backup.tmp", reported: false, primaryAfter: 3, backupAfter: 2),
        NthFailure(shape: .rotating, n: 8, step: "link gob/openctrl.gob gob/openctrl.gob.backup.tmp", reported: true,
                   primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 9, step: "rename gob/openctrl.gob.backup.tmp gob/openctrl.gob.backup", reported: true,
                   primaryAfter: 2, backupAfter: 1),
        NthFailure(shape: .rotating, n: 10, step: "unlink gob/openctrl.gob.backup.tmp", reported: false, primaryAfter: 3, backupAfter: 2),
        NthFailure(shape: .rotating, n: 11, step: "rename gob/openctrl.gob.tmp gob/openctrl.gob", reported: true,
                   primaryAfter: 2, backupAfter: 2),
        NthFailure(shape: .rotating, n: 12, step: "fsync dir gob", reported: true, primaryAfter: 3, backupAfter: 2),
    ]

    static func steps(_ shape: Shape) -> [String] { shape == .first ? firstWrite : rotatingWrite }

    /// The call a trace entry records: its first word, except the two-word `fsync dir`.
    static func operation(_ step: String) -> String {
        step.hasPrefix("fsync dir") ? "fsync dir" : String(step.prefix { $0 != " " })
    }

    /// The table names every operation of both write shapes, in order, so "every N" is every N.
    @Test(arguments: [Shape.first, .rotating])
    func nthFailureTableCoversEveryOperation(_ shape: Shape) throws {
        #expect(Self.nthFailures.filter { $0.shape == shape }.map(\.step) == Self.steps(shape))
        #expect(Self.nthFailures.filter { $0.shape == shape }.map(\.n) == Array(1...Self.steps(shape).count))
        try Fixture.withStateDirectory { root, files in
            if shape == .rotating { try prepare(files) }
            let fs = FaultyFileSystem(root: root)
            try StateFileWriter.write(StateCodec.encode(Fixture.generation(3)), to: files,
                                      primaryKnownGood: shape == .rotating, using: fs)
            #expect(fs.trace == Self.steps(shape))
        }
    }

    @Test(arguments: nthFailures, [ENOSPC, EIO])
    func failingTheNthOperation(_ c: NthFailure, _ errno: Int32) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        let steps = Self.steps(c.shape)
        let name = Self.operation(steps[c.n - 1])
        let call = try #require(FaultyFileSystem.Call(rawValue: name))
        let nth = steps.prefix(c.n).filter { Self.operation($0) == name }.count
        let knownGood = c.shape == .rotating
        let (written, next) = knownGood ? (3, 4) : (1, 2)
        try Fixture.withStateDirectory { root, files in
            if knownGood { try prepare(files) }
            let fs = FaultyFileSystem(root: root, fault: .init(call: call, nth: nth, errno: errno))
            let target = String(steps[c.n - 1].split(separator: " ").last!)
            do throws(SystemError) {
                try StateFileWriter.write(StateCodec.encode(Fixture.generation(written)), to: files,
                                          primaryKnownGood: knownGood, using: fs)
                #expect(!c.reported, "the failure was not reported", sourceLocation: location)
            } catch {
                #expect(c.reported, "a tolerated failure was reported: \(error)", sourceLocation: location)
                #expect(error == SystemError(op: name, path: target == "." ? root : root + "/" + target, errno: errno),
                        sourceLocation: location)
            }
            #expect(Array(fs.trace.prefix(c.n)) == Array(steps.prefix(c.n)), sourceLocation: location)
            #expect(fs.openDescriptors.isEmpty, "descriptor leaked", sourceLocation: location)
            #expect(!Disk.exists(files.tmp) && !Disk.exists(files.backupTmp), "temporary file left", sourceLocation: location)
            #expect(Fixture.generationIn(files.primary) == c.primaryAfter, sourceLocation: location)
            #expect(Fixture.generationIn(files.backup) == c.backupAfter, sourceLocation: location)
            let loaded = StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
            #expect(loaded == c.primaryAfter.map { .loaded(records: Fixture.generation($0), from: files.primary) } ?? .fresh,
                    sourceLocation: location)

            // The store keeps its "known good" flag across a failure and sets it on success.
            let knownGoodNext = knownGood || !c.reported
            try StateFileWriter.write(StateCodec.encode(Fixture.generation(next)), to: files,
                                      primaryKnownGood: knownGoodNext, using: Fixture.posix)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(next), from: files.primary), sourceLocation: location)
            let backupNext = knownGoodNext && c.primaryAfter != nil ? c.primaryAfter : c.backupAfter
            #expect(Fixture.generationIn(files.backup) == backupNext, sourceLocation: location)
        }
    }
}
