/// One instance with everything the master keeps about it beyond its record: the lifecycle
/// reducer's state, the counters' bases, the child process and its output splitter, the
/// timers the lifecycle asked for, and its history (which therefore outlives child restarts
/// and key rotations, and goes with the instance on DELETE).
@LoopActor
final class ManagedInstance {
    var record: InstanceRecord {
        didSet {
            encoded = nil
            registryVersion.bump()
        }
    }
    /// Whether the record is listed depends on the lifecycle (a deleted one is not).
    var lifecycle: Lifecycle {
        didSet { registryVersion.bump() }
    }
    /// The record's JSON object, encoded on first use after each change: the listing, the
    /// detail route and every event about this instance share it (CONTRACT §9.1).
    private var encoded: [UInt8]?
    private let registryVersion: RegistryVersion
    var counters: CounterSet
    var child: ChildProcess?
    var splitter = LineSplitter()
    var graceTimer: Timer?
    var restartTimer: Timer?
    var processFacts = ProcessFacts()
    let history = History()
    /// Requests waiting for the lifecycle to settle (no stop or spawn in progress).
    var settleWaiters: [CheckedContinuation<Void, Never>] = []

    init(record: InstanceRecord, version: RegistryVersion) {
        self.record = record
        registryVersion = version
        lifecycle = Lifecycle(restart: record.restart)
        counters = CounterSet(tcprx: record.tcprx, tcptx: record.tcptx, udprx: record.udprx, udptx: record.udptx)
        // Counters loaded above 2^63 − 1 (the Go original wrapped at 2^64) show saturated.
        copyCounters()
    }

    var id: String { record.id }

    var json: [UInt8] {
        if let encoded { return encoded }
        let json = record.jsonBytes
        encoded = json
        return json
    }

    /// True when no stop, spawn or removal is pending.
    var isSettled: Bool {
        switch lifecycle.phase {
        case .idle, .running: true
        case .spawning, .stopping: false
        }
    }

    /// A master log line about this instance (CONTRACT §17), also kept in its history without
    /// the timestamp and the ` [<id>]` suffix (§22.2).
    func log(_ message: String) {
        Log.info("\(message) [\(id)]")
        let (seconds, nanoseconds) = EventClock.wallTime()
        history.append(.master, text: message, seconds: seconds, nanoseconds: nanoseconds)
    }

    func applyCheckpoint(_ checkpoint: Checkpoint) {
        if let v = checkpoint.mode { record.mode = v }
        if let v = checkpoint.ping { record.ping = v }
        if let v = checkpoint.pool { record.pool = v }
        if let v = checkpoint.tcps { record.tcps = v }
        if let v = checkpoint.udps { record.udps = v }
        counters.apply(checkpoint)
        copyCounters()
    }

    func resetCounters() {
        counters.reset()
        copyCounters()
    }

    func copyCounters() {
        record.tcprx = counters.tcprx.displayed
        record.tcptx = counters.tcptx.displayed
        record.udprx = counters.udprx.displayed
        record.udptx = counters.udptx.displayed
    }

    func clearLiveMetrics() {
        record.ping = 0
        record.pool = 0
        record.tcps = 0
        record.udps = 0
    }
}
