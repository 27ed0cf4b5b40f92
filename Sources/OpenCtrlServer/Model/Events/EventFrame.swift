/// Server-Sent Events frames (CONTRACT §13.2): `[id: <id>\n]event: instance\ndata: <json>\n\n`,
/// where the JSON is `{"type":…,"time":…,"instance":…,"logs":…}` on one line.
///
/// A frame is encoded once and the same bytes go to every watcher, so everything here works on
/// finished byte arrays: the instance object arrives already encoded (and cached by the caller).
public enum EventType: String, Sendable {
    case initial, create, update, delete, log, shutdown

    /// State events are never skipped for a slow watcher; `log` events may be (§13.5).
    public var isLog: Bool { self == .log }
}

public enum EventFrame {
    /// Every frame, from `id:` to the blank line, fits in this many bytes (§13.2 "Our rule").
    public static let maxBytes = 65_000

    /// The first bytes of every stream, and the heartbeat (§13.5).
    public static let retry: [UInt8] = Array("retry: 3000\n\n".utf8)

    /// A frame whose `logs` field is `logs` (raw bytes, possibly not UTF-8: invalid bytes become
    /// `\ufffd` as Go writes them). A log line that would make the frame exceed `maxBytes` is cut
    /// at a UTF-8 boundary and ends with ` [truncated <n> bytes]`, `n` counting the bytes cut.
    public static func encode(
        id: EventID?, type: EventType, time: EventTime, instance: [UInt8]?, logs: UnsafeRawBufferPointer
    ) -> [UInt8] {
        let fixed = fixedLength(id: id, type: type, time: time, instance: instance)
        let cut = LogCut(logs: logs.bindMemory(to: UInt8.self), budget: maxBytes - fixed)
        var w = JSONWriter(reservingCapacity: fixed + cut.encodedLength)
        if let id {
            w.raw("id: ")
            w.ascii(id.boot)
            w.raw(".")
            w.uint(id.sequence)
            w.raw("\n")
        }
        w.raw("event: instance\ndata: {\"type\":\"")
        w.ascii(type.rawValue)
        w.raw("\",\"time\":")
        time.write(into: &w)
        w.raw(",\"instance\":")
        if let instance { w.encoded(instance) } else { w.null() }
        w.raw(",\"logs\":")
        cut.write(into: &w)
        w.raw("}\n\n")
        return w.bytes
    }

    public static func encode(id: EventID?, type: EventType, time: EventTime, instance: [UInt8]?, logs: String = "") -> [UInt8] {
        var logs = logs
        return logs.withUTF8 { encode(id: id, type: type, time: time, instance: instance, logs: UnsafeRawBufferPointer($0)) }
    }

    private static func decimalDigits(_ n: UInt64) -> Int {
        var n = n, digits = 1
        while n >= 10 {
            n /= 10
            digits += 1
        }
        return digits
    }

    /// Bytes of the frame besides the quoted `logs` string.
    private static func fixedLength(id: EventID?, type: EventType, time: EventTime, instance: [UInt8]?) -> Int {
        let idLine = id.map { 6 + $0.boot.utf8.count + decimalDigits($0.sequence) } ?? 0
        let syntax = "event: instance\ndata: {\"type\":\"".utf8.count + "\",\"time\":".utf8.count
            + ",\"instance\":".utf8.count + ",\"logs\":".utf8.count + "}\n\n".utf8.count
        return idLine + syntax + type.rawValue.utf8.count + time.quotedCount
            + (instance?.count ?? 4)
    }
}

/// Where a log line is cut so that its quoted form, marker included, fits a byte budget.
struct LogCut {
    private let logs: UnsafeBufferPointer<UInt8>
    /// Bytes of `logs` kept; the rest is replaced by the marker.
    let kept: Int
    let encodedLength: Int

    init(logs: UnsafeBufferPointer<UInt8>, budget: Int) {
        self.logs = logs
        let whole = JSONWriter.quotedLength(utf8: logs)
        guard whole > budget else {
            kept = logs.count
            encodedLength = whole
            return
        }
        // Measured only where no valid character is split (a prefix ending inside one would turn
        // its bytes into six-byte `\ufffd`s), the quoted length grows with the prefix, and the
        // marker shrinks by at most a digit: binary search, then step forward character by
        // character while the next one still fits. Every byte costs at least one, so nothing
        // longer than the budget minus quotes and marker fits; for text that needs no escaping
        // that bound nearly is the answer, and starting just below it saves most measurements.
        let fits = { (k: Int) in Self.length(logs, keeping: k) <= budget }
        let bound = max(0, min(logs.count - 1, budget - 2 - Self.marker(cut: max(1, logs.count - budget)).utf8.count))
        var low = 0, high = bound
        let guess = Self.boundary(logs, atOrBefore: max(0, bound - 8))
        if fits(guess) { low = guess }
        while low < high {
            let mid = (low + high + 1) / 2
            if fits(Self.boundary(logs, atOrBefore: mid)) { low = mid } else { high = mid - 1 }
        }
        var keep = Self.boundary(logs, atOrBefore: low)
        while keep < logs.count - 1 {
            let next = keep + max(1, StrictUTF8.length(in: logs, at: keep))
            guard next < logs.count, fits(next) else { break }
            keep = next
        }
        while keep > 0, !fits(keep) { keep = Self.boundary(logs, atOrBefore: keep - 1) }
        kept = keep
        encodedLength = Self.length(logs, keeping: keep)
    }

    /// The largest position at or before `k` that does not split a valid character.
    static func boundary(_ logs: UnsafeBufferPointer<UInt8>, atOrBefore k: Int) -> Int {
        var p = max(0, k - 3)
        while p < k {
            let length = StrictUTF8.length(in: logs, at: p)
            if length > 1, p + length > k { return p }
            p += 1
        }
        return k
    }

    static func marker(cut: Int) -> String { " [truncated \(cut) bytes]" }

    private static func length(_ logs: UnsafeBufferPointer<UInt8>, keeping n: Int) -> Int {
        JSONWriter.quotedLength(utf8: UnsafeBufferPointer(rebasing: logs[..<n])) + marker(cut: logs.count - n).utf8.count
    }

    func write(into w: inout JSONWriter) {
        if kept == logs.count {
            w.string(utf8: logs)
        } else {
            var text = Array(logs[..<kept])
            text.append(contentsOf: Self.marker(cut: logs.count - kept).utf8)
            w.string(utf8: text)
        }
    }
}
