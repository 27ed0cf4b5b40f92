/// Deadlines of one fixed length (a probe's 50 ms before its client is watched, its 5 s budget),
/// each added at the time it starts counting. Added in time order, they expire in that order, so
/// a FIFO is already sorted: one timer for `nextDeadline` serves every probe, where a timer each
/// would cost an event, an allocation and a heap insert and removal per probe.
///
/// `ProbeSlots` queues its waiters in one (every waiter gets the same wait); the service's
/// deadlines are never removed early, and whoever expires one checks whether it still matters.
public struct DeadlineQueue<Key: Sendable>: Sendable {
    private var entries: [(key: Key, deadline: ContinuousClock.Instant)] = []
    /// Index of the oldest entry; the array is compacted once half of it is spent.
    private var head = 0

    public init() {}

    public var count: Int { entries.count - head }

    /// The oldest entry's deadline, if any.
    public var nextDeadline: ContinuousClock.Instant? {
        head < entries.count ? entries[head].deadline : nil
    }

    /// Deadlines come in order (equal durations, start times read from one clock in order); one
    /// that did not would be held back to the last one added rather than break the order.
    public mutating func append(_ key: Key, deadline: ContinuousClock.Instant) {
        let last = entries.last?.deadline ?? deadline
        entries.append((key, max(deadline, last)))
    }

    /// Removes and returns the keys whose deadline is at or before `now`, oldest first.
    public mutating func expire(now: ContinuousClock.Instant) -> [Key] {
        var expired: [Key] = []
        while head < entries.count, entries[head].deadline <= now {
            expired.append(entries[head].key)
            head += 1
        }
        compact()
        return expired
    }

    /// Removes and returns the oldest key, whatever its deadline.
    public mutating func popFirst() -> Key? {
        guard head < entries.count else { return nil }
        defer {
            head += 1
            compact()
        }
        return entries[head].key
    }

    /// Removes the oldest key matching `predicate`; false when none does.
    public mutating func remove(where predicate: (Key) -> Bool) -> Bool {
        guard let index = entries[head...].firstIndex(where: { predicate($0.key) }) else { return false }
        entries.remove(at: index)
        compact()
        return true
    }

    private mutating func compact() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
