import Glibc

/// Ties the loop, the HTTP server, the registry and the state store together, and owns the
/// startup and shutdown sequences (CONTRACT §4.2, §17, §18, §21.5).
@LoopActor
public final class Master {
    let config: MasterURL
    let loop: Loop
    let registry: Registry
    let store: StateStore
    let server: HTTPServer
    let startedAt: ContinuousClock.Instant
    let cpuCount: Int
    let hostMetrics = HostMetricsCache()
    let cpuSampler: CPUSampler
    let events: EventHub
    let supervisor: Supervisor
    var shuttingDown = false
    /// Requests handed to a task and not answered yet; shutdown lets them finish, as it lets
    /// the probes still running finish (`tcpingService.pending`).
    var inFlight = 0
    private var hurry = false
    /// Created by the first probe (or the shutdown asking for running ones): a master never
    /// asked to probe allocates none of it while it serves.
    var tcpingService: TCPingService {
        if let made = tcpingServiceIfMade { return made }
        let made = TCPingService(loop: loop)
        tcpingServiceIfMade = made
        return made
    }
    private(set) var tcpingServiceIfMade: TCPingService?
    /// Answered requests by route and code, counted as each answer is sent (`dispatch`).
    var httpRequests = HTTPRequestCounts()
    /// Wall-clock time of the process start, for `openctrl_start_time_seconds`.
    let startedAtUnixSeconds: Double
    /// Key rotations run one at a time.
    var rotating = false
    var rotationWaiters: [CheckedContinuation<Void, Never>] = []
    private var signals: [SignalEvent] = []
    /// What the `started:` line announces.
    var baseURL = ""
    private var notifier: ServiceNotifier?

    init(config: MasterURL, loop: Loop, registry: Registry, store: StateStore, server: HTTPServer, startedAt: ContinuousClock.Instant) {
        self.config = config
        self.loop = loop
        self.registry = registry
        self.store = store
        self.server = server
        self.startedAt = startedAt
        startedAtUnixSeconds = wallClockSeconds() - (ContinuousClock.now - startedAt).inSeconds
        cpuCount = affinityCPUCount()
        cpuSampler = CPUSampler(loop: loop)
        events = EventHub(
            loop: loop, limits: Self.eventLimits(), directWrites: !server.isTLS,
            fanOut: FanOutPolicy.resolve(allowedCPUs: cpuCount, override: getenv("OPENCTRL_TEST_FANOUT_HELPERS").map { String(cString: $0) })
        )
        supervisor = Supervisor(loop: loop, bin: config.bin, registry: registry, store: store, events: events)
        server.onRequest = { [unowned self] in self.dispatch($0) }
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signals.append(SignalEvent(loop: loop, signal: number) { [unowned self] in self.beginShutdown() })
        }
    }

    /// Runs the master on the calling thread, which becomes the loop thread. Returns the
    /// process exit code: 0 after a signal-driven shutdown, 1 after a startup error.
    public nonisolated static func run(_ config: MasterURL, startedAt: ContinuousClock.Instant) -> Int32 {
        // Before any thread or child exists: the variables leave the environment children inherit.
        let service = ServiceNotifier.takeSettings()
        signal(SIGPIPE, SIG_IGN)
        blockShutdownSignals(true)
        let loop: Loop
        do { loop = try Loop() } catch {
            StartupFailure.report("Master.new: \(error)")
            return 1
        }
        return LoopActor.assumeIsolated {
            guard let master = start(config, loop: loop, startedAt: startedAt) else { return 1 }
            master.notifyReady(service)
            blockShutdownSignals(false)
            loop.run()
            withExtendedLifetime(master) {}
            return 0
        }
    }

    private static func start(_ config: MasterURL, loop: Loop, startedAt: ContinuousClock.Instant) -> Master? {
        let tls: TLSContext?
        switch makeTLSContext(config) {
        case .success(let context): tls = context
        case .failure(let error):
            StartupFailure.report("Main.start: create core failed: Master.new: Master.newServerTLSConfig: \(error)")
            return nil
        }
        warnIfRuntimeMissing(config.bin)
        let files = StateFiles(directory: stateDirectory())
        let fs = PosixFileSystem()
        let loaded: [InstanceRecord]
        let knownGood: Bool
        let load = StateFileLoader.loadWithChangeLog(files, using: fs, nowUnixSeconds: time(nil))
        switch load.result {
        case .fresh:
            loaded = []
            knownGood = false
        case .loaded(let records, let path):
            loaded = records
            knownGood = true
            logChangeLog(load.log, files: files)
            Log.info("Master.loadState: loaded \(records.count) instances from \(path)")
        case .restored(let records, let path, let reason, let copy):
            loaded = records
            knownGood = false
            Log.info("Master.loadState: primary state invalid (\(reason)), restored from backup: \(path)")
            if case .failed(let error) = copy {
                Log.info("Master.loadState: keeping the invalid primary failed: \(error)")
            }
            logChangeLog(load.log, files: files)
            Log.info("Master.loadState: loaded \(records.count) instances from \(path)")
        case let refusal:
            StartupFailure.report(refusal.message ?? "Master.loadState: state files unreadable")
            return nil
        }
        let registry = Registry(records: loaded.map(Self.normalizedAfterBoot))
        let store = StateStore(files: files, fs: fs, loop: loop, primaryKnownGood: knownGood, foldNeeded: load.needsFold)
        store.snapshot = { [unowned registry] in registry.persisted }
        store.record = { [unowned registry] id in registry.instance(id)?.record }
        // A first start folds when it creates the key (`ensureKeyRecord`); any other start
        // whose log cannot take appends as it is (missing, replayed, superseded, or a primary
        // restored from the backup) folds before serving.
        if load.result != .fresh && (load.needsFold || !knownGood) {
            store.markChanged()
            _ = store.saveBeforeLoop()
        }
        let server: HTTPServer
        let bound: String
        do {
            let socket = try ListenSocket.open(host: config.host, port: config.port)
            server = try HTTPServer(loop: loop, limits: httpLimits(), tls: tls)
            try server.serve(socket, loop: loop)
            bound = socket.boundAddress
        } catch let error as ListenError {
            switch error {
            case .resolve(let reason): StartupFailure.report("Main.start: create core failed: Master.new: resolve host failed: \(reason)")
            case .listen(let reason): StartupFailure.report("Master.run: listen failed: \(reason)")
            }
            return nil
        } catch {
            StartupFailure.report("Master.run: listen failed: \(error)")
            return nil
        }
        let master = Master(config: config, loop: loop, registry: registry, store: store, server: server, startedAt: startedAt)
        master.baseURL = "\(config.tls == .off ? "http" : "https")://\(bound)\(config.apiBase)"
        Log.info("Master.run: open file limit: \(raiseOpenFileLimit())")
        Log.info("Master.run: started: \(master.baseURL)")
        master.ensureKeyRecord()
        master.autoStart()
        return master
    }

    /// §22.6: ready once the listener is bound and the key line is out; then the watchdog.
    private func notifyReady(_ service: ServiceNotifier.Settings) {
        guard let path = service.socket, let notifier = ServiceNotifier(socket: path) else { return }
        self.notifier = notifier
        let count = registry.instances.count
        notifier.send("READY=1\nSTATUS=serving \(baseURL), \(count) instances")
        if let interval = service.watchdogInterval { notifier.startWatchdog(loop: loop, every: interval) }
    }

    private static func logChangeLog(_ outcome: ChangeLogOutcome, files: StateFiles) {
        func kept(_ copy: CorruptCopy) -> String {
            switch copy {
            case .kept(let path): "kept as \(path)"
            case .failed(let error): "keeping it failed: \(error)"
            case .notNeeded: "nothing to keep"
            }
        }
        switch outcome {
        case .absent, .replayed(0):
            break
        case .replayed(let changes):
            Log.info("Master.loadState: replayed \(changes) changes from \(files.log)")
        case let .tornTail(changes, bytes, copy):
            Log.info("Master.loadState: replayed \(changes) changes from \(files.log); dropped its unfinished last entry "
                + "(\(bytes) bytes, never acknowledged); \(kept(copy))")
        case .superseded:
            Log.info("Master.loadState: \(files.log) extends an earlier state file whose changes \(files.primary) holds; replaced")
        case .orphaned(let copy):
            Log.info("Master.loadState: \(files.log) does not extend the state file that was loaded and was not replayed; \(kept(copy))")
        }
    }

    /// The TLS context of modes 1 and 2 (CONTRACT §3), made before any state is touched so a
    /// bad certificate fails startup cleanly (§1); nil in mode 0, which never calls OpenSSL.
    private static func makeTLSContext(_ config: MasterURL) -> Result<TLSContext?, TLSError> {
        switch config.tls {
        case .off:
            return .success(nil)
        case .selfSigned:
            do throws(TLSError) {
                return .success(try TLSContext.selfSigned())
            } catch {
                return .failure(TLSError("create self-signed config failed: \(error)"))
            }
        case .files:
            do throws(TLSError) {
                return .success(try TLSContext.files(crt: config.crt, key: config.key, reloadInterval: TLSContext.configuredReloadInterval()))
            } catch {
                return .failure(TLSError("load certificate failed: \(error)"))
            }
        }
    }

    /// Creates the API key and master ID, or repairs a malformed one (CONTRACT §4.2).
    private func ensureKeyRecord() {
        var record = registry.keyRecord
        let newKey = !Identifiers.isValidAPIKey(record.url)
        if newKey { record.url = Identifiers.apiKey() }
        let newID = !Identifiers.isValidMasterID(record.config)
        if newID { record.config = Identifiers.masterID() }
        registry.keyRecord = record
        if newKey || newID {
            store.markChanged()
            if case .failed(let error) = store.saveBeforeLoop() {
                Log.info("Master.run: save state failed: \(error)")
            }
        }
        Log.info("Master.run: API key \(newKey ? "created" : "loaded"): \(record.url)")
    }

    /// Boot auto-start (CONTRACT §11 "Our rule"): after bind, asynchronously, 100 ms apart.
    private func autoStart() {
        let ids = registry.sorted.filter { $0.id != InstanceRecord.keyRecordID && $0.restart }.map(\.id)
        guard !ids.isEmpty else { return }
        LoopActor.task {
            for (index, id) in ids.enumerated() {
                if index > 0 { await self.loop.sleep(seconds: 0.1) }
                guard !self.shuttingDown, let instance = self.registry.instance(id) else { continue }
                instance.log("Master.loadState: auto-starting instance: \(LogRedaction.url(instance.record.url))")
                self.supervisor.send(.start(byOperator: false), to: instance)
            }
        }
    }

    /// Loaded instances are stopped and carry no live metrics until a child reports again.
    private static func normalizedAfterBoot(_ record: InstanceRecord) -> InstanceRecord {
        guard record.id != InstanceRecord.keyRecordID else { return record }
        var r = record
        r.status = "stopped"
        r.ping = 0
        r.pool = 0
        r.tcps = 0
        r.udps = 0
        return r
    }

    // MARK: shutdown

    func beginShutdown() {
        if shuttingDown {
            hurry = true
            for instance in Array(registry.instances.values) {
                supervisor.send(.shutdown(hurry: true), to: instance)
            }
            return
        }
        shuttingDown = true
        notifier?.send("STOPPING=1")
        server.stopAccepting()
        cpuSampler.stop()
        LoopActor.task { await self.shutdown() }
    }

    private func shutdown() async {
        let deadline = ContinuousClock.now + .seconds(2)
        while inFlight > 0 || tcpingService.pending > 0, !hurry, ContinuousClock.now < deadline {
            await loop.sleep(seconds: 0.01)
        }
        // Grace (5 s) plus the kill and the 1 s output drain bound.
        await supervisor.shutdown(hurry: hurry, deadline: .now + .seconds(7))
        // The children's final updates went out first; `shutdown` is the last event (§13.6).
        events.shutdownAll()
        switch await store.saveNow() {
        case .saved: Log.info("Master.shutdown: state saved: \(store.files.primary)")
        case .failed(let error): Log.info("Master.shutdown: save state failed: \(error)")
        }
        // Watchers that lag get up to 2 s to take what is queued for them, `shutdown` last.
        let flushDeadline = ContinuousClock.now + .seconds(2)
        while events.endingStreams > 0, !hurry, ContinuousClock.now < flushDeadline {
            await loop.sleep(seconds: 0.01)
        }
        // Replies answered by that save (and 503s) are only queued: let them reach the sockets.
        await loop.sleep(seconds: 0)
        Log.info("Master.run: shutdown complete")
        loop.stop(after: 0.1)
    }

    // MARK: environment

    /// `<directory of the resolved executable>/gob`, or `gob` when it cannot be resolved.
    static func stateDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "gob" }
        let path = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "gob" }
        return String(path[..<slash]) + "/gob"
    }

    /// The §3 limits, with the three read deadlines shortened only when the test suite sets
    /// `OPENCTRL_TEST_HTTP_TIMEOUTS=<header>,<body>,<idle>` (seconds; documented in docs/master.md).
    private static func httpLimits() -> HTTPLimits {
        var limits = HTTPLimits()
        guard let raw = getenv("OPENCTRL_TEST_HTTP_TIMEOUTS").map({ String(cString: $0) }) else { return limits }
        let values = raw.split(separator: ",").compactMap { Double($0) }
        guard values.count == 3, values.allSatisfy({ $0 > 0 }) else { return limits }
        (limits.headerTimeoutSeconds, limits.bodyTimeoutSeconds, limits.idleTimeoutSeconds) = (values[0], values[1], values[2])
        return limits
    }

    /// The §13.5 heartbeat and no-progress intervals, shortened only when the test suite sets
    /// `OPENCTRL_TEST_SSE_TIMING=<heartbeat>,<stall>` (seconds; documented in docs/master.md).
    private static func eventLimits() -> EventHub.Limits {
        var limits = EventHub.Limits()
        guard let raw = getenv("OPENCTRL_TEST_SSE_TIMING").map({ String(cString: $0) }) else { return limits }
        let values = raw.split(separator: ",").compactMap { Double($0) }
        guard values.count == 2, values.allSatisfy({ $0 > 0 }) else { return limits }
        (limits.heartbeatSeconds, limits.stallSeconds) = (values[0], values[1])
        return limits
    }

    private static func warnIfRuntimeMissing(_ bin: String) {
        guard !bin.isEmpty, RuntimeBinary.resolve(bin) == nil else { return }
        Log.info("Master.new: runtime binary not executable: \(bin)")
    }
}
