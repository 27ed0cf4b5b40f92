/// One connected `/events` client.
@LoopActor
final class EventWatcher {
    let stream: EventStream
    var pressure = LogPressure()
    /// Position in the hub's list, nil once removed.
    var index: Int?
    /// Bytes of the initial snapshot and replay still allowed above the hard cap: a watcher
    /// is not dropped for the size of its own snapshot.
    var allowance = 0
    var lastOutput = ContinuousClock.now
    private(set) var lastProgress = ContinuousClock.now
    private var drained = 0
    private var kernelQueued = 0

    init(stream: EventStream) {
        self.stream = stream
    }

    /// Sends or queues one frame, with chunk framing when the reply is chunked.
    func send(frame: [UInt8]) {
        stream.write(stream.chunked ? EventBatch.chunk(frame) : frame)
    }

    func enqueue(_ segment: EventBatch.Segment, of batch: UnsafeRawBufferPointer) {
        let range = stream.chunked ? segment.range : segment.frameRange
        stream.enqueue(UnsafeRawBufferPointer(rebasing: batch[range]))
    }

    /// Queues the segments, skipping `log` events while the backlog is over the skip mark;
    /// adjacent admitted segments go in as one append.
    func enqueueAdmitted(_ segments: ArraySlice<EventBatch.Segment>, of batch: UnsafeRawBufferPointer) {
        guard stream.chunked else {
            for segment in segments where !segment.isLog || pressure.admitLog(pending: stream.pending) {
                enqueue(segment, of: batch)
            }
            return
        }
        var run: Range<Int>?
        for segment in segments {
            if segment.isLog, !pressure.admitLog(pending: stream.pending + (run?.count ?? 0)) {
                if let r = run { stream.enqueue(UnsafeRawBufferPointer(rebasing: batch[r])) }
                run = nil
                continue
            }
            if let r = run, r.upperBound == segment.offset {
                run = r.lowerBound..<segment.range.upperBound
            } else {
                if let r = run { stream.enqueue(UnsafeRawBufferPointer(rebasing: batch[r])) }
                run = segment.range
            }
        }
        if let r = run { stream.enqueue(UnsafeRawBufferPointer(rebasing: batch[r])) }
    }

    /// Progress means the client took bytes since the last check (the kernel's queue for it
    /// shrank, or our buffer moved into it), or nothing waits for it at all.
    func checkProgress(now: ContinuousClock.Instant) {
        guard stream.pending > 0 else {
            lastProgress = now
            return
        }
        let drainedNow = stream.drainedTotal
        let queued = stream.kernelQueued
        if drainedNow != drained || queued < kernelQueued {
            lastProgress = now
        }
        drained = drainedNow
        kernelQueued = queued
    }
}
