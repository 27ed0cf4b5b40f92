/// The event stream's fan-out (CONTRACT §13): every lifecycle, registry and log event is
/// encoded once, kept in the resume ring, and appended as the same bytes to every watcher.
///
/// Events published during one turn of the loop are gathered into one batch and written at
/// the end of the turn (or sooner when the batch grows large), so a flood of log lines costs
/// each watcher one `send` per batch. A watcher is a buffer append, never a task or a queue of
/// its own; what it cannot take yet waits in its connection's output buffer, bounded by the
/// skip and disconnect rules of §13.5 (`LogPressure`, `limits`).
@LoopActor
final class EventHub {
    struct Limits {
        var heartbeatSeconds: Double = 15
        var stallSeconds: Double = 10
        var hardCap = 1 << 20
    }

    let boot = Identifiers.eventBootID()
    let limits: Limits
    /// False on TLS, where bytes must go through the connection's bufferevent.
    let directWrites: Bool
    private var sequence: UInt64 = 0
    private var clock = EventClock()
    private var ring = EventRing()
    private var batch = EventBatch()
    private var watchers: [EventWatcher] = []
    /// Counted here, where §13.5 is applied, for `/metrics`.
    private(set) var counters = EventCounters()
    private var flushScheduled = false
    private var sweepCursor = 0
    private var flusher: Wakeup?
    private let fanOut: FanOutPolicy
    private let sendPool: SendPool
    /// The direct-path watchers of the flush in progress and their sockets, kept between
    /// flushes for their capacity.
    private var direct: [EventWatcher] = []
    private var descriptors: [Int32] = []
    private var sweeper: Timer?
    /// A batch this large is written at once instead of at the end of the turn.
    static let flushThreshold = 128 * 1024

    init(loop: Loop, limits: Limits, directWrites: Bool, fanOut: FanOutPolicy) {
        self.limits = limits
        self.directWrites = directWrites
        self.fanOut = fanOut
        sendPool = SendPool(helpers: fanOut.helpers)
        flusher = Wakeup(loop: loop) { [unowned self] in self.flush() }
        let sweeper = Timer(loop: loop) { [unowned self] in self.sweep() }
        self.sweeper = sweeper
        sweeper.schedule(after: sweepInterval)
    }

    private var sweepInterval: Double { min(1, limits.heartbeatSeconds / 2) }

    /// Open `/events` streams.
    var watcherCount: Int { watchers.count }

    /// Streams that got `shutdown` and are still flushing their last bytes.
    private(set) var endingStreams = 0

    // MARK: publishing

    /// `instance` is the record's JSON object as the registry caches it, so a `log` event per
    /// line costs no instance encoding.
    func publish(_ type: EventType, _ instance: [UInt8]?, logs: String = "") {
        var logs = logs
        logs.withUTF8 { publish(type, instance, logBytes: UnsafeRawBufferPointer($0), at: EventClock.wallTime()) }
    }

    /// A child's output line as it came (not necessarily UTF-8), at the wall-clock time its
    /// history entry also carries (one clock read per line, and the two times agree).
    func publishLog(_ instance: [UInt8], line: UnsafeRawBufferPointer, seconds: Int64, nanoseconds: Int32) {
        publish(.log, instance, logBytes: line, at: (seconds, nanoseconds))
    }

    private func publish(
        _ type: EventType, _ instance: [UInt8]?, logBytes: UnsafeRawBufferPointer, at wall: (seconds: Int64, nanoseconds: Int32)
    ) {
        sequence += 1
        let id = EventID(boot: boot, sequence: sequence)
        let time = clock.time(seconds: wall.seconds, nanoseconds: wall.nanoseconds, utcOffset: EventClock.localOffset)
        let frame = EventFrame.encode(id: id, type: type, time: time, instance: instance, logs: logBytes)
        counters.recordPublished(type)
        ring.append(sequence: sequence, isLog: type.isLog, frame: frame)
        guard !watchers.isEmpty else { return }
        batch.append(frame: frame, isLog: type.isLog)
        if batch.bytes.count >= Self.flushThreshold {
            flush()
        } else if !flushScheduled {
            flushScheduled = true
            flusher?.activate()
        }
    }

    // MARK: watchers

    /// Registers a watcher: `retry`, one `initial` per record, then the resume replay or gap
    /// notice (§13.3, §13.5). Events published before this call were already flushed to the
    /// watchers that existed then, so everything this one receives later is newer than its
    /// snapshot.
    func subscribe(_ stream: EventStream, records: [[UInt8]], lastEventID: String?) {
        flush()
        let watcher = EventWatcher(stream: stream)
        var frames = EventFrame.retry
        for record in records {
            frames += EventFrame.encode(id: nil, type: .initial, time: clock.now(), instance: record)
        }
        counters.recordPublished(.initial, count: records.count)
        switch ring.plan(lastEventID: lastEventID, boot: boot) {
        case .none:
            break
        case .gap:
            frames += EventFrame.encode(id: nil, type: .log, time: clock.now(), instance: nil, logs: LogPressure.resumeGapNotice)
        case .replay(let sequences):
            for s in sequences { if let entry = ring[s] { frames += entry.frame } }
        }
        watcher.send(frame: frames)
        stream.flushNow()
        watcher.allowance = stream.pending
        stream.onClosed = { [unowned self, unowned watcher] in self.remove(watcher) }
        watcher.index = watchers.count
        watchers.append(watcher)
    }

    private func remove(_ watcher: EventWatcher) {
        guard let index = watcher.index else { return }
        watcher.index = nil
        let last = watchers.removeLast()
        if last !== watcher {
            watchers[index] = last
            last.index = index
        }
    }

    /// Sends `shutdown` to every watcher and ends their streams (master shutdown, key
    /// rotation: CONTRACT §4.4, §13.6). A watcher that cannot take the event without passing
    /// its cap is dropped without it.
    func shutdownAll() {
        flush()
        sequence += 1
        let frame = EventFrame.encode(id: EventID(boot: boot, sequence: sequence), type: .shutdown, time: clock.now(), instance: nil)
        ring.append(sequence: sequence, isLog: false, frame: frame)
        counters.recordPublished(.shutdown)
        let all = watchers
        watchers.removeAll()
        for watcher in all {
            watcher.index = nil
            if watcher.stream.pending + frame.count > limits.hardCap + watcher.allowance {
                counters.recordDrop(.cap)
                watcher.stream.abort()
            } else {
                watcher.send(frame: frame)
                endingStreams += 1
                watcher.stream.onClosed = { [unowned self] in self.endingStreams -= 1 }
                watcher.stream.end()
            }
        }
    }

    // MARK: delivery

    /// Delivers the batch in three steps. On the loop, each watcher's queued bytes and gap
    /// notice go first and its path is chosen; then the whole batch is sent to every watcher on
    /// the direct path at once, shared with the helper threads when there are enough of them;
    /// back on the loop, whatever a socket did not take is queued by the §13.5 rules.
    private func flush() {
        flushScheduled = false
        guard !batch.isEmpty else { return }
        let now = ContinuousClock.now
        direct.removeAll(keepingCapacity: true)
        descriptors.removeAll(keepingCapacity: true)
        for watcher in watchers where watcher.stream.isOpen {
            if let fd = prepare(watcher) {
                direct.append(watcher)
                descriptors.append(fd)
            }
            watcher.lastOutput = now
        }
        if !descriptors.isEmpty {
            let shared = fanOut.sharesSends(directWatchers: descriptors.count)
            let threads = shared ? fanOut.helpers + 1 : 1
            let job = SendJob(bytes: batch.bytes, descriptors: descriptors,
                              chunk: FanOutPolicy.chunkSize(descriptors: descriptors.count, threads: threads))
            if shared { sendPool.send(job) } else { job.work() }
            for (index, watcher) in direct.enumerated() { finish(watcher, sent: job.sent(index)) }
        }
        direct.removeAll(keepingCapacity: true)
        batch.removeAll()
        dropOverCap()
    }

    /// Sends what the watcher has queued and its pending gap notice, then either returns its
    /// socket, when the batch can go straight to it, or queues the batch under §13.5.
    private func prepare(_ watcher: EventWatcher) -> Int32? {
        let stream = watcher.stream
        // A watcher that keeps up may have a little queued from the last batch: push it first,
        // so the new batch can still go straight to the socket.
        if !watcher.pressure.skipping, stream.pending > 0 { stream.flushNow() }
        if let skipped = watcher.pressure.caughtUp(pending: stream.pending) {
            watcher.send(frame: EventFrame.encode(id: nil, type: .log, time: clock.now(), instance: nil, logs: LogPressure.gapNotice(skipped: skipped)))
        }
        if !watcher.pressure.skipping, stream.chunked, let fd = stream.directDescriptor { return fd }
        countSkips(of: watcher) {
            batch.bytes.withUnsafeBytes { all in
                if watcher.pressure.skipping {
                    watcher.pressure.skip(batch.logCount)
                    for i in batch.stateSegments { watcher.enqueue(batch.segments[i], of: all) }
                } else {
                    watcher.enqueueAdmitted(batch.segments[...], of: all)
                }
            }
        }
        return nil
    }

    /// Queues what the socket did not take of the batch: the rest of the event it stopped in,
    /// then the later events under §13.5.
    private func finish(_ watcher: EventWatcher, sent: Int) {
        guard sent < batch.bytes.count else { return }
        countSkips(of: watcher) {
            batch.bytes.withUnsafeBytes { all in
                var first = 0
                while batch.segments[first].range.upperBound <= sent { first += 1 }
                if sent > batch.segments[first].offset {
                    watcher.stream.enqueue(UnsafeRawBufferPointer(rebasing: all[sent..<batch.segments[first].range.upperBound]))
                    first += 1
                }
                watcher.enqueueAdmitted(batch.segments[first...], of: all)
            }
        }
    }

    /// The pressure's own count restarts with each gap notice; the total is kept here.
    private func countSkips(of watcher: EventWatcher, _ body: () -> Void) {
        let before = watcher.pressure.skipped
        body()
        counters.recordSkippedLogs(watcher.pressure.skipped - before)
    }

    /// Disconnects watchers whose held output passed the hard cap (§13.5).
    private func dropOverCap() {
        var index = 0
        while index < watchers.count {
            let watcher = watchers[index]
            let pending = watcher.stream.pending
            if pending < limits.hardCap { watcher.allowance = 0 }
            if pending > limits.hardCap + watcher.allowance {
                disconnect(watcher, .cap, reason: "pending output over \(limits.hardCap >> 20) MiB")
            } else {
                index += 1
            }
        }
    }

    private func disconnect(_ watcher: EventWatcher, _ cause: EventCounters.DropReason, reason: String) {
        counters.recordDrop(cause)
        remove(watcher)
        watcher.stream.abort()
        Log.info("Master.handleSSE: watcher disconnected: \(reason)")
    }

    /// Heartbeats, gap notices for watchers that caught up while no event was published, and
    /// the no-progress rule. Each tick visits a tenth of the watchers, so heartbeats due at
    /// the same moment (every watcher got the same last event) spread over a second instead of
    /// stalling the loop with one write per watcher at once.
    private func sweep() {
        let now = ContinuousClock.now
        var remaining = (watchers.count + Self.sweepSlices - 1) / Self.sweepSlices
        if sweepCursor >= watchers.count { sweepCursor = 0 }
        while remaining > 0, sweepCursor < watchers.count {
            remaining -= 1
            let watcher = watchers[sweepCursor]
            let stream = watcher.stream
            watcher.checkProgress(now: now)
            if now - watcher.lastProgress > .seconds(limits.stallSeconds) {
                disconnect(watcher, .stall, reason: "no progress for \(Int(limits.stallSeconds)) s")
                continue
            }
            if let skipped = watcher.pressure.caughtUp(pending: stream.pending) {
                watcher.send(frame: EventFrame.encode(id: nil, type: .log, time: clock.now(), instance: nil, logs: LogPressure.gapNotice(skipped: skipped)))
                watcher.lastOutput = now
            }
            if now - watcher.lastOutput >= .seconds(limits.heartbeatSeconds) {
                watcher.send(frame: EventFrame.retry)
                watcher.lastOutput = now
            }
            sweepCursor += 1
        }
        sweeper?.schedule(after: sweepInterval / Double(Self.sweepSlices))
    }

    private static let sweepSlices = 10
}
