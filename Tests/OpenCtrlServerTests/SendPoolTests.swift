import Glibc
import Testing
@testable import OpenCtrlServer

/// The send threads over real sockets: every descriptor gets the whole batch exactly once,
/// and what a socket could not take is reported, not lost or retried.
@Suite(.serialized)
struct SendPoolTests {
    /// Connected stream pairs: index 0 is written to, index 1 read from.
    final class Pairs {
        var fds: [(Int32, Int32)] = []
        init(_ count: Int, sendBuffer: Int32? = nil) {
            for _ in 0..<count {
                var pair: [Int32] = [0, 0]
                precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
                if var size = sendBuffer {
                    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                }
                fds.append((pair[0], pair[1]))
            }
        }
        deinit { for (a, b) in fds { close(a); close(b) } }
        var writers: [Int32] { fds.map(\.0) }

        /// Everything readable now on pair `i`'s reading end.
        func drain(_ i: Int) -> [UInt8] {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fds[i].1, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n <= 0 { return out }
                out += buffer[..<n]
            }
        }
    }

    let batch: [UInt8] = Array((0..<700).map { UInt8(truncatingIfNeeded: $0 &* 7) })

    @Test(arguments: [0, 1, 3])
    func everyDescriptorGetsTheWholeBatchOnce(helpers: Int) {
        let pairs = Pairs(300)
        let pool = SendPool(helpers: helpers)
        for round in 0..<5 {
            let job = SendJob(bytes: batch, descriptors: pairs.writers, chunk: FanOutPolicy.chunkSize(descriptors: 300, threads: helpers + 1))
            pool.send(job)
            for i in 0..<300 {
                #expect(job.sent(i) == batch.count, "round \(round), descriptor \(i)")
                #expect(pairs.drain(i) == batch, "round \(round), descriptor \(i)")
            }
        }
    }

    @Test func aFullSocketReportsWhatItTookAndAClosedPeerReportsNothing() {
        let pairs = Pairs(3, sendBuffer: 4096)
        // Fill pair 1 until the kernel refuses more.
        let filler = [UInt8](repeating: 1, count: 65536)
        while send(pairs.fds[1].0, filler, filler.count, Int32(MSG_DONTWAIT)) > 0 {}
        close(pairs.fds[2].1)
        pairs.fds[2].1 = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let job = SendJob(bytes: batch, descriptors: pairs.writers, chunk: 1)
        SendPool(helpers: 2).send(job)
        #expect(job.sent(0) == batch.count)
        #expect(job.sent(1) == 0)
        #expect(job.sent(2) == 0)
        #expect(pairs.drain(0) == batch)
    }

    @Test func helpersThatWakeLateFindNothingToDo() {
        // Many small jobs back to back: a helper that wakes after the loop finished a job alone
        // must not touch the next one's descriptors twice or miss any.
        let pairs = Pairs(8)
        let pool = SendPool(helpers: 3)
        for round in 0..<500 {
            let job = SendJob(bytes: [UInt8(truncatingIfNeeded: round)], descriptors: pairs.writers, chunk: 1)
            pool.send(job)
            for i in 0..<8 {
                #expect(job.sent(i) == 1, "round \(round), descriptor \(i)")
                #expect(pairs.drain(i) == [UInt8(truncatingIfNeeded: round)], "round \(round), descriptor \(i)")
            }
        }
    }
}
