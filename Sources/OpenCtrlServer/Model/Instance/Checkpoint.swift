import Glibc

/// The metrics of one `CHECK_POINT` line (CONTRACT §12.5).
///
/// A nil field held digits too large for its type: the instance keeps its previous value for that
/// field while the other fields of the same checkpoint still apply.
public struct Checkpoint: Equatable, Sendable {
    public var mode: Int32?
    public var ping: Int32?
    public var pool: Int32?
    public var tcps: Int32?
    public var udps: Int32?
    public var tcprx: UInt64?
    public var tcptx: UInt64?
    public var udprx: UInt64?
    public var udptx: UInt64?

    public init(
        mode: Int32?, ping: Int32?, pool: Int32?, tcps: Int32?, udps: Int32?,
        tcprx: UInt64?, tcptx: UInt64?, udprx: UInt64?, udptx: UInt64?
    ) {
        self.mode = mode
        self.ping = ping
        self.pool = pool
        self.tcps = tcps
        self.udps = udps
        self.tcprx = tcprx
        self.tcptx = tcptx
        self.udprx = udprx
        self.udptx = udptx
    }
}

/// Recognises checkpoints and the `ERROR` marker in raw output lines.
///
/// Works on bytes because it sees every line a child prints (100,000+ per second); no `String` is
/// built for a line. Matching follows the original's regular expression with leftmost semantics:
/// every occurrence of `CHECK_POINT|MODE=` is tried in order and the first one followed by the full
/// grammar wins, so a malformed checkpoint earlier in the line does not hide a valid one after it.
/// Digit runs are greedy, so `UDPTX=12abc` reads 12 and trailing text is ignored.
public enum CheckpointParser {
    private static let head: StaticString = "CHECK_POINT|MODE="
    /// `|` is rare in ordinary log text, so `memchr` for it skips most lines in one pass.
    private static let headAnchor = 11
    private static let errorMarker: StaticString = "ERROR"

    public static func parse(_ line: UnsafeRawBufferPointer) -> Checkpoint? {
        guard let base = line.baseAddress else { return nil }
        var from = 0
        while let at = firstOccurrence(of: head, anchor: headAnchor, in: base, from: from, end: line.count) {
            var cursor = Cursor(base: base, at: at + head.utf8CodeUnitCount, end: line.count)
            if let checkpoint = cursor.checkpointFields() { return checkpoint }
            // The head cannot overlap itself, so the next candidate starts after this one.
            from = at + head.utf8CodeUnitCount
        }
        return nil
    }

    public static func parse(_ line: [UInt8]) -> Checkpoint? {
        line.withUnsafeBytes { parse($0) }
    }

    public static func parse(_ line: String) -> Checkpoint? {
        var line = line
        return line.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// The `ERROR` rule of §12.4: case-sensitive ASCII, anywhere in the line (`NO_ERRORS` counts).
    public static func containsErrorMarker(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let base = line.baseAddress else { return false }
        return firstOccurrence(of: errorMarker, anchor: 0, in: base, from: 0, end: line.count) != nil
    }

    /// Offset of the first occurrence of `needle` at or after `from`. `memmem` is a GNU extension the
    /// Glibc module does not expose, so this scans with `memchr` for the byte at `anchor` and
    /// confirms each hit with `memcmp`.
    private static func firstOccurrence(
        of needle: StaticString, anchor: Int, in base: UnsafeRawPointer, from: Int, end: Int
    ) -> Int? {
        let length = needle.utf8CodeUnitCount
        let anchorByte = Int32(needle.utf8Start[anchor])
        let lastAnchor = end - length + anchor
        var next = from + anchor
        while next <= lastAnchor {
            guard let hit = memchr(base + next, anchorByte, lastAnchor - next + 1) else { return nil }
            let hitOffset = base.distance(to: UnsafeRawPointer(hit))
            let start = hitOffset - anchor
            if memcmp(base + start, needle.utf8Start, length) == 0 { return start }
            next = hitOffset + 1
        }
        return nil
    }
}

/// A forward reader over the bytes after `CHECK_POINT|MODE=`.
private struct Cursor {
    let base: UnsafeRawPointer
    var at: Int
    let end: Int

    private enum Number {
        case value(UInt64)
        case overflow
    }

    mutating func checkpointFields() -> Checkpoint? {
        guard let mode = number(max: UInt64(Int32.max)), literal("|PING="),
              let ping = number(max: UInt64(Int32.max)), literal("ms|POOL="),
              let pool = number(max: UInt64(Int32.max)), literal("|TCPS="),
              let tcps = number(max: UInt64(Int32.max)), literal("|UDPS="),
              let udps = number(max: UInt64(Int32.max)), literal("|TCPRX="),
              let tcprx = number(max: UInt64.max), literal("|TCPTX="),
              let tcptx = number(max: UInt64.max), literal("|UDPRX="),
              let udprx = number(max: UInt64.max), literal("|UDPTX="),
              let udptx = number(max: UInt64.max)
        else { return nil }
        return Checkpoint(
            mode: Self.int32(mode), ping: Self.int32(ping), pool: Self.int32(pool),
            tcps: Self.int32(tcps), udps: Self.int32(udps),
            tcprx: Self.uint64(tcprx), tcptx: Self.uint64(tcptx),
            udprx: Self.uint64(udprx), udptx: Self.uint64(udptx))
    }

    private mutating func literal(_ text: StaticString) -> Bool {
        let length = text.utf8CodeUnitCount
        guard end - at >= length, memcmp(base + at, text.utf8Start, length) == 0 else { return false }
        at += length
        return true
    }

    /// One or more ASCII digits, all consumed even past an overflow, as the original's `\d+` does
    /// before `strconv` rejects the value. Leading zeros are fine (`007` is 7).
    private mutating func number(max: UInt64) -> Number? {
        let first = at
        var value: UInt64 = 0
        var overflowed = false
        while at < end {
            let digit = base.load(fromByteOffset: at, as: UInt8.self) &- 0x30
            guard digit < 10 else { break }
            if !overflowed {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
                overflowed = o1 || o2 || sum > max
                value = sum
            }
            at += 1
        }
        guard at > first else { return nil }
        return overflowed ? .overflow : .value(value)
    }

    private static func int32(_ n: Number) -> Int32? {
        if case .value(let v) = n { return Int32(v) }
        return nil
    }

    private static func uint64(_ n: Number) -> UInt64? {
        if case .value(let v) = n { return v }
        return nil
    }
}
