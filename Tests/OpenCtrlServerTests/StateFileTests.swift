import Glibc
import Foundation
import Testing
@testable import OpenCtrlServer

private typealias Raw = RawState

/// The write and load procedures against a real directory (CONTRACT §21.4, §21.5).
struct StateFileTests {
    func save(_ n: Int, _ files: StateFiles, knownGood: Bool = true) throws {
        try StateFileWriter.write(StateCodec.encode(Fixture.generation(n)), to: files, primaryKnownGood: knownGood, using: Fixture.posix)
    }

    @Test func nothingOnDiskIsAFreshStart() throws {
        try Fixture.withStateDirectory { _, files in
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime) == .fresh)
            #expect(!Disk.exists(files.directory))
        }
    }

    @Test func writeThenLoad() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(1), from: files.primary))
            #expect(!Disk.exists(files.backup))
            #expect(!Disk.exists(files.tmp))
        }
    }

    @Test func createsPrivateDirectoryAndFile() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            var info = stat()
            #expect(lstat(files.directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
            #expect(lstat(files.primary, &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
    }

    @Test func backupHoldsThePreviousGeneration() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try save(2, files)
            #expect(Fixture.generationIn(files.primary) == 2)
            #expect(Fixture.generationIn(files.backup) == 1)
            try save(3, files)
            #expect(Fixture.generationIn(files.primary) == 3)
            #expect(Fixture.generationIn(files.backup) == 2)
            #expect(!Disk.exists(files.backupTmp))
        }
    }

    /// A primary this process has not validated must never become the backup.
    @Test func primaryNotKnownGoodIsNotPromoted() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try save(2, files)
            try save(3, files, knownGood: false)
            #expect(Fixture.generationIn(files.primary) == 3)
            #expect(Fixture.generationIn(files.backup) == 1)
        }
    }

    @Test func corruptPrimaryRestoresFromBackup() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try save(2, files)
            var damaged = try #require(Disk.read(files.primary))
            damaged[damaged.count / 2] ^= 0x40
            try Disk.write(damaged, at: files.primary)
            let backup = Disk.read(files.backup)

            let result = StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
            let copy = files.corruptPath(unixSeconds: Fixture.bootTime)
            #expect(result == .restored(records: Fixture.generation(1), from: files.backup,
                                        primaryReason: "checksum mismatch", corruptCopy: .kept(copy)))
            #expect(Disk.read(copy) == damaged)
            #expect(!Disk.exists(files.primary))
            #expect(Disk.read(files.backup) == backup)
            #expect(result.message == nil)

            // The caller then writes a fresh primary, not known good: the backup stays as it is.
            try save(1, files, knownGood: false)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime + 1)
                == .loaded(records: Fixture.generation(1), from: files.primary))
            #expect(Disk.read(files.backup) == backup)
        }
    }

    @Test func missingPrimaryRestoresFromBackupWithoutCorruptCopy() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try save(2, files)
            _ = Glibc.unlink(files.primary)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .restored(records: Fixture.generation(1), from: files.backup,
                             primaryReason: "no such file or directory", corruptCopy: .notNeeded))
            #expect(try directoryListing(files.directory) == ["openctrl.gob.backup"])
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var primary: [UInt8]?
        var backup: [UInt8]?
        var message: String
        var line: UInt = #line
        var testDescription: String { name }
    }

    static let good = StateCodec.encode(Fixture.generation(1))
    static let gob = Raw.hex("3fff810301010b496e7374616e63654d617001ff8200010c01ff840000")
    static let gobReason = "not an OpenCtrl state file (gob data from the Go original?)"

    static let refusals: [Refusal] = [
        Refusal(name: "both corrupt", primary: good.dropLast() + [good[good.count - 1] ^ 1], backup: Array(good.prefix(30)),
                message: "<p>: checksum mismatch; <b>: truncated file (30 of \(good.count) bytes)"),
        Refusal(name: "gob primary, no backup", primary: gob, backup: nil,
                message: "<p>: \(gobReason); <b>: no such file or directory"),
        Refusal(name: "no primary, empty backup", primary: nil, backup: [],
                message: "<p>: no such file or directory; <b>: truncated file (0 of 20 bytes)"),
        Refusal(name: "version 0 primary, gob backup", primary: Raw.file(Raw.payload([]), version: 0), backup: gob,
                message: "<p>: invalid format version 0; <b>: \(gobReason)"),
    ]

    @Test(arguments: refusals)
    func unreadableStateRefusesToStartAndTouchesNothing(_ c: Refusal) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { _, files in
            try Fixture.posix.makeDirectory(files.directory)
            if let primary = c.primary { try Disk.write(primary, at: files.primary) }
            if let backup = c.backup { try Disk.write(backup, at: files.backup) }
            let result = StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
            let message = "Master.loadState: state files unreadable: "
                + c.message.replacingOccurrences(of: "<p>", with: files.primary)
                    .replacingOccurrences(of: "<b>", with: files.backup)
            #expect(result == .unreadable(message: message), sourceLocation: location)
            #expect(result.message == message, sourceLocation: location)
            #expect(Disk.read(files.primary) == c.primary, sourceLocation: location)
            #expect(Disk.read(files.backup) == c.backup, sourceLocation: location)
            #expect(!Disk.exists(files.corruptPath(unixSeconds: Fixture.bootTime)), sourceLocation: location)
        }
    }

    @Test func unsupportedPrimaryVersionTouchesNothing() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try save(2, files)
            let newer = Raw.file([1, 2, 3], version: 2)
            try Disk.write(newer, at: files.primary)
            let backup = Disk.read(files.backup)
            let result = StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
            #expect(result == .unsupportedVersion(version: 2, path: files.primary))
            #expect(result.message == "Master.loadState: unsupported state format version 2: \(files.primary)")
            #expect(Disk.read(files.primary) == newer)
            #expect(Disk.read(files.backup) == backup)
            #expect(!Disk.exists(files.corruptPath(unixSeconds: Fixture.bootTime)))
        }
    }

    @Test func unsupportedBackupVersionBehindCorruptPrimaryTouchesNothing() throws {
        try Fixture.withStateDirectory { _, files in
            try Fixture.posix.makeDirectory(files.directory)
            try Disk.write(Self.gob, at: files.primary)
            let newer = Raw.file([], version: 7)
            try Disk.write(newer, at: files.backup)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .unsupportedVersion(version: 7, path: files.backup))
            #expect(Disk.read(files.primary) == Self.gob)
            #expect(Disk.read(files.backup) == newer)
        }
    }

    @Test func staleTemporaryFilesAreRemoved() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try Disk.write([1, 2, 3], at: files.tmp)
            try Disk.write([4, 5, 6], at: files.backupTmp)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
                == .loaded(records: Fixture.generation(1), from: files.primary))
            #expect(!Disk.exists(files.tmp))
            #expect(!Disk.exists(files.backupTmp))
        }
    }

    @Test func staleTemporaryFilesAloneAreAFreshStart() throws {
        try Fixture.withStateDirectory { _, files in
            try Fixture.posix.makeDirectory(files.directory)
            try Disk.write(Self.good, at: files.tmp)
            #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime) == .fresh)
            #expect(!Disk.exists(files.tmp))
        }
    }

    /// A stale backup tmp left by a crash between link and rename must not block the next save.
    @Test func staleBackupTmpDoesNotBlockTheLink() throws {
        try Fixture.withStateDirectory { _, files in
            try save(1, files, knownGood: false)
            try Disk.write([9, 9], at: files.backupTmp)
            try save(2, files)
            #expect(Fixture.generationIn(files.backup) == 1)
            #expect(!Disk.exists(files.backupTmp))
        }
    }
}

private func directoryListing(_ path: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path).sorted()
}
