import Glibc
import Testing
@testable import OpenCtrlServer

/// Startup with the change log (`StateFileLoader.loadWithChangeLog`), on real files: a log is
/// replayed only over the file it names, a torn last append is dropped and the log kept for
/// inspection, and damage in front of acknowledged changes is refused with every file left as
/// it was (CONTRACT §21.5: corrupt never means empty, keep what is corrupt).
struct ChangeLogLoaderTests {
    static let changes = LogFixture.changeCount(LogFixture.frames)

    /// The primary with one payload byte changed: its trailer (so the base it names) is intact.
    func corruptPrimary(_ files: StateFiles) throws {
        var bytes = try #require(Disk.read(files.primary))
        bytes[StateCodec.headerSize + 6] ^= 0x40
        try Disk.write(bytes, at: files.primary)
    }

    func refusal(_ files: StateFiles, _ reason: String) -> StateLoadResult {
        .unreadable(message: "Master.loadState: state log unreadable: \(files.log): \(reason); "
            + "move it aside to start from \(files.primary) without the changes it holds")
    }

    @Test func noFilesIsAFirstStart() throws {
        try Fixture.withStateDirectory { _, files in
            #expect(LogFixture.load(files) == StateLoad(result: .fresh, log: .absent, needsFold: true))
        }
    }

    /// A directory written before logs existed: the primary alone, and a fold to create the log.
    @Test func noLog() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            #expect(Glibc.unlink(files.log) == 0)
            #expect(LogFixture.load(files)
                == StateLoad(result: .loaded(records: Fixture.generation(2), from: files.primary), log: .absent, needsFold: true))
        }
    }

    @Test func framesAreReplayedOverTheirBase() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            let log = Disk.read(files.log)
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: LogFixture.replayedOverGeneration2, from: files.primary),
                log: .replayed(changes: Self.changes), needsFold: true))
            #expect(Disk.read(files.log) == log, "a replayed log stays until the fold replaces it")
            #expect(!Disk.exists(files.corruptLogPath(unixSeconds: Fixture.bootTime)))
        }
    }

    /// A log that holds nothing and extends the primary can take appends as it is.
    @Test func emptyMatchingLogNeedsNoFold() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: Fixture.generation(2), from: files.primary), log: .replayed(changes: 0), needsFold: false))
        }
    }

    /// A fold stopped after its primary rename: the old log names generation 1 and the primary
    /// (generation 2) already holds its changes. Replaying it again would differ.
    @Test func supersededLogIsNotReplayed() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            let stale = LogFixture.log(over: StateCodec.encode(Fixture.generation(1)), LogFixture.frames)
            try Disk.write(stale, at: files.log)
            #expect(ChangeLog.replay(LogFixture.frames, over: Fixture.generation(2)) != Fixture.generation(2))
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: Fixture.generation(2), from: files.primary), log: .superseded, needsFold: true))
            #expect(Disk.read(files.log) == stale)
        }
    }

    /// The primary is damaged, the backup is what the log extends: replayed over the backup.
    @Test func replayedOverARestoredBackup() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            try corruptPrimary(files)
            try Disk.write(LogFixture.log(over: StateCodec.encode(Fixture.generation(1)), LogFixture.frames), at: files.log)
            let copy = files.corruptPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(
                result: .restored(records: LogFixture.applying(LogFixture.frames, over: Fixture.generation(1)), from: files.backup,
                                  primaryReason: "checksum mismatch", corruptCopy: .kept(copy)),
                log: .replayed(changes: Self.changes), needsFold: true))
        }
    }

    /// The log extends the primary that failed validation: the backup is used as it is and the
    /// log is kept beside the invalid primary.
    @Test func logOfTheInvalidPrimaryIsOrphaned() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            try corruptPrimary(files)
            let log = Disk.read(files.log)
            let logCopy = files.corruptLogPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(
                result: .restored(records: Fixture.generation(1), from: files.backup, primaryReason: "checksum mismatch",
                                  corruptCopy: .kept(files.corruptPath(unixSeconds: Fixture.bootTime))),
                log: .orphaned(copy: .kept(logCopy)), needsFold: true))
            #expect(!Disk.exists(files.log))
            #expect(Disk.read(logCopy) == log)
        }
    }

    @Test func logOfAMissingPrimaryIsOrphaned() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            #expect(Glibc.unlink(files.primary) == 0)
            let logCopy = files.corruptLogPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(
                result: .restored(records: Fixture.generation(1), from: files.backup, primaryReason: "no such file or directory",
                                  corruptCopy: .notNeeded),
                log: .orphaned(copy: .kept(logCopy)), needsFold: true))
        }
    }

    /// A log with no state file extends nothing: a first start, the log kept.
    @Test func logWithoutStateFiles() throws {
        try Fixture.withStateDirectory { _, files in
            try Fixture.posix.makeDirectory(files.directory)
            let log = LogFixture.log(over: StateCodec.encode(Fixture.generation(2)), LogFixture.frames)
            try Disk.write(log, at: files.log)
            let copy = files.corruptLogPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(result: .fresh, log: .orphaned(copy: .kept(copy)), needsFold: true))
            #expect(Disk.read(copy) == log)
            #expect(!Disk.exists(files.log))
        }
    }

    @Test func tornTailIsDroppedAndTheLogKept() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            let torn = Array(ChangeLog.frame([.remove(id: "a1b2c3d4")]).prefix(13))
            let log = try #require(Disk.read(files.log)) + torn
            try Disk.write(log, at: files.log)
            let copy = files.corruptLogPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: LogFixture.replayedOverGeneration2, from: files.primary),
                log: .tornTail(changes: Self.changes, bytes: 13, copy: .kept(copy)), needsFold: true))
            #expect(Disk.read(copy) == log)
            #expect(!Disk.exists(files.log))
        }
    }

    @Test func damagedMiddleFrameIsRefusedTouchingNothing() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            let offsets = LogFixture.offsets(LogFixture.frames)
            var log = try #require(Disk.read(files.log))
            log[offsets[1] + 20] ^= 0x01
            try Disk.write(log, at: files.log)
            let before = LogFixture.contents(of: files.directory)
            let reason = "entry 2 at byte \(offsets[1]) is damaged and an intact entry follows at byte \(offsets[2])"
            #expect(LogFixture.load(files) == StateLoad(result: refusal(files, reason), log: .absent, needsFold: false))
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [])
        }
    }

    /// The doc comment of `loadWithChangeLog`: "A refusal found in the log touches nothing",
    /// also when the log extends the backup that replaced an invalid primary.
    @Test
    func damagedFrameOverARestoredBackupTouchesNothing() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            try corruptPrimary(files)
            var log = LogFixture.log(over: StateCodec.encode(Fixture.generation(1)), LogFixture.frames)
            let offsets = LogFixture.offsets(LogFixture.frames)
            log[offsets[0] + 3] ^= 0x80
            try Disk.write(log, at: files.log)
            let before = LogFixture.contents(of: files.directory)
            let reason = "entry 1 at byte \(offsets[0]) is damaged and an intact entry follows at byte \(offsets[1])"
            #expect(LogFixture.load(files).result == refusal(files, reason))
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [])
        }
    }

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        var name: String
        var log: [UInt8]
        var reason: String
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(name: "header CRC", log: LogFixture.rawHeader(crc: 1) + ChangeLog.frame(LogFixture.frames[0]),
                   reason: "header checksum mismatch"),
        HeaderCase(name: "a state file under the log's name", log: StateCodec.encode(Fixture.generation(2)),
                   reason: "not an OpenCtrl change log"),
        HeaderCase(name: "empty", log: [], reason: "truncated header (0 of 24 bytes)"),
        HeaderCase(name: "short header", log: Array(LogFixture.rawHeader().prefix(10)), reason: "truncated header (10 of 24 bytes)"),
        HeaderCase(name: "version 0", log: LogFixture.rawHeader(version: 0), reason: "invalid format version 0"),
        HeaderCase(name: "unknown flags", log: LogFixture.rawHeader(flags: 4), reason: "unknown flags 4"),
    ]

    /// A log header refusal comes before the state files are examined: even an invalid primary
    /// that a normal load would rename aside stays where it is.
    @Test(arguments: headerCases)
    func badHeaderIsRefusedTouchingNothing(_ c: HeaderCase) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            try corruptPrimary(files)
            try Disk.write(c.log, at: files.log)
            let before = LogFixture.contents(of: files.directory)
            #expect(LogFixture.load(files) == StateLoad(result: refusal(files, c.reason), log: .absent, needsFold: false),
                    sourceLocation: location)
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [], sourceLocation: location)
        }
    }

    @Test func unsupportedLogVersionTouchesNothing() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            try corruptPrimary(files)
            try Disk.write(LogFixture.rawHeader(version: 2) + [0xFF, 0x00], at: files.log)
            let before = LogFixture.contents(of: files.directory)
            let load = LogFixture.load(files)
            #expect(load == StateLoad(result: .unsupportedVersion(version: 2, path: files.log), log: .absent, needsFold: false))
            #expect(load.result.message == "Master.loadState: unsupported state format version 2: \(files.log)")
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [])
        }
    }

    struct ReadFault: Sendable, CustomTestStringConvertible {
        var fault: FaultyFileSystem.Fault
        var reason: String
        var testDescription: String { reason }
    }

    /// The log is read first; failing to read it is not "no log" (which would drop its changes).
    @Test(arguments: [
        ReadFault(fault: .init(call: .read, errno: EACCES, op: "open"), reason: "open failed: Permission denied"),
        ReadFault(fault: .init(call: .read, errno: EIO), reason: "read failed: Input/output error"),
        ReadFault(fault: .init(call: .read, errno: EFBIG), reason: "file too large (limit 67108864 bytes)"),
    ])
    func unreadableLogIsRefused(_ c: ReadFault) throws {
        try Fixture.withStateDirectory { root, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            let before = LogFixture.contents(of: files.directory)
            let fs = FaultyFileSystem(root: root, fault: c.fault)
            let load = StateFileLoader.loadWithChangeLog(files, using: fs, nowUnixSeconds: Fixture.bootTime)
            #expect(load == StateLoad(result: refusal(files, c.reason), log: .absent, needsFold: false))
            #expect(fs.trace == ["unlink gob/openctrl.gob.log.tmp", "read gob/openctrl.gob.log"])
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [])
        }
    }

    /// A log tmp is never trusted: removed, whatever it holds, and the log under its name used.
    @Test func staleLogTmpIsRemoved() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            try Disk.write(LogFixture.log(over: StateCodec.encode(Fixture.generation(2)), []), at: files.logTmp)
            let load = LogFixture.load(files)
            #expect(load.log == .replayed(changes: Self.changes))
            #expect(LogFixture.records(load) == LogFixture.replayedOverGeneration2)
            #expect(!Disk.exists(files.logTmp))
        }
    }

    /// When the state files themselves are refused, so is the start; the log is left alone.
    @Test func unreadableStateFilesWithALog() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: LogFixture.frames)
            try corruptPrimary(files)
            try Disk.write([1, 2, 3], at: files.backup)
            let before = LogFixture.contents(of: files.directory)
            let load = LogFixture.load(files)
            #expect(load.result == .unreadable(message: "Master.loadState: state files unreadable: \(files.primary): checksum mismatch; "
                + "\(files.backup): not an OpenCtrl state file (gob data from the Go original?)"))
            #expect(load.needsFold == false)
            #expect(LogFixture.changed(before, LogFixture.contents(of: files.directory)) == [])
        }
    }
}
