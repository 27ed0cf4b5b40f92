import Testing
@testable import OpenCtrlServer

/// The shared deadline queue behind the `/tcping` timer, with injected time.
struct DeadlineQueueTests {
    let t0 = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        t0 + .milliseconds(milliseconds)
    }

    @Test func expiresOldestFirstUpToNow() {
        var queue = DeadlineQueue<Int>()
        #expect(queue.nextDeadline == nil)
        queue.append(1, deadline: at(50))
        queue.append(2, deadline: at(50))
        queue.append(3, deadline: at(70))
        #expect(queue.nextDeadline == at(50))
        #expect(queue.expire(now: at(49)) == [])
        #expect(queue.expire(now: at(50)) == [1, 2])
        #expect(queue.nextDeadline == at(70))
        #expect(queue.count == 1)
        #expect(queue.expire(now: at(1000)) == [3])
        #expect(queue.nextDeadline == nil)
        #expect(queue.count == 0)
    }

    @Test func keepsOrderAcrossCompaction() {
        var queue = DeadlineQueue<Int>()
        for i in 0..<300 { queue.append(i, deadline: at(i)) }
        #expect(queue.expire(now: at(199)) == Array(0..<200))
        for i in 300..<310 { queue.append(i, deadline: at(i)) }
        #expect(queue.nextDeadline == at(200))
        #expect(queue.expire(now: at(400)) == Array(200..<310))
        queue.append(7, deadline: at(500))
        #expect(queue.expire(now: at(500)) == [7])
    }
}
