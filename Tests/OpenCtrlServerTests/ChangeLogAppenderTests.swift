import Glibc
import Testing
@testable import OpenCtrlServer

/// The held log descriptor: appends need no open once it is held, and a log that lost its name
/// while held is never written again.
struct ChangeLogAppenderTests {
    static let frames = [
        [StateChange.put(Fixture.generation(4)[1])],
        [StateChange.remove(id: "a1b2c3d4")],
        [StateChange.put(Fixture.generation(5)[1])],
    ]

    @Test func heldAppendsOpenOnce() throws {
        try Fixture.withStateDirectory { root, files in
            let base = StateCodec.encode(Fixture.generation(3))
            try ChangeLogWriter.fold(base, to: files, primaryKnownGood: false, using: Fixture.posix)
            let fs = FaultyFileSystem(root: root)
            let appender = ChangeLogAppender()
            try appender.open(files, using: fs)
            for frame in Self.frames { try appender.append(ChangeLog.frame(frame), to: files, using: fs) }
            #expect(fs.trace == ["open gob/openctrl.gob.log"] + Array(repeating: [
                "fstat gob/openctrl.gob.log", "write gob/openctrl.gob.log", "fdatasync gob/openctrl.gob.log"], count: 3).joined())
            try appender.close(files, using: fs)
            #expect(fs.openDescriptors.isEmpty)
            let contents = try ChangeLog.decode(try #require(Disk.read(files.log)))
            #expect(contents.frames == Self.frames && contents.tornTailBytes == 0)
            #expect(contents.base == ChangeLogBase(stateFile: base))
        }
    }

    @Test(arguments: ["removed", "replaced"])
    func aLogThatLostItsNameIsNeverWrittenAgain(_ how: String) throws {
        try Fixture.withStateDirectory { _, files in
            try ChangeLogWriter.fold(StateCodec.encode(Fixture.generation(3)), to: files, primaryKnownGood: false, using: Fixture.posix)
            let appender = ChangeLogAppender()
            try appender.append(ChangeLog.frame(Self.frames[0]), to: files, using: Fixture.posix)
            let before = try #require(Disk.read(files.log))
            unlink(files.log)
            if how == "replaced" { try Disk.write(before, at: files.log) }
            let thrown = #expect(throws: SystemError.self) {
                try appender.append(ChangeLog.frame(Self.frames[1]), to: files, using: Fixture.posix)
            }
            #expect(thrown == SystemError(op: "open", path: files.log, errno: ENOENT))
            // Whatever the path names now was not written to.
            #expect(Disk.read(files.log) == (how == "replaced" ? before : nil))
            // The next append starts from the path again.
            if how == "replaced" {
                try appender.append(ChangeLog.frame(Self.frames[1]), to: files, using: Fixture.posix)
                #expect(try ChangeLog.decode(try #require(Disk.read(files.log))).frames == Array(Self.frames[0...1]))
            }
        }
    }

    @Test func aFailedAppendReleasesTheDescriptor() throws {
        try Fixture.withStateDirectory { root, files in
            try ChangeLogWriter.fold(StateCodec.encode(Fixture.generation(3)), to: files, primaryKnownGood: false, using: Fixture.posix)
            let fs = FaultyFileSystem(root: root, fault: .init(call: .fdatasync, nth: 2, errno: EIO))
            let appender = ChangeLogAppender()
            try appender.append(ChangeLog.frame(Self.frames[0]), to: files, using: fs)
            #expect(throws: SystemError(op: "fdatasync", path: files.log, errno: EIO)) {
                try appender.append(ChangeLog.frame(Self.frames[1]), to: files, using: fs)
            }
            #expect(fs.openDescriptors.isEmpty)
        }
    }
}
