import Testing
@testable import OpenCtrlServer

/// Power loss during an append and during a fold, after SQLite's `test6.c` and
/// `PowerLossTests`: writes not yet synced may land whole, not at all, cut short, zero-filled or
/// torn into sectors; a rename whose directory was not synced may show either name. Each case
/// lays the directory out as such a crash would and asserts that the next start loads every
/// acknowledged change, drops only the unfinished append, and never replays a log twice.
struct ChangeLogPowerLossTests {
    static let sector = 512
    static let acknowledged = Array(LogFixture.frames.prefix(2))
    static var old: [InstanceRecord] { LogFixture.applying(acknowledged, over: Fixture.generation(2)) }
    static var folded: [InstanceRecord] { LogFixture.applying(acknowledged + [LogFixture.pending], over: Fixture.generation(2)) }

    /// The append under way: about four sectors, so damage can hit its middle, not only its CRC.
    static var big: [UInt8] {
        var record = LogFixture.instance("d4", String(repeating: "long alias ", count: 170))
        record.config = String(repeating: "c", count: 300)
        return ChangeLog.frame([.put(record), .remove(id: "b2")])
    }

    static var oldLog: [UInt8] { LogFixture.log(over: StateCodec.encode(Fixture.generation(2)), acknowledged) }

    /// How the append's bytes (from `start` to the end of `log`) reached the disk.
    enum Damage: Sendable, CustomTestStringConvertible {
        case cut(at: Int)
        case zeros
        /// The sectors after the first one the append touched are zeros.
        case zeroSectors
        /// Alternate sectors landed, the others are zeros.
        case tornSectors
        case garbageLastSector

        var testDescription: String {
            switch self {
            case let .cut(at): "cut at byte \(at)"
            case .zeros: "zero-filled"
            case .zeroSectors: "later sectors zero-filled"
            case .tornSectors: "torn sectors"
            case .garbageLastSector: "garbage last sector"
            }
        }

        func apply(_ log: [UInt8], start: Int) -> [UInt8] {
            let sector = ChangeLogPowerLossTests.sector
            var out = log
            switch self {
            case let .cut(at):
                return Array(log.prefix(at))
            case .zeros:
                for i in start..<log.count { out[i] = 0 }
            case .zeroSectors:
                for i in start..<log.count where i / sector > start / sector { out[i] = 0 }
            case .tornSectors:
                for i in start..<log.count where (i / sector) % 2 == 0 { out[i] = 0 }
            case .garbageLastSector:
                for i in max(start, (log.count - 1) / sector * sector)..<log.count { out[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
            }
            return out
        }
    }

    static var appendDamage: [Damage] {
        let start = oldLog.count, end = start + big.count
        let boundaries = stride(from: (start / sector + 1) * sector, to: end, by: sector)
        let cuts = [start + 1, start + 4, start + 8, start + 11, end - 1]
            + boundaries.flatMap { [$0, $0 + sector / 2] }.filter { $0 < end }
        return cuts.map { Damage.cut(at: $0) } + [.zeros, .zeroSectors, .tornSectors, .garbageLastSector]
    }

    @Test func theAppendSpansSeveralSectors() {
        #expect(Self.big.count > 3 * Self.sector)
        #expect(Self.appendDamage.count > 12)
    }

    @Test(arguments: appendDamage)
    func powerLossDuringAnAppend(_ damage: Damage) throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: Self.acknowledged)
            let start = try #require(Disk.read(files.log)).count
            #expect(start == Self.oldLog.count)
            let damaged = damage.apply(Self.oldLog + Self.big, start: start)
            #expect(damaged != Self.oldLog + Self.big && damaged.count > start, "the damage must reach the append")
            try Disk.write(damaged, at: files.log)
            let copy = files.corruptLogPath(unixSeconds: Fixture.bootTime)
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: Self.old, from: files.primary),
                log: .tornTail(changes: LogFixture.changeCount(Self.acknowledged), bytes: damaged.count - start, copy: .kept(copy)),
                needsFold: true))
            #expect(Disk.read(copy) == damaged, "the log as found is kept")
        }
    }

    /// The append landed whole before the power went: it is read, although never acknowledged.
    @Test func appendThatLandedWhole() throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files, appending: Self.acknowledged)
            try Disk.write(Self.oldLog + Self.big, at: files.log)
            let load = LogFixture.load(files)
            #expect(load.log == .replayed(changes: LogFixture.changeCount(Self.acknowledged) + 2))
            #expect(LogFixture.records(load)?.map(\.id) == [InstanceRecord.keyRecordID, "a1b2c3d4", "d4"])
        }
    }

    /// The first append after a fold, torn: nothing acknowledged is lost, the folded file is used.
    @Test(arguments: [Damage.cut(at: 24 + 600), .zeros, .tornSectors])
    func powerLossDuringTheFirstAppendAfterAFold(_ damage: Damage) throws {
        try Fixture.withStateDirectory { _, files in
            try LogFixture.prepare(files)
            let header = ChangeLog.header(base: ChangeLogBase(stateFile: StateCodec.encode(Fixture.generation(2))))
            let damaged = damage.apply(header + Self.big, start: header.count)
            try Disk.write(damaged, at: files.log)
            #expect(LogFixture.load(files) == StateLoad(
                result: .loaded(records: Fixture.generation(2), from: files.primary),
                log: .tornTail(changes: 0, bytes: damaged.count - header.count, copy: .kept(files.corruptLogPath(unixSeconds: Fixture.bootTime))),
                needsFold: true))
        }
    }
}

/// Power loss at each step of a fold (`ChangeLogWriter.fold`): the old primary with its log, or
/// the new primary with the old log superseded, or the new primary with its empty log; never
/// the old log replayed over the new primary.
extension ChangeLogPowerLossTests {
    indirect enum Content: Sendable, CustomStringConvertible {
        case absent
        case generation(Int)
        /// The state file the fold writes.
        case snapshot
        /// Generation 2 and the two acknowledged frames.
        case oldLog
        /// The fold's empty log, based on the snapshot.
        case newLog
        /// The first fold's empty log, based on generation 1.
        case firstLog
        case cut(Content, bytes: Int)
        case zeros(Content)
        case garbageSector(Content)

        var description: String { "\(self)" }

        var bytes: [UInt8]? {
            switch self {
            case .absent: nil
            case let .generation(n): StateCodec.encode(Fixture.generation(n))
            case .snapshot: StateCodec.encode(ChangeLogPowerLossTests.folded)
            case .oldLog: ChangeLogPowerLossTests.oldLog
            case .newLog: LogFixture.log(over: StateCodec.encode(ChangeLogPowerLossTests.folded), [])
            case .firstLog: LogFixture.log(over: StateCodec.encode(Fixture.generation(1)), [])
            case let .cut(content, count): content.bytes.map { Array($0.prefix(count)) }
            case let .zeros(content): content.bytes.map { [UInt8](repeating: 0, count: $0.count) }
            case let .garbageSector(content):
                content.bytes.map { file in
                    file.indices.map { $0 >= (file.count - 1) / 512 * 512 ? UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) : file[$0] }
                }
            }
        }
    }

    enum Outcome: Sendable {
        case fresh
        /// Generation 1 alone, no log yet.
        case firstPrimary
        /// Generation 2 with the acknowledged frames replayed.
        case old
        case foldedOldLogSuperseded
        case folded
        case refused(reason: String)
    }

    struct FoldCase: Sendable, CustomTestStringConvertible {
        var crash: String
        var primary: Content = .generation(2)
        var backup: Content = .generation(1)
        var tmp: Content = .absent
        var log: Content = .oldLog
        var logTmp: Content = .absent
        var expected: Outcome
        var line: UInt = #line
        var testDescription: String { crash }
    }

    static let foldCases: [FoldCase] = [
        // The state file write (§21.4 steps 2 to 5).
        FoldCase(crash: "tmp created, nothing written", tmp: .cut(.snapshot, bytes: 0), expected: .old),
        FoldCase(crash: "tmp cut mid-sector", tmp: .cut(.snapshot, bytes: 300), expected: .old),
        FoldCase(crash: "tmp zero-filled", tmp: .zeros(.snapshot), expected: .old),
        FoldCase(crash: "tmp with a garbage sector", tmp: .garbageSector(.snapshot), expected: .old),
        FoldCase(crash: "tmp complete, not renamed", tmp: .snapshot, expected: .old),
        FoldCase(crash: "backup rotated, primary not renamed", backup: .generation(2), tmp: .snapshot, expected: .old),
        // The primary is in place; the old log names generation 2 and must not be replayed.
        FoldCase(crash: "primary renamed, new log not started", primary: .snapshot, backup: .generation(2),
                 expected: .foldedOldLogSuperseded),
        FoldCase(crash: "log tmp created, nothing written", primary: .snapshot, backup: .generation(2),
                 logTmp: .cut(.newLog, bytes: 0), expected: .foldedOldLogSuperseded),
        FoldCase(crash: "log tmp header cut", primary: .snapshot, backup: .generation(2),
                 logTmp: .cut(.newLog, bytes: 10), expected: .foldedOldLogSuperseded),
        FoldCase(crash: "log tmp zero-filled", primary: .snapshot, backup: .generation(2),
                 logTmp: .zeros(.newLog), expected: .foldedOldLogSuperseded),
        FoldCase(crash: "log tmp complete, rename lost with the unsynced directory", primary: .snapshot, backup: .generation(2),
                 logTmp: .newLog, expected: .foldedOldLogSuperseded),
        FoldCase(crash: "log renamed", primary: .snapshot, backup: .generation(2), log: .newLog, expected: .folded),
        // The first fold of a first start: no log existed before it.
        FoldCase(crash: "first fold, tmp cut", primary: .absent, backup: .absent, tmp: .cut(.generation(1), bytes: 100),
                 log: .absent, expected: .fresh),
        FoldCase(crash: "first fold, primary renamed, no log yet", primary: .generation(1), backup: .absent, log: .absent,
                 expected: .firstPrimary),
        FoldCase(crash: "first fold, log tmp complete, not renamed", primary: .generation(1), backup: .absent, log: .absent,
                 logTmp: .firstLog, expected: .firstPrimary),
        // The disk lost data it had acknowledged syncing: refuse rather than start without it.
        FoldCase(crash: "new log header zero-filled after its rename", primary: .snapshot, backup: .generation(2),
                 log: .zeros(.newLog), expected: .refused(reason: "not an OpenCtrl change log")),
        FoldCase(crash: "old log cut inside its header", log: .cut(.oldLog, bytes: 20),
                 expected: .refused(reason: "truncated header (20 of 24 bytes)")),
    ]

    func expectedLoad(_ outcome: Outcome, _ files: StateFiles) -> StateLoad {
        switch outcome {
        case .fresh:
            StateLoad(result: .fresh, log: .absent, needsFold: true)
        case .firstPrimary:
            StateLoad(result: .loaded(records: Fixture.generation(1), from: files.primary), log: .absent, needsFold: true)
        case .old:
            StateLoad(result: .loaded(records: Self.old, from: files.primary),
                      log: .replayed(changes: LogFixture.changeCount(Self.acknowledged)), needsFold: true)
        case .foldedOldLogSuperseded:
            StateLoad(result: .loaded(records: Self.folded, from: files.primary), log: .superseded, needsFold: true)
        case .folded:
            StateLoad(result: .loaded(records: Self.folded, from: files.primary), log: .replayed(changes: 0), needsFold: false)
        case let .refused(reason):
            StateLoad(result: .unreadable(message: "Master.loadState: state log unreadable: \(files.log): \(reason); "
                + "move it aside to start from \(files.primary) without the changes it holds"), log: .absent, needsFold: false)
        }
    }

    @Test(arguments: foldCases)
    func powerLossDuringAFold(_ c: FoldCase) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { _, files in
            try Fixture.posix.makeDirectory(files.directory)
            let layout = [(c.primary, files.primary), (c.backup, files.backup), (c.tmp, files.tmp),
                          (c.log, files.log), (c.logTmp, files.logTmp)]
            for (content, path) in layout {
                if let bytes = content.bytes { try Disk.write(bytes, at: path) }
            }
            let load = LogFixture.load(files)
            #expect(load == expectedLoad(c.expected, files), sourceLocation: location)
            if case .refused = c.expected { return }
            #expect(!Disk.exists(files.tmp) && !Disk.exists(files.logTmp), "stale tmp left", sourceLocation: location)

            // The master's next fold must go through and be what the following start loads.
            let next = LogFixture.applying([[.put(LogFixture.instance("e5", "after the crash"))]], over: LogFixture.records(load) ?? [])
            try ChangeLogWriter.fold(StateCodec.encode(next), to: files, primaryKnownGood: LogFixture.records(load) != nil,
                                     using: Fixture.posix)
            #expect(LogFixture.load(files) == StateLoad(result: .loaded(records: next, from: files.primary),
                                                        log: .replayed(changes: 0), needsFold: false), sourceLocation: location)
        }
    }

    /// The superseded rows would load something else if the old log were replayed again.
    @Test func doubleReplayWouldShow() {
        #expect(ChangeLog.replay(Self.acknowledged, over: Self.folded) != Self.folded)
        #expect(Self.old != Self.folded)
    }
}
