import Glibc
import Testing
@testable import OpenCtrlServer

/// Every failing step of an append and of a fold (`ChangeLogWriter`), after SQLite's "fail the
/// N-th I/O" sweep and `StateFileWriterFaultTests`: the error names the step and the file, no
/// descriptor or temporary file is left, and the next start loads at least every change
/// acknowledged before the failing write, never a refusal and never an empty registry.
struct ChangeLogWriterFaultTests {
    /// Acknowledged before the write under test: generation 2 plus two appended frames.
    static let acknowledged = Array(LogFixture.frames.prefix(2))
    static var old: [InstanceRecord] { LogFixture.applying(acknowledged, over: Fixture.generation(2)) }
    /// After the append under test (the third frame).
    static var appended: [InstanceRecord] { LogFixture.replayedOverGeneration2 }
    /// The snapshot the fold under test writes: everything acknowledged plus a pending change.
    static var folded: [InstanceRecord] { LogFixture.applying(acknowledged + [LogFixture.pending], over: Fixture.generation(2)) }

    func append(_ files: StateFiles, _ fs: some FileSystem) throws(SystemError) {
        try ChangeLogWriter.append(ChangeLog.frame(LogFixture.frames[2]), to: files, using: fs)
    }

    func fold(_ files: StateFiles, _ fs: some FileSystem) throws(SystemError) {
        try ChangeLogWriter.fold(StateCodec.encode(Self.folded), to: files, primaryKnownGood: true, using: fs)
    }

    static let appendSteps = [
        "open gob/openctrl.gob.log", "write gob/openctrl.gob.log", "fdatasync gob/openctrl.gob.log", "close gob/openctrl.gob.log",
    ]
    static let createSteps = [
        "open gob/openctrl.gob.log.tmp", "write gob/openctrl.gob.log.tmp", "fsync gob/openctrl.gob.log.tmp",
        "close gob/openctrl.gob.log.tmp", "rename gob/openctrl.gob.log.tmp gob/openctrl.gob.log", "fsync dir gob",
    ]
    static let foldSteps = StateFileWriterFaultTests.rotatingWrite + createSteps

    /// What the next start must find, by which step the failure or crash stopped.
    enum Expected: Sendable, CustomStringConvertible {
        /// The write under test left nothing: what was acknowledged before it.
        case old
        /// The append's frame reached the file (its fdatasync or close failed).
        case appendedFrame
        /// The fold's primary is in place and the old log is superseded by it.
        case foldedOldLog
        /// The fold is complete.
        case folded

        var description: String { "\(self)" }

        func load(_ files: StateFiles) -> StateLoad {
            let changes = LogFixture.changeCount(ChangeLogWriterFaultTests.acknowledged)
            return switch self {
            case .old: StateLoad(result: .loaded(records: ChangeLogWriterFaultTests.old, from: files.primary),
                                 log: .replayed(changes: changes), needsFold: true)
            case .appendedFrame: StateLoad(result: .loaded(records: ChangeLogWriterFaultTests.appended, from: files.primary),
                                           log: .replayed(changes: changes + LogFixture.frames[2].count), needsFold: true)
            case .foldedOldLog: StateLoad(result: .loaded(records: ChangeLogWriterFaultTests.folded, from: files.primary),
                                          log: .superseded, needsFold: true)
            case .folded: StateLoad(result: .loaded(records: ChangeLogWriterFaultTests.folded, from: files.primary),
                                    log: .replayed(changes: 0), needsFold: false)
            }
        }
    }

    /// The three outcomes differ, so every expectation below can tell them apart.
    @Test func outcomesAreDistinct() {
        #expect(Self.old != Self.appended && Self.old != Self.folded && Self.appended != Self.folded)
        #expect(ChangeLog.replay(Self.acknowledged, over: Self.folded) != Self.folded, "a double replay would show")
    }

    @Test func appendStepSequence() throws {
        try Fixture.withStateDirectory { root, files in
            try LogFixture.prepare(files, appending: Self.acknowledged)
            let before = try #require(Disk.read(files.log))
            let fs = FaultyFileSystem(root: root)
            try append(files, fs)
            #expect(fs.trace == Self.appendSteps)
            #expect(Disk.read(files.log) == before + ChangeLog.frame(LogFixture.frames[2]))
            #expect(LogFixture.load(files) == Expected.appendedFrame.load(files))
        }
    }

    @Test func foldStepSequence() throws {
        try Fixture.withStateDirectory { root, files in
            let first = FaultyFileSystem(root: root)
            try ChangeLogWriter.fold(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: false, using: first)
            #expect(first.trace == StateFileWriterFaultTests.firstWrite + Self.createSteps)

            try LogFixture.prepare(files, appending: Self.acknowledged)
            let fs = FaultyFileSystem(root: root)
            try fold(files, fs)
            #expect(fs.trace == Self.foldSteps)
            let primary = StateCodec.encode(Self.folded)
            #expect(Disk.read(files.primary) == primary)
            #expect(Disk.read(files.backup) == StateCodec.encode(Fixture.generation(2)))
            #expect(Disk.read(files.log) == ChangeLog.header(base: ChangeLogBase(stateFile: primary)))
            #expect(LogFixture.load(files) == Expected.folded.load(files))
        }
    }

    /// A vanished log is an error, never a new headerless file the loader would refuse.
    @Test func appendToAMissingLogFails() throws {
        try Fixture.withStateDirectory { root, files in
            try LogFixture.prepare(files)
            #expect(Glibc.unlink(files.log) == 0)
            let fs = FaultyFileSystem(root: root)
            #expect(throws: SystemError(op: "open", path: files.log, errno: ENOENT)) { try append(files, fs) }
            #expect(!Disk.exists(files.log))
            #expect(fs.openDescriptors.isEmpty)
        }
    }
}

/// The N-th operation fails with ENOSPC and with EIO, for every N of both procedures.
extension ChangeLogWriterFaultTests {
    enum Procedure: Sendable { case append, fold }

    struct NthFailure: Sendable, CustomTestStringConvertible {
        var procedure: Procedure
        var n: Int
        var step: String
        var reported = true
        var expected: Expected
        var line: UInt = #line
        var testDescription: String { "\(procedure) operation \(n): \(step)" }
    }

    static let nthFailures: [NthFailure] = [
        NthFailure(procedure: .append, n: 1, step: "open gob/openctrl.gob.log", expected: .old),
        NthFailure(procedure: .append, n: 2, step: "write gob/openctrl.gob.log", expected: .old),
        // The frame is in the file but was not acknowledged: the change stays applied in
        // memory (§21.4), so loading it is allowed, and it is all of it or nothing.
        NthFailure(procedure: .append, n: 3, step: "fdatasync gob/openctrl.gob.log", expected: .appendedFrame),
        NthFailure(procedure: .append, n: 4, step: "close gob/openctrl.gob.log", expected: .appendedFrame),
        NthFailure(procedure: .fold, n: 1, step: "mkdir gob", expected: .old),
        NthFailure(procedure: .fold, n: 2, step: "open gob/openctrl.gob.tmp", expected: .old),
        NthFailure(procedure: .fold, n: 3, step: "write gob/openctrl.gob.tmp", expected: .old),
        NthFailure(procedure: .fold, n: 4, step: "fsync gob/openctrl.gob.tmp", expected: .old),
        NthFailure(procedure: .fold, n: 5, step: "close gob/openctrl.gob.tmp", expected: .old),
        NthFailure(procedure: .fold, n: 6, step: "exists gob/openctrl.gob", reported: false, expected: .folded),
        NthFailure(procedure: .fold, n: 7, step: "unlink gob/openctrl.gob.backup.tmp", reported: false, expected: .folded),
        NthFailure(procedure: .fold, n: 8, step: "link gob/openctrl.gob gob/openctrl.gob.backup.tmp", expected: .old),
        NthFailure(procedure: .fold, n: 9, step: "rename gob/openctrl.gob.backup.tmp gob/openctrl.gob.backup", expected: .old),
        NthFailure(procedure: .fold, n: 10, step: "unlink gob/openctrl.gob.backup.tmp", reported: false, expected: .folded),
        NthFailure(procedure: .fold, n: 11, step: "rename gob/openctrl.gob.tmp gob/openctrl.gob", expected: .old),
        NthFailure(procedure: .fold, n: 12, step: "fsync dir gob", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 13, step: "open gob/openctrl.gob.log.tmp", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 14, step: "write gob/openctrl.gob.log.tmp", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 15, step: "fsync gob/openctrl.gob.log.tmp", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 16, step: "close gob/openctrl.gob.log.tmp", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 17, step: "rename gob/openctrl.gob.log.tmp gob/openctrl.gob.log", expected: .foldedOldLog),
        NthFailure(procedure: .fold, n: 18, step: "fsync dir gob", expected: .folded),
    ]

    static func steps(_ procedure: Procedure) -> [String] { procedure == .append ? appendSteps : foldSteps }

    /// The call a trace entry records, and which of its calls the entry is.
    static func call(at index: Int, of steps: [String]) throws -> (FaultyFileSystem.Call, nth: Int) {
        let name = StateFileWriterFaultTests.operation(steps[index])
        let call = try #require(FaultyFileSystem.Call(rawValue: name))
        return (call, steps[...index].filter { StateFileWriterFaultTests.operation($0) == name }.count)
    }

    func run(_ procedure: Procedure, _ files: StateFiles, _ fs: FaultyFileSystem) throws(SystemError) {
        switch procedure {
        case .append: try append(files, fs)
        case .fold: try fold(files, fs)
        }
    }

    @Test(arguments: [Procedure.append, .fold])
    func nthFailureTableCoversEveryOperation(_ procedure: Procedure) {
        #expect(Self.nthFailures.filter { $0.procedure == procedure }.map(\.step) == Self.steps(procedure))
        #expect(Self.nthFailures.filter { $0.procedure == procedure }.map(\.n) == Array(1...Self.steps(procedure).count))
    }

    @Test(arguments: nthFailures, [ENOSPC, EIO])
    func failingTheNthOperation(_ c: NthFailure, _ errno: Int32) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        let (call, nth) = try Self.call(at: c.n - 1, of: Self.steps(c.procedure))
        try Fixture.withStateDirectory { root, files in
            try LogFixture.prepare(files, appending: Self.acknowledged)
            let fs = FaultyFileSystem(root: root, fault: .init(call: call, nth: nth, errno: errno))
            var error: SystemError?
            do throws(SystemError) { try run(c.procedure, files, fs) } catch let failure { error = failure }
            let path = root + "/" + String(c.step.split(separator: " ").last!)
            #expect(error == (c.reported ? SystemError(op: call.rawValue, path: path, errno: errno) : nil), sourceLocation: location)
            #expect(Array(fs.trace.prefix(c.n)) == Array(Self.steps(c.procedure).prefix(c.n)), sourceLocation: location)
            #expect(fs.openDescriptors.isEmpty, "descriptor leaked", sourceLocation: location)
            for leftover in [files.logTmp, files.tmp, files.backupTmp] {
                #expect(!Disk.exists(leftover), "\(leftover) left behind", sourceLocation: location)
            }
            #expect(LogFixture.load(files) == c.expected.load(files), sourceLocation: location)

            // The store folds after any failed write; with the fault gone that must succeed.
            try fold(files, Fixture.posix)
            #expect(LogFixture.load(files) == Expected.folded.load(files), sourceLocation: location)
        }
    }

    /// The process dies at each step in turn (`kill -9`: what was written stays, nothing more
    /// happens): the next start finds the content before or after the write, and the leftovers
    /// of the interrupted procedure are cleared.
    @Test(arguments: [Procedure.append, .fold].flatMap { p in steps(p).indices.map { (p, $0) } })
    func crashAtEveryStep(_ procedure: Procedure, _ step: Int) throws {
        let steps = Self.steps(procedure)
        let (call, nth) = try Self.call(at: step, of: steps)
        let expected: Expected = switch procedure {
        case .append: step > steps.firstIndex(of: "write gob/openctrl.gob.log")! ? .appendedFrame : .old
        case .fold:
            if step <= steps.firstIndex(of: "rename gob/openctrl.gob.tmp gob/openctrl.gob")! {
                .old
            } else if step <= steps.firstIndex(of: "rename gob/openctrl.gob.log.tmp gob/openctrl.gob.log")! {
                .foldedOldLog
            } else {
                .folded
            }
        }
        try Fixture.withStateDirectory { root, files in
            try LogFixture.prepare(files, appending: Self.acknowledged)
            let fs = FaultyFileSystem(root: root, fault: .init(call: call, nth: nth, crash: true))
            #expect(throws: SystemError.self, "crash at \(steps[step])") { try run(procedure, files, fs) }
            #expect(Array(fs.trace.prefix(step + 1)) == Array(steps.prefix(step + 1)))
            #expect(LogFixture.load(files) == expected.load(files), "crash at \(steps[step])")
            for leftover in [files.logTmp, files.tmp, files.backupTmp] {
                #expect(!Disk.exists(leftover), "\(leftover) left after the load")
            }
        }
    }
}
