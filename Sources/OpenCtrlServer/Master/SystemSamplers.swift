/// The CPU figure of `/info` from a background reading of `/proc/stat` every second, so no
/// request ever sleeps for it (CONTRACT §15 "Our rule").
@LoopActor
final class CPUSampler {
    private var previous: CPUTimes?
    private var latest: CPUTimes?
    private var timer: Timer?

    init(loop: Loop) {
        latest = ProcReader.cpuTimes()
        let timer = Timer(loop: loop) { [unowned self] in self.sample() }
        self.timer = timer
        timer.schedule(after: 1)
    }

    /// -1 during the first second or while `/proc/stat` is unreadable.
    var percent: Int {
        guard let previous, let latest else { return -1 }
        return ProcParsers.cpuPercent(previous: previous, current: latest)
    }

    private func sample() {
        let reading = ProcReader.cpuTimes()
        previous = reading == nil ? nil : latest
        latest = reading
        timer?.schedule(after: 1)
    }

    func stop() {
        timer?.cancel()
    }
}

/// Memory, network, disk and uptime figures, read from `/proc` at most every 250 ms: a
/// burst of `/info` requests costs one set of file reads, not one per request.
@LoopActor
final class HostMetricsCache {
    private var cached = HostMetrics()
    private var readAt: ContinuousClock.Instant?

    func current() -> HostMetrics {
        let now = ContinuousClock.now
        if let readAt, now - readAt < .milliseconds(250) { return cached }
        cached = ProcReader.hostMetrics()
        readAt = now
        return cached
    }
}
