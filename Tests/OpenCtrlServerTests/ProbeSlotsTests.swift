import Testing
@testable import OpenCtrlServer

/// The `/tcping` slot pool with injected time: FIFO hand-over, the 1 s wait, withdrawals.
struct ProbeSlotsTests {
    let t0 = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        t0 + .milliseconds(milliseconds)
    }

    func queued(_ admission: ProbeSlots.Admission, sourceLocation: SourceLocation = #_sourceLocation) -> ProbeSlots.Ticket? {
        guard case .queued(let ticket) = admission else {
            Issue.record("expected a queued request, got \(admission)", sourceLocation: sourceLocation)
            return nil
        }
        return ticket
    }

    @Test func grantsUpToCapacityThenQueues() {
        var slots = ProbeSlots(capacity: 3, maxWait: .seconds(1))
        #expect((0..<3).map { _ in slots.request(now: at(0)) } == [.granted, .granted, .granted])
        #expect(slots.inUse == 3)
        #expect(queued(slots.request(now: at(1))) != nil)
        #expect(slots.waiting == 1)
        #expect(slots.nextDeadline == at(1001))
    }

    @Test func releaseHandsTheSlotToTheOldestWaiter() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        #expect(slots.request(now: at(0)) == .granted)
        let first = try #require(queued(slots.request(now: at(10))))
        let second = try #require(queued(slots.request(now: at(20))))
        let third = try #require(queued(slots.request(now: at(30))))
        #expect(slots.release(now: at(100)) == .init(granted: first, expired: []))
        #expect(slots.release(now: at(200)) == .init(granted: second, expired: []))
        #expect(slots.inUse == 1)
        #expect(slots.release(now: at(300)) == .init(granted: third, expired: []))
        #expect(slots.release(now: at(400)) == .init(granted: nil, expired: []))
        #expect(slots.inUse == 0)
        #expect(slots.nextDeadline == nil)
    }

    @Test func aWaiterExpiresExactlyAfterMaxWait() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        let waiter = try #require(queued(slots.request(now: at(250))))
        #expect(slots.expire(now: at(1249)).isEmpty)
        #expect(slots.waiting == 1)
        #expect(slots.expire(now: at(1250)) == [waiter])
        #expect(slots.waiting == 0)
        #expect(slots.inUse == 1)
        #expect(slots.release(now: at(1300)) == .init(granted: nil, expired: []))
    }

    @Test func releaseSkipsWaitersThatRanOutOfTime() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        let late1 = try #require(queued(slots.request(now: at(100))))
        let late2 = try #require(queued(slots.request(now: at(200))))
        let inTime = try #require(queued(slots.request(now: at(900))))
        // The timer has not fired yet, but the two oldest are past their second.
        #expect(slots.release(now: at(1500)) == .init(granted: inTime, expired: [late1, late2]))
        #expect(slots.inUse == 1)
        #expect(slots.waiting == 0)
    }

    @Test func newcomersQueueBehindWaitersEvenWhenAskingAtTheSameTime() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        let waiter = try #require(queued(slots.request(now: at(1))))
        let handover = slots.release(now: at(2))
        #expect(handover.granted == waiter)
        #expect(queued(slots.request(now: at(2))) != nil)
    }

    @Test func withdrawnWaitersAreNeverGranted() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        let gone = try #require(queued(slots.request(now: at(10))))
        let stays = try #require(queued(slots.request(now: at(20))))
        let firstWithdrawal = slots.withdraw(gone)
        let secondWithdrawal = slots.withdraw(gone)
        #expect(firstWithdrawal)
        #expect(!secondWithdrawal)
        #expect(slots.nextDeadline == at(1020))
        #expect(slots.release(now: at(30)) == .init(granted: stays, expired: []))
        let grantedWithdrawal = slots.withdraw(stays)
        #expect(!grantedWithdrawal)
    }

    @Test func expiredWaitersCannotBeWithdrawn() throws {
        var slots = ProbeSlots(capacity: 1, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        let waiter = try #require(queued(slots.request(now: at(0))))
        #expect(slots.expire(now: at(1000)) == [waiter])
        let expiredWithdrawal = slots.withdraw(waiter)
        #expect(!expiredWithdrawal)
    }

    @Test func orderSurvivesManyWaitersAndCompaction() {
        var slots = ProbeSlots(capacity: 2, maxWait: .seconds(1))
        _ = slots.request(now: at(0))
        _ = slots.request(now: at(0))
        let tickets = (1...300).compactMap { queued(slots.request(now: at($0))) }
        var granted: [ProbeSlots.Ticket] = []
        for step in 0..<150 {
            if let next = slots.release(now: at(400 + step)).granted { granted.append(next) }
        }
        #expect(granted == Array(tickets.prefix(150)))
        #expect(slots.waiting == 150)
        #expect(slots.expire(now: at(1150)) == Array(tickets[150..<150]))
        #expect(slots.expire(now: at(1300)) == Array(tickets[150..<300]))
        #expect(slots.inUse == 2)
    }
}
