/// Where a history entry came from (CONTRACT §22.2).
public enum HistorySource: Sendable {
    case output, master
}

/// One instance's recent history (CONTRACT §22.2): the output lines that became `log` events
/// and the master's log lines about the instance, at most `maxEntries` entries and
/// `maxTextBytes` of entry text, oldest dropped first.
///
/// Every output line lands here, so an append is two copies into storage that is already
/// there: the text goes into one byte buffer shared by all entries and the entry itself into a
/// ring of small fixed-size records. Nothing is allocated per line, and time is kept as raw
/// numbers and formatted only when someone asks. Both stores start small and grow on demand,
/// so a thousand quiet instances cost a thousand small histories.
public struct History: Sendable {
    public static let maxEntries = 500
    public static let maxTextBytes = 64 * 1024
    /// Longer entry text is cut to this many bytes (at a character boundary) plus a marker.
    public static let maxLineBytes = 4096
    /// The byte buffer is compacted when an append would take it past this size; twice the
    /// live bound means each compaction moves at most as many bytes as were appended since the
    /// previous one.
    static let compactionBytes = 2 * maxTextBytes

    struct Entry {
        /// Position of the text in the stream of all bytes ever appended (see `base`).
        var start: Int
        var length: Int
        var seconds: Int64
        var nanoseconds: Int32
        var source: HistorySource
    }

    /// A ring once full: the oldest entry is at `head`.
    private var entries: [Entry] = []
    private var head = 0
    private(set) var count = 0
    /// Entry text, oldest first; `text[i]` is byte `base + i` of the stream of appended bytes.
    private var text: [UInt8] = []
    private var base = 0
    private(set) var textBytes = 0
    /// The `seq` the next entry gets; `seq` counts from 1 and never repeats.
    public private(set) var next: UInt64 = 1

    public init() {}

    /// The oldest `seq` held, 0 when none.
    public var first: UInt64 { count == 0 ? 0 : next - UInt64(count) }

    public mutating func append(
        _ source: HistorySource, line: UnsafeRawBufferPointer, seconds: Int64, nanoseconds: Int32
    ) {
        let bytes = line.bindMemory(to: UInt8.self)
        guard bytes.count > Self.maxLineBytes else {
            append(source, pieces: bytes, UnsafeBufferPointer(start: nil, count: 0), seconds: seconds, nanoseconds: nanoseconds)
            return
        }
        let kept = LogCut.boundary(bytes, atOrBefore: Self.maxLineBytes)
        var marker = LogCut.marker(cut: bytes.count - kept)
        marker.withUTF8 {
            append(source, pieces: UnsafeBufferPointer(rebasing: bytes[..<kept]), $0, seconds: seconds, nanoseconds: nanoseconds)
        }
    }

    public mutating func append(_ source: HistorySource, text line: String, seconds: Int64, nanoseconds: Int32) {
        var line = line
        line.withUTF8 { append(source, line: UnsafeRawBufferPointer($0), seconds: seconds, nanoseconds: nanoseconds) }
    }

    private mutating func append(
        _ source: HistorySource, pieces a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>,
        seconds: Int64, nanoseconds: Int32
    ) {
        let length = a.count + b.count
        while count > 0, count == Self.maxEntries || textBytes + length > Self.maxTextBytes {
            dropOldest()
        }
        if text.count + length > Self.compactionBytes { compact() }
        let entry = Entry(start: base + text.count, length: length, seconds: seconds, nanoseconds: nanoseconds, source: source)
        text.append(contentsOf: a)
        text.append(contentsOf: b)
        textBytes += length
        if count < entries.count {
            entries[slot(count)] = entry
        } else {
            // Full but still below the bound: lay the ring out oldest first and let it grow.
            if head != 0 {
                entries = Array(entries[head...] + entries[..<head])
                head = 0
            }
            entries.append(entry)
        }
        count += 1
        next += 1
    }

    private mutating func dropOldest() {
        textBytes -= entries[head].length
        head = slot(1)
        count -= 1
    }

    /// The ring position `i` entries after the oldest (`i` at most `entries.count`); a compare
    /// instead of a division, since this runs for every line.
    private func slot(_ i: Int) -> Int {
        let p = head + i
        return p >= entries.count ? p - entries.count : p
    }

    /// Moves the live text to the front of the buffer.
    private mutating func compact() {
        let live = count == 0 ? base + text.count : entries[head].start
        text.removeSubrange(0..<(live - base))
        base = live
    }

    /// The `i`-th entry held, oldest first, with its `seq`.
    func entry(_ i: Int) -> (seq: UInt64, entry: Entry) {
        (first + UInt64(i), entries[slot(i)])
    }

    /// Calls `body` with the text of `entry`, which stays valid only during the call.
    func withText<R>(of entry: Entry, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        text.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[(entry.start - base)..<(entry.start - base + entry.length)])) }
    }

    /// Positions (oldest first, from 0) of the entries a query selects: the newest `tail`, or
    /// with `after` the oldest `tail` whose `seq` is larger.
    func selection(tail: Int, after: UInt64?) -> Range<Int> {
        guard let after else { return max(0, count - tail)..<count }
        let start: Int
        if count == 0 || after >= next - 1 {
            start = count
        } else if after < first {
            start = 0
        } else {
            start = Int(after - first) + 1
        }
        return start..<min(count, start + tail)
    }
}
