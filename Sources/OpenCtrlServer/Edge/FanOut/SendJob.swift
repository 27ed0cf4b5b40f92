import CEvent
import Glibc
import Synchronization

/// One flush's sends, as the helper threads see it: plain descriptors, the batch's bytes and
/// one result slot per descriptor. Nothing here leads back to libevent or to a loop-owned
/// object, which is what lets `SendPool` hand it to other threads.
///
/// Threads take `chunk` descriptors at a time from a shared counter, so the shards are
/// disjoint and a thread that loses its core only delays the chunk it holds.
final class SendJob: Sendable {
    let bytes: [UInt8]
    let descriptors: [Int32]
    let chunk: Int
    private let nextChunk = Atomic<Int>(0)
    /// Slot `i` is written only by the thread that claimed descriptor `i`'s chunk, and read by
    /// the loop only after `SendPool.send` returned (every helper left the job under the pool's
    /// lock, which orders their writes before the loop's reads).
    private nonisolated(unsafe) let results: UnsafeMutableBufferPointer<Int>

    init(bytes: [UInt8], descriptors: [Int32], chunk: Int) {
        precondition(chunk > 0)
        self.bytes = bytes
        self.descriptors = descriptors
        self.chunk = chunk
        results = .allocate(capacity: descriptors.count)
        results.initialize(repeating: 0)
    }

    deinit {
        results.deallocate()
    }

    /// Bytes the socket at `index` took (0 when it took none or failed: the caller queues the
    /// rest, and the connection meets the same error on its next write).
    func sent(_ index: Int) -> Int {
        results[index]
    }

    /// Claims chunks until none is left, sending the whole batch to each descriptor in them.
    func work() {
        bytes.withUnsafeBytes { batch in
            guard let base = batch.baseAddress else { return }
            while true {
                let start = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue * chunk
                guard start < descriptors.count else { return }
                for i in start..<min(start + chunk, descriptors.count) {
                    results[i] = max(0, send(descriptors[i], base, batch.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)))
                }
            }
        }
    }
}
