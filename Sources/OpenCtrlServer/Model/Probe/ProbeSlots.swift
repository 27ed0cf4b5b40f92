/// The `/tcping` concurrency cap (CONTRACT §8.10, §20): at most `capacity` probes hold a slot,
/// later requests queue in arrival order, and a request still queued `maxWait` after it arrived
/// is turned away. Time is an input, so every rule is a unit test that never sleeps; the caller
/// arms one timer for `nextDeadline` and calls `expire` when it fires.
public struct ProbeSlots: Sendable {
    /// A queued request.
    public struct Ticket: Sendable, Hashable {
        let value: UInt64
    }

    public enum Admission: Sendable, Equatable {
        case granted
        case queued(Ticket)
    }

    /// What freeing a slot did: the waiter that now holds it, and the waiters that had run out of
    /// time before it (always the oldest ones: every waiter gets the same `maxWait`).
    public struct Handover: Sendable, Equatable {
        public var granted: Ticket?
        public var expired: [Ticket]
    }

    public let capacity: Int
    public let maxWait: Duration
    public private(set) var inUse = 0
    private var waiters = DeadlineQueue<Ticket>()
    private var nextTicket: UInt64 = 0

    public init(capacity: Int, maxWait: Duration) {
        precondition(capacity > 0, "a slot pool needs at least one slot")
        self.capacity = capacity
        self.maxWait = maxWait
    }

    public var waiting: Int { waiters.count }

    /// When the oldest waiter runs out of time, if anyone waits.
    public var nextDeadline: ContinuousClock.Instant? { waiters.nextDeadline }

    /// A slot at once when one is free and nobody queues ahead, else a place in the queue.
    public mutating func request(now: ContinuousClock.Instant) -> Admission {
        if inUse < capacity && waiting == 0 {
            inUse += 1
            return .granted
        }
        nextTicket += 1
        let ticket = Ticket(value: nextTicket)
        waiters.append(ticket, deadline: now + maxWait)
        return .queued(ticket)
    }

    /// Frees a held slot. The oldest waiter still in time takes it over (the slot stays in use);
    /// waiters already past their deadline are reported, not served: they got no slot in time.
    public mutating func release(now: ContinuousClock.Instant) -> Handover {
        precondition(inUse > 0, "released a slot nobody holds")
        let expired = expire(now: now)
        guard let next = waiters.popFirst() else {
            inUse -= 1
            return Handover(granted: nil, expired: expired)
        }
        return Handover(granted: next, expired: expired)
    }

    /// Removes and returns the waiters whose deadline is at or before `now`, oldest first.
    public mutating func expire(now: ContinuousClock.Instant) -> [Ticket] {
        waiters.expire(now: now)
    }

    /// A waiter gave up (its client went away). False when it is not queued any more.
    public mutating func withdraw(_ ticket: Ticket) -> Bool {
        waiters.remove { $0 == ticket }
    }
}
