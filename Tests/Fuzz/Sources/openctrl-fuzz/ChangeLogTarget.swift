import OpenCtrlServer

/// (8) The change log codec beside the state file. The first byte picks a mode:
/// - 0: the rest is a whole log;
/// - 1: the rest is one frame's payload, behind a valid header and inside a frame with a
///   correct length and checksum, so the fuzzer explores the change parser;
/// - 2: the rest drives `RecordGenerator`; its records become frames of puts and removes.
///
/// Invariants: decoding never traps and every error renders; the torn tail never exceeds what
/// follows the header; an accepted log's changes, encoded again, decode to the same changes;
/// replay of generated frames equals applying their changes in order.
enum ChangeLogTarget: FuzzTarget {
    static let name = "change-log"
    static let summary = "ChangeLog.decode of raw/CRC-fixed bytes; decode(frame(x)) == x; replay order"

    static let base = ChangeLogBase(length: 20, crc: 0x1234_5678)

    static func run(_ data: [UInt8]) {
        guard let mode = data.first else { return }
        let rest = Array(data.dropFirst())
        switch mode % 3 {
        case 0: checkDecode(rest)
        case 1: checkDecode(ChangeLog.header(base: base) + wrap(payload: rest))
        default: checkGenerated(RecordGenerator.records(from: rest))
        }
    }

    static func wrap(payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return bigEndian(length) + bigEndian(~length) + payload + bigEndian(CRC32.checksum(payload))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
    }

    private static func checkDecode(_ file: [UInt8]) {
        let contents: ChangeLogContents
        do {
            contents = try ChangeLog.decode(file)
        } catch {
            require(!error.description.isEmpty, "empty description for \(error)")
            return
        }
        require(contents.tornTailBytes >= 0 && contents.tornTailBytes <= file.count - ChangeLog.headerSize,
                "torn tail of \(contents.tornTailBytes) bytes in \(show(file))")
        let again = ChangeLog.header(base: contents.base) + contents.frames.flatMap(ChangeLog.frame)
        let decoded: ChangeLogContents
        do {
            decoded = try ChangeLog.decode(again)
        } catch {
            fail("re-encoding of accepted \(show(file)) is refused: \(error)")
        }
        require(decoded.tornTailBytes == 0 && fingerprint(decoded.frames) == fingerprint(contents.frames),
                "re-encoding of \(show(file)) decodes differently")
    }

    private static func checkGenerated(_ records: [InstanceRecord]) {
        guard !records.isEmpty else { return }
        // Frame i puts records[i...] and removes records[i - 1]: later frames must win.
        var frames: [[StateChange]] = []
        for index in records.indices {
            var changes = records[index...].map { StateChange.put($0) }
            if index > 0 { changes.append(.remove(id: records[index - 1].id)) }
            frames.append(changes)
        }
        let file = ChangeLog.header(base: base) + frames.flatMap(ChangeLog.frame)
        let contents: ChangeLogContents
        do {
            contents = try ChangeLog.decode(file)
        } catch {
            fail("log of \(records.count) generated records is refused: \(error); \(show(file))")
        }
        require(fingerprint(contents.frames) == fingerprint(frames), "decode(frame(x)) != x for \(show(file))")
        let replayed = ChangeLog.replay(contents.frames, over: [])
        require(replayed.map(\.jsonBytes) == [records[records.count - 1].jsonBytes],
                "replay kept \(replayed.count) records of \(records.count) for \(show(file))")
    }

    /// Changes compare by their records' JSON bytes (escaping is injective).
    private static func fingerprint(_ frames: [[StateChange]]) -> [[[UInt8]]] {
        frames.map { frame in
            frame.map { change in
                switch change {
                case .put(let record): [1] + record.jsonBytes
                case .remove(let id): [2] + Array(id.utf8)
                }
            }
        }
    }
}
