/// The last live events (CONTRACT §13.5), kept so a watcher that reconnects with
/// `Last-Event-ID` can be sent the `log` events it missed. Bounded by count (1024 as the
/// contract says) and by bytes, so long log lines cannot make it hold 64 MiB.
public struct EventRing: Sendable {
    public struct Entry: Sendable {
        public let sequence: UInt64
        public let isLog: Bool
        public let frame: [UInt8]
    }

    public let capacity: Int
    public let byteBudget: Int
    private var entries: [Entry?]
    /// Index of the oldest entry in `entries`.
    private var head = 0
    public private(set) var count = 0
    public private(set) var bytes = 0
    /// Sequence number of the newest event appended (0 before the first).
    public private(set) var lastSequence: UInt64 = 0

    public init(capacity: Int = 1024, byteBudget: Int = 4 << 20) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.byteBudget = byteBudget
        entries = Array(repeating: nil, count: capacity)
    }

    /// Sequence number of the oldest event still held (lastSequence + 1 when empty).
    public var firstSequence: UInt64 { lastSequence - UInt64(count) + 1 }

    /// Appends the next event; its sequence must be `lastSequence + 1`.
    public mutating func append(sequence: UInt64, isLog: Bool, frame: [UInt8]) {
        precondition(sequence == lastSequence + 1, "events enter the ring in order")
        if count == capacity { evictOldest() }
        entries[(head + count) % capacity] = Entry(sequence: sequence, isLog: isLog, frame: frame)
        count += 1
        bytes += frame.count
        lastSequence = sequence
        while bytes > byteBudget, count > 1 { evictOldest() }
    }

    private mutating func evictOldest() {
        bytes -= entries[head]?.frame.count ?? 0
        entries[head] = nil
        head = (head + 1) % capacity
        count -= 1
    }

    /// The plan for a watcher that last saw `lastSeen` (nil: header absent or empty; the
    /// string is the raw header value).
    public func plan(lastEventID: String?, boot: String) -> ResumePlan {
        guard let raw = lastEventID, !raw.isEmpty else { return .none }
        guard let id = EventID(parsing: raw), id.boot == boot, id.sequence <= lastSequence,
              id.sequence + 1 >= firstSequence else { return .gap }
        var sequences: [UInt64] = []
        var s = id.sequence + 1
        while s <= lastSequence {
            if let entry = self[s], entry.isLog { sequences.append(s) }
            s += 1
        }
        return .replay(sequences)
    }

    /// The entry with this sequence number, if still held.
    public subscript(sequence: UInt64) -> Entry? {
        guard count > 0, sequence >= firstSequence, sequence <= lastSequence else { return nil }
        return entries[(head + Int(sequence - firstSequence)) % capacity]
    }
}
