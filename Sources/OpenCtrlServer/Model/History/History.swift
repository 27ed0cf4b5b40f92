/// Where a history entry came from (CONTRACT §22.2).
public enum HistorySource: Sendable {
    case output, master
}

/// One instance's recent history (CONTRACT §22.2): the output lines that became `log` events
/// and the master's log lines about the instance, at most `maxEntries` entries and
/// `maxTextBytes` of entry text, oldest dropped first.
///
/// Every output line lands here, so an append must cost next to nothing: the text is copied
/// into one circular byte buffer shared by all entries and the entry into a ring of fixed-size
/// records, both raw memory this object owns (an `Array` would check uniqueness and capacity on
/// every write, and a struct held by the instance would be an exclusivity-checked access per
/// line). A circular buffer never moves text, and at most 64 KiB of it stays warm in the cache.
/// Times stay raw numbers until someone asks. Both buffers start small and double on demand,
/// so a thousand quiet instances cost a thousand small histories.
public final class History {
    public static let maxEntries = 500
    public static let maxTextBytes = 64 * 1024
    /// Longer entry text is cut to this many bytes (at a character boundary) plus a marker.
    public static let maxLineBytes = 4096

    struct Entry {
        /// Position of the text in the stream of all bytes ever appended; in the buffer it is
        /// at `start` modulo the capacity.
        var start: Int
        var length: Int
        var seconds: Int64
        var nanoseconds: Int32
        var source: HistorySource
    }

    /// A ring: the oldest of `count` entries is at `head`.
    private var entries: UnsafeMutablePointer<Entry>
    private var entryCapacity = 8
    private var head = 0
    private(set) var count = 0
    /// The last `textBytes` bytes of the stream of appended bytes, byte `p` of the stream at
    /// `text[p & (textCapacity - 1)]`. The capacity is a power of two and never needs to
    /// exceed `maxTextBytes`, since old entries are dropped before a new one is stored.
    private var text: UnsafeMutablePointer<UInt8>
    private var textCapacity = 256
    private var streamEnd = 0
    private(set) var textBytes = 0
    /// Not public: the optimizer drops the per-line exclusivity check only for stored
    /// properties it sees every access to.
    private var nextSeq: UInt64 = 1

    public init() {
        entries = .allocate(capacity: entryCapacity)
        text = .allocate(capacity: textCapacity)
    }

    deinit {
        entries.deallocate()
        text.deallocate()
    }

    /// The `seq` the next entry gets; `seq` counts from 1 and never repeats.
    public var next: UInt64 { nextSeq }

    /// The oldest `seq` held, 0 when none.
    public var first: UInt64 { count == 0 ? 0 : nextSeq - UInt64(count) }

    public func append(_ source: HistorySource, line: UnsafeRawBufferPointer, seconds: Int64, nanoseconds: Int32) {
        let bytes = line.bindMemory(to: UInt8.self)
        guard bytes.count > Self.maxLineBytes else {
            append(source, bytes, UnsafeBufferPointer(start: nil, count: 0), seconds: seconds, nanoseconds: nanoseconds)
            return
        }
        let kept = LogCut.boundary(bytes, atOrBefore: Self.maxLineBytes)
        var marker = LogCut.marker(cut: bytes.count - kept)
        marker.withUTF8 {
            append(source, UnsafeBufferPointer(rebasing: bytes[..<kept]), $0, seconds: seconds, nanoseconds: nanoseconds)
        }
    }

    public func append(_ source: HistorySource, text line: String, seconds: Int64, nanoseconds: Int32) {
        var line = line
        line.withUTF8 { append(source, line: UnsafeRawBufferPointer($0), seconds: seconds, nanoseconds: nanoseconds) }
    }

    /// Appends the text `a` followed by `b` as one entry.
    private func append(
        _ source: HistorySource, _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>,
        seconds: Int64, nanoseconds: Int32
    ) {
        let length = a.count + b.count
        while count > 0, count == Self.maxEntries || textBytes + length > Self.maxTextBytes {
            textBytes -= entries[head].length
            head = slot(1)
            count -= 1
        }
        if textBytes + length > textCapacity { growText(toHold: textBytes + length) }
        store(a, at: streamEnd)
        store(b, at: streamEnd + a.count)
        if count == entryCapacity { growEntries() }
        entries[slot(count)] = Entry(start: streamEnd, length: length, seconds: seconds, nanoseconds: nanoseconds, source: source)
        streamEnd += length
        textBytes += length
        count += 1
        nextSeq += 1
    }

    /// The ring position `i` entries after the oldest (`i` at most `entryCapacity`); a compare
    /// instead of a division, since this runs for every line.
    private func slot(_ i: Int) -> Int {
        let p = head + i
        return p >= entryCapacity ? p - entryCapacity : p
    }

    /// Copies `bytes` to stream position `position`, wrapping at the end of the buffer.
    private func store(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) {
        guard let source = bytes.baseAddress else { return }
        let offset = position & (textCapacity - 1)
        let first = min(bytes.count, textCapacity - offset)
        (text + offset).update(from: source, count: first)
        if first < bytes.count { text.update(from: source + first, count: bytes.count - first) }
    }

    /// Copies `count` bytes from stream position `position` to `destination`.
    private func load(at position: Int, count: Int, into destination: UnsafeMutablePointer<UInt8>) {
        let offset = position & (textCapacity - 1)
        let first = min(count, textCapacity - offset)
        destination.update(from: text + offset, count: first)
        if first < count { (destination + first).update(from: text, count: count - first) }
    }

    private func growText(toHold bytes: Int) {
        var capacity = textCapacity
        while capacity < bytes { capacity *= 2 }
        let live = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, textBytes))
        defer { live.deallocate() }
        load(at: streamEnd - textBytes, count: textBytes, into: live)
        text.deallocate()
        text = .allocate(capacity: capacity)
        textCapacity = capacity
        store(UnsafeBufferPointer(start: live, count: textBytes), at: streamEnd - textBytes)
    }

    /// Doubles the ring (up to `maxEntries`), laid out oldest first.
    private func growEntries() {
        let capacity = min(2 * entryCapacity, Self.maxEntries)
        let grown = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
        for i in 0..<count { (grown + i).initialize(to: entries[slot(i)]) }
        entries.deallocate()
        entries = grown
        entryCapacity = capacity
        head = 0
    }

    /// The `i`-th entry held, oldest first, with its `seq`.
    func entry(_ i: Int) -> (seq: UInt64, entry: Entry) {
        (first + UInt64(i), entries[slot(i)])
    }

    /// Calls `body` with the text of `entry`, which stays valid only during the call (a copy
    /// when the entry wraps around the end of the buffer).
    func withText<R>(of entry: Entry, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let offset = entry.start & (textCapacity - 1)
        guard offset + entry.length > textCapacity else {
            return body(UnsafeBufferPointer(start: text + offset, count: entry.length))
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: entry.length) { copy in
            load(at: entry.start, count: entry.length, into: copy.baseAddress!)
            return body(UnsafeBufferPointer(copy))
        }
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
