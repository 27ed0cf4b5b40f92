import Foundation
@testable import OpenCtrlServer

/// Shared material for the change log tests (`ChangeLog*Tests`): a fixed three-frame history
/// whose replay was worked out by hand, a reference replay that shares no code with
/// `ChangeLog.replay`, raw frame builders for layouts the encoder never produces, and the state
/// directory every writer and loader test starts from.
enum LogFixture {
    static func instance(_ id: String, _ alias: String, tcprx: UInt64 = 0) -> InstanceRecord {
        var record = InstanceRecord(id: id)
        record.alias = alias
        record.tags = [Tag(key: "k", value: alias)]
        record.tcprx = tcprx
        return record
    }

    /// Generation 2's instance after a PATCH.
    static var patched: InstanceRecord {
        var record = Fixture.generation(2)[1]
        record.alias = "patched"
        record.tcptx = 7
        return record
    }

    /// Three group commits as the master appends them: two creates; a PATCH and a delete; a
    /// second PATCH of an instance the first frame created.
    static let frames: [[StateChange]] = [
        [.put(instance("c3", "created")), .put(instance("b2", "second"))],
        [.put(patched), .remove(id: "c3")],
        [.put(instance("b2", "second, patched", tcprx: 5))],
    ]

    /// The three frames over `Fixture.generation(2)`, by hand: the key record, the patched
    /// instance, `b2` as the third frame left it; `c3` created and deleted.
    static var replayedOverGeneration2: [InstanceRecord] {
        [Fixture.generation(2)[0], patched, instance("b2", "second, patched", tcprx: 5)]
    }

    /// A change not yet in any log: the fold under test carries it. It rewrites `b2`, which the
    /// log also puts, so replaying the old log over the folded file would undo it.
    static let pending: [StateChange] = [.put(instance("b2", "third")), .remove(id: "a1b2c3d4")]

    /// A log extending the state file `state`.
    static func log(over state: [UInt8], _ frames: [[StateChange]]) -> [UInt8] {
        ChangeLog.header(base: ChangeLogBase(stateFile: state)) + frames.flatMap { ChangeLog.frame($0) }
    }

    /// Where each frame of a log starts, then where the last one ends.
    static func offsets(_ frames: [[StateChange]]) -> [Int] {
        var at = ChangeLog.headerSize
        var out = [at]
        for frame in frames {
            at += ChangeLog.frame(frame).count
            out.append(at)
        }
        return out
    }

    static func changeCount(_ frames: [[StateChange]]) -> Int { frames.reduce(0) { $0 + $1.count } }

    /// Replay as a list edited in place and sorted by id bytes at the end: an independent model
    /// of what `ChangeLog.replay` must compute.
    static func applying(_ frames: [[StateChange]], over records: [InstanceRecord]) -> [InstanceRecord] {
        var list = records
        for change in frames.joined() {
            switch change {
            case .put(let record):
                list.removeAll { $0.id.utf8.elementsEqual(record.id.utf8) }
                list.append(record)
            case .remove(let id):
                list.removeAll { $0.id.utf8.elementsEqual(id.utf8) }
            }
        }
        return list.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// A frame around any payload, with consistent length fields and a correct CRC.
    static func rawFrame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return RawState.u32(length) + RawState.u32(~length) + payload + RawState.u32(CRC32.checksum(payload))
    }

    /// A header from its fields, with a correct CRC unless `crc` is given.
    static func rawHeader(
        version: UInt16 = 1, flags: UInt16 = 0, base: ChangeLogBase = ChangeLogBase(length: 20, crc: 0xDEAD_BEEF),
        crc: UInt32? = nil
    ) -> [UInt8] {
        let body = ChangeLog.magic + RawState.u16(version) + RawState.u16(flags) + RawState.u32(base.length) + RawState.u32(base.crc)
        return body + RawState.u32(crc ?? CRC32.checksum(body))
    }

    /// The directory as the master leaves it after its first start (fold of generation 1), a
    /// key rotation (fold of generation 2, which rotates generation 1 to the backup) and one
    /// acknowledged append per frame of `appended`.
    static func prepare(_ files: StateFiles, appending appended: [[StateChange]] = []) throws {
        try ChangeLogWriter.fold(StateCodec.encode(Fixture.generation(1)), to: files, primaryKnownGood: false, using: Fixture.posix)
        try ChangeLogWriter.fold(StateCodec.encode(Fixture.generation(2)), to: files, primaryKnownGood: true, using: Fixture.posix)
        for frame in appended {
            try ChangeLogWriter.append(ChangeLog.frame(frame), to: files, using: Fixture.posix)
        }
    }

    static func load(_ files: StateFiles) -> StateLoad {
        StateFileLoader.loadWithChangeLog(files, using: Fixture.posix, nowUnixSeconds: Fixture.bootTime)
    }

    /// The records a load yields, whichever file they came from; nil for a refusal or a fresh start.
    static func records(_ load: StateLoad) -> [InstanceRecord]? {
        switch load.result {
        case let .loaded(records, _), let .restored(records, _, _, _): records
        default: nil
        }
    }

    /// Every file in `directory` with its bytes, to compare a directory before and after a
    /// load that must touch nothing.
    static func contents(of directory: String) -> [String: [UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Dictionary(uniqueKeysWithValues: names.map { ($0, Disk.read(directory + "/" + $0) ?? []) })
    }

    /// The names whose presence or bytes differ between two `contents(of:)`, for short failure messages.
    static func changed(_ before: [String: [UInt8]], _ after: [String: [UInt8]]) -> [String] {
        Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }
}
