import Glibc
import Testing
@testable import OpenCtrlServer

/// Power loss at each step of the write procedure (CONTRACT §21.4), after SQLite's `test6.c`:
/// writes not yet synced may reach the disk whole, not at all, cut short, zero-filled (the size
/// was updated, the data was not), or torn into sectors of different ages; a rename whose
/// directory was not synced may show the old name or the new one. Each row leaves the directory
/// as one such crash would and asserts what the next start loads. `StateFileWriterFaultTests`
/// covers a process crash (`kill -9`), where everything written survives.
struct PowerLossTests {
    /// A complete file of generation `n` is about 9 KiB (19 sectors, 3 pages), so sector-level
    /// damage hits the middle of records, not only the trailer.
    static func records(_ n: Int) -> [InstanceRecord] {
        Fixture.generation(n) + (0..<24).map { i in
            var padding = InstanceRecord(id: "b00000" + String(i + 16, radix: 16))
            padding.alias = String(repeating: "p", count: 200) + String(n)
            return padding
        }
    }

    static func bytes(_ n: Int) -> [UInt8] { StateCodec.encode(records(n)) }

    /// The generation a file holds, nil when it is missing or does not decode.
    static func generation(in path: String) -> Int? {
        guard let bytes = Disk.read(path), let decoded = try? StateCodec.decode(bytes) else { return nil }
        return (0..<10).first { records($0) == decoded }
    }

    static let sector = 512

    /// What one name holds after the crash.
    enum Content: Equatable, Sendable, CustomStringConvertible {
        case absent
        /// Generation n, whole (it was fsynced, or the unsynced writes all happened to land).
        case whole(Int)
        /// The first `bytes` bytes of generation n: the rest was never written.
        case cut(Int, bytes: Int)
        /// The length of generation n, all zeros: the size reached the disk, the data did not.
        case zeros(Int)
        /// Odd sectors of generation n over the even sectors of generation `over`: sector
        /// writes reordered and only some landed on a reused file.
        case torn(Int, over: Int)
        /// Generation n with its last sector filled with garbage.
        case garbageSector(Int)
        /// Another name of the primary's inode (a hard link made in step 3).
        case primaryLink

        var description: String {
            switch self {
            case .absent: "absent"
            case let .whole(n): "gen \(n)"
            case let .cut(n, bytes): "gen \(n) cut at \(bytes)"
            case let .zeros(n): "zeros (gen \(n) length)"
            case let .torn(n, over): "gen \(n) torn over gen \(over)"
            case let .garbageSector(n): "gen \(n) with a garbage sector"
            case .primaryLink: "link to primary"
            }
        }

        var bytes: [UInt8]? {
            switch self {
            case .absent, .primaryLink:
                return nil
            case let .whole(n):
                return PowerLossTests.bytes(n)
            case let .cut(n, count):
                return Array(PowerLossTests.bytes(n).prefix(count))
            case let .zeros(n):
                return [UInt8](repeating: 0, count: PowerLossTests.bytes(n).count)
            case let .torn(n, over):
                let new = PowerLossTests.bytes(n), old = PowerLossTests.bytes(over)
                return new.indices.map { ($0 / PowerLossTests.sector) % 2 == 1 ? new[$0] : old[$0] }
            case let .garbageSector(n):
                var file = PowerLossTests.bytes(n)
                for i in (file.count - PowerLossTests.sector)..<file.count { file[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
                return file
            }
        }

        /// The generation this content holds as a valid file, given the primary's.
        func intact(primary: Int?) -> Int? {
            switch self {
            case let .whole(n): n
            case .primaryLink: primary
            default: nil
            }
        }
    }

    enum Outcome: Equatable, Sendable {
        case fresh
        case primary(Int)
        /// Restored from the backup; the invalid primary (if any) kept aside.
        case backup(Int)
        case refused
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var crash: String
        var primary: Content = .absent
        var backup: Content = .absent
        var tmp: Content = .absent
        var backupTmp: Content = .absent
        /// The newest generation whose write completed step 5 (its client got a 2xx).
        var acknowledged: Int?
        var expected: Outcome
        var line: UInt = #line
        var testDescription: String { crash }
    }

    /// Before each row's crash, generations 1 and 2 were written; generation 3 is being written.
    static let cases: [Case] = [
        // Step 2: the temporary file.
        Case(crash: "open: tmp created, nothing written", primary: .whole(2), backup: .whole(1),
             tmp: .cut(3, bytes: 0), acknowledged: 2, expected: .primary(2)),
        Case(crash: "write: tmp cut short", primary: .whole(2), backup: .whole(1),
             tmp: .cut(3, bytes: 3 * sector + 17), acknowledged: 2, expected: .primary(2)),
        Case(crash: "write: tmp torn over a stale tmp", primary: .whole(2), backup: .whole(1),
             tmp: .torn(3, over: 1), acknowledged: 2, expected: .primary(2)),
        Case(crash: "write: tmp zero-filled", primary: .whole(2), backup: .whole(1),
             tmp: .zeros(3), acknowledged: 2, expected: .primary(2)),
        Case(crash: "write: tmp with a garbage sector", primary: .whole(2), backup: .whole(1),
             tmp: .garbageSector(3), acknowledged: 2, expected: .primary(2)),
        Case(crash: "fsync/close: tmp complete, not renamed", primary: .whole(2), backup: .whole(1),
             tmp: .whole(3), acknowledged: 2, expected: .primary(2)),
        // Step 3: the backup rotation.
        Case(crash: "link: backup tmp linked to the primary", primary: .whole(2), backup: .whole(1),
             tmp: .whole(3), backupTmp: .primaryLink, acknowledged: 2, expected: .primary(2)),
        Case(crash: "link: stale garbage backup tmp", primary: .whole(2), backup: .whole(1),
             tmp: .whole(3), backupTmp: .garbageSector(1), acknowledged: 2, expected: .primary(2)),
        Case(crash: "rename backup: new name visible", primary: .whole(2), backup: .primaryLink,
             tmp: .whole(3), acknowledged: 2, expected: .primary(2)),
        Case(crash: "rename backup: both names visible", primary: .whole(2), backup: .primaryLink,
             tmp: .whole(3), backupTmp: .primaryLink, acknowledged: 2, expected: .primary(2)),
        // Step 4 and 5: the primary rename and the directory fsync.
        Case(crash: "rename primary: directory not synced, old name visible", primary: .whole(2),
             backup: .primaryLink, tmp: .whole(3), acknowledged: 2, expected: .primary(2)),
        Case(crash: "rename primary: directory not synced, new name visible", primary: .whole(3),
             backup: .whole(2), acknowledged: 2, expected: .primary(3)),
        Case(crash: "fsync dir: done, generation 3 acknowledged", primary: .whole(3), backup: .whole(2),
             acknowledged: 3, expected: .primary(3)),
        // The first write ever: no earlier generation exists.
        Case(crash: "first write: directory entry lost", acknowledged: nil, expected: .fresh),
        Case(crash: "first write: tmp cut short", tmp: .cut(1, bytes: sector), acknowledged: nil, expected: .fresh),
        Case(crash: "first write: tmp complete, not renamed", tmp: .whole(1), acknowledged: nil, expected: .fresh),
        Case(crash: "first write: renamed", primary: .whole(1), acknowledged: nil, expected: .primary(1)),
        // The disk lost fsynced data ("How To Corrupt An SQLite Database File"): one good file is enough.
        Case(crash: "primary zero-filled after the rename", primary: .zeros(3), backup: .whole(2),
             acknowledged: 3, expected: .backup(2)),
        Case(crash: "primary truncated to nothing", primary: .cut(3, bytes: 0), backup: .whole(2),
             acknowledged: 3, expected: .backup(2)),
        Case(crash: "primary torn", primary: .torn(3, over: 2), backup: .whole(2),
             acknowledged: 3, expected: .backup(2)),
        Case(crash: "primary with a garbage sector", primary: .garbageSector(3), backup: .whole(2),
             acknowledged: 3, expected: .backup(2)),
        Case(crash: "primary entry lost, tmp complete", backup: .whole(2), tmp: .whole(3),
             acknowledged: 2, expected: .backup(2)),
        Case(crash: "backup zero-filled", primary: .whole(3), backup: .zeros(2), acknowledged: 3, expected: .primary(3)),
        Case(crash: "backup torn", primary: .whole(3), backup: .torn(2, over: 1), acknowledged: 3, expected: .primary(3)),
        // No good file under a final name: corrupt never means empty, and a tmp is never trusted.
        Case(crash: "first write renamed, primary zero-filled", primary: .zeros(1), acknowledged: 1, expected: .refused),
        Case(crash: "primary torn, backup zero-filled", primary: .torn(3, over: 2), backup: .zeros(2),
             acknowledged: 3, expected: .refused),
        Case(crash: "primary lost, backup cut short", backup: .cut(2, bytes: 2 * sector), tmp: .whole(3),
             acknowledged: 2, expected: .refused),
        Case(crash: "primary garbage sector, backup lost", primary: .garbageSector(3), tmp: .whole(3),
             acknowledged: 3, expected: .refused),
    ]

    func lay(_ c: Case, _ files: StateFiles) throws {
        let layout = [(c.primary, files.primary), (c.backup, files.backup), (c.tmp, files.tmp), (c.backupTmp, files.backupTmp)]
        if layout.allSatisfy({ $0.0 == .absent }) { return }
        try Fixture.posix.makeDirectory(files.directory)
        // The primary first: the links point at it.
        for (content, path) in layout {
            if case .primaryLink = content {
                #expect(Glibc.link(files.primary, path) == 0)
            } else if let bytes = content.bytes {
                try Disk.write(bytes, at: path)
            }
        }
    }

    func outcome(_ result: StateLoadResult, _ files: StateFiles, primaryWasPresent: Bool) -> Outcome? {
        switch result {
        case .fresh:
            return .fresh
        case let .loaded(records, from) where from == files.primary:
            return (0..<10).first { Self.records($0) == records }.map(Outcome.primary)
        case let .restored(records, from, _, copy) where from == files.backup:
            let keptAside = copy == .kept(files.corruptPath(unixSeconds: Fixture.bootTime))
            guard keptAside == primaryWasPresent else { return nil }
            return (0..<10).first { Self.records($0) == records }.map(Outcome.backup)
        case .unreadable:
            return .refused
        default:
            return nil
        }
    }

    @Test(arguments: cases)
    func powerLossAt(_ c: Case) throws {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        try Fixture.withStateDirectory { _, files in
            try lay(c, files)
            let primaryWasPresent = Disk.exists(files.primary)
            let result = StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
            let got = outcome(result, files, primaryWasPresent: primaryWasPresent)
            #expect(got == c.expected, "\(result)", sourceLocation: location)

            // The invariants behind the expectation, from the row's own description.
            let primaryGen = c.primary.intact(primary: nil)
            let backupGen = c.backup.intact(primary: primaryGen)
            if primaryGen != nil || backupGen != nil {
                #expect(got != .refused, "refused with a good file present", sourceLocation: location)
            }
            if let acknowledged = c.acknowledged, [primaryGen, backupGen].contains(acknowledged) {
                let loaded: Int? = switch got {
                case let .primary(n), let .backup(n): n
                default: nil
                }
                #expect(loaded.map { $0 >= acknowledged } == true,
                        "generation \(acknowledged) was acknowledged and intact", sourceLocation: location)
            }
            #expect(!Disk.exists(files.tmp), "stale tmp left", sourceLocation: location)
            #expect(!Disk.exists(files.backupTmp), "stale backup tmp left", sourceLocation: location)
            try continueAfter(got, files, location)
        }
    }

    /// The master's next save after this load (a fresh primary when restored, §21.5 step 4)
    /// must succeed and never promote an invalid file to backup.
    func continueAfter(_ got: Outcome?, _ files: StateFiles, _ location: SourceLocation) throws {
        let knownGood: Bool
        switch got {
        case .primary: knownGood = true
        case .fresh, .backup: knownGood = false
        case .refused, nil: return
        }
        let backupBefore = Disk.read(files.backup)
        try StateFileWriter.write(Self.bytes(9), to: files, primaryKnownGood: knownGood, using: Fixture.posix)
        #expect(StateFileLoader.load(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime + 1)
            == .loaded(records: Self.records(9), from: files.primary), sourceLocation: location)
        if case let .primary(n) = got {
            #expect(Self.generation(in: files.backup) == n, "previous primary not rotated", sourceLocation: location)
        } else {
            #expect(Disk.read(files.backup) == backupBefore, "backup replaced by an unvalidated file", sourceLocation: location)
        }
    }
}
