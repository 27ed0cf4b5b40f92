import OpenCtrlServer

/// (4) `CHECK_POINT` lines and the `ERROR` marker (CONTRACT §12.4, §12.5).
///
/// Invariants: the memchr/memcmp parser agrees with `ReferenceCheckpoint`, a naive restatement of
/// the grammar; the byte and `String` entry points agree; a byte that cannot belong to the
/// grammar before or after the line changes nothing; a parsed checkpoint printed back (with
/// overflowing digits for the fields that overflowed) parses to itself.
enum CheckpointTarget: FuzzTarget {
    static let name = "checkpoint"
    static let summary = "CheckpointParser vs a naive reference, reprint round trip, ERROR marker"

    static func run(_ data: [UInt8]) {
        let parsed = CheckpointParser.parse(data)
        let reference = ReferenceCheckpoint.parse(data)
        require(parsed == reference, "\(show(data)): parser \(String(describing: parsed)), reference \(String(describing: reference))")
        if let text = String(validating: data, as: UTF8.self) {
            require(CheckpointParser.parse(text) == parsed, "String overload differs for \(show(data))")
        }
        require(CheckpointParser.parse([UInt8(ascii: "z")] + data) == parsed, "prefix changes \(show(data))")
        require(CheckpointParser.parse(data + [UInt8(ascii: "z")]) == parsed, "suffix changes \(show(data))")

        let marker = data.withUnsafeBytes { CheckpointParser.containsErrorMarker($0) }
        let naive = data.count >= 5 && (0...(data.count - 5)).contains { data[$0..<($0 + 5)].elementsEqual("ERROR".utf8) }
        require(marker == naive, "containsErrorMarker(\(show(data))) = \(marker)")

        if let parsed {
            let line = reprint(parsed)
            require(CheckpointParser.parse(line) == parsed, "\(show(data)) reprinted as \(show(line)) differs")
        }
    }

    private static func reprint(_ c: Checkpoint) -> [UInt8] {
        func small(_ v: Int32?) -> String { v.map(String.init) ?? "2147483648" }
        func large(_ v: UInt64?) -> String { v.map(String.init) ?? "18446744073709551616" }
        let text = "CHECK_POINT|MODE=\(small(c.mode))|PING=\(small(c.ping))ms|POOL=\(small(c.pool))"
            + "|TCPS=\(small(c.tcps))|UDPS=\(small(c.udps))|TCPRX=\(large(c.tcprx))|TCPTX=\(large(c.tcptx))"
            + "|UDPRX=\(large(c.udprx))|UDPTX=\(large(c.udptx))"
        return Array(text.utf8)
    }
}

/// The §12.5 grammar read the slow, obvious way: try every position where the head occurs.
enum ReferenceCheckpoint {
    static func parse(_ line: [UInt8]) -> Checkpoint? {
        let head = Array("CHECK_POINT|MODE=".utf8)
        guard line.count >= head.count else { return nil }
        for start in 0...(line.count - head.count) where line[start..<(start + head.count)].elementsEqual(head) {
            var reader = Reader(line: line, at: start + head.count)
            if let checkpoint = reader.fields() { return checkpoint }
        }
        return nil
    }

    private struct Reader {
        let line: [UInt8]
        var at: Int

        mutating func fields() -> Checkpoint? {
            guard let mode = digits(), literal("|PING="), let ping = digits(), literal("ms|POOL="),
                  let pool = digits(), literal("|TCPS="), let tcps = digits(), literal("|UDPS="),
                  let udps = digits(), literal("|TCPRX="), let tcprx = digits(), literal("|TCPTX="),
                  let tcptx = digits(), literal("|UDPRX="), let udprx = digits(), literal("|UDPTX="),
                  let udptx = digits()
            else { return nil }
            return Checkpoint(
                mode: Int32(mode), ping: Int32(ping), pool: Int32(pool), tcps: Int32(tcps), udps: Int32(udps),
                tcprx: UInt64(tcprx), tcptx: UInt64(tcptx), udprx: UInt64(udprx), udptx: UInt64(udptx))
        }

        mutating func literal(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard line.count - at >= bytes.count, line[at..<(at + bytes.count)].elementsEqual(bytes) else { return false }
            at += bytes.count
            return true
        }

        /// The digit run as text; `Int32(_:)`/`UInt64(_:)` then give nil on overflow.
        mutating func digits() -> String? {
            let start = at
            while at < line.count, line[at] >= UInt8(ascii: "0"), line[at] <= UInt8(ascii: "9") { at += 1 }
            return at > start ? String(decoding: line[start..<at], as: UTF8.self) : nil
        }
    }
}
