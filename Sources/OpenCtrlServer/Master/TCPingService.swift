/// What all probes share: the slot pool, one timer for every deadline they wait on, the resolver,
/// the service names.
///
/// A probe whose answer is known within the request callback (a malformed target, a literal
/// address that connects or is refused at once, as the local host always is) is answered there
/// and leaves nothing behind. Only a probe that has to wait (for a slot, a lookup, a handshake)
/// becomes a `TCPingProbe`, kept in `live` until it answers.
@LoopActor
final class TCPingService {
    static let slotCount = 256
    static let slotWait: Duration = .seconds(1)
    /// How long a probe runs before its client is watched for a disconnect.
    static let watchGrace: Duration = .milliseconds(50)

    let loop: Loop
    /// Made for the first name: a master that only probes literal addresses never has one.
    private(set) lazy var resolver = DNSResolver(loop: loop)
    /// Read once, when the first probe arrives, as Go reads it once.
    private(set) lazy var services: ServicePorts = Self.loadServices()
    fileprivate lazy var closer = DeferredClose(loop: loop)
    private var slots = ProbeSlots(capacity: slotCount, maxWait: slotWait)
    private var waiting: [ProbeSlots.Ticket: TCPingProbe] = [:]
    /// Every probe that waits for something; nothing else holds them.
    private var live: [UInt64: TCPingProbe] = [:]
    private var lastID: UInt64 = 0
    /// Probes whose client is watched once their grace has passed.
    private var graceEnds = DeadlineQueue<UInt64>()
    /// Probes whose lookup fails when the 5 s budget is spent.
    private var budgetEnds = DeadlineQueue<UInt64>()
    private var timer: Timer?
    private var armedFor: ContinuousClock.Instant?
    /// Waiters handed a slot, started in order by the outermost `startGranted`, so a probe that
    /// ends at once (a refused loopback connect) does not start the next one inside its own call.
    private var granted: [TCPingProbe] = []
    private var startingGranted = false
    /// Every answer by result, for `/metrics`.
    private(set) var answers = TCPingCounts()

    init(loop: Loop) {
        self.loop = loop
    }

    /// Probes that have not answered yet (the shutdown waits for them).
    var pending: Int { live.count }

    func probe(_ target: [UInt8], for request: Request) {
        let parsed: TCPingTarget
        do throws(TCPingTargetError) {
            parsed = try TCPingTarget.parse(target, services: services)
        } catch {
            // Go's dialer rejects it before any lookup: no socket, so no slot either (the
            // original, whose dial parses the target, would queue it).
            settle(.failed(target: target, error: error.message), for: request, probe: nil, heldSlot: false)
            return
        }
        let now = ContinuousClock.now
        switch slots.request(now: now) {
        case .granted:
            dial(target, parsed, for: request, probe: nil, slotAt: now)
        case .queued(let ticket):
            let probe = adopt(target, parsed, request, at: now)
            probe.queued(ticket)
            waiting[ticket] = probe
            arm()
        }
    }

    /// Holds a slot from `now`: latency and the whole 5 s budget, lookup included, count from
    /// here. A literal address is tried at once; a probe object is made only to wait.
    fileprivate func dial(_ target: [UInt8], _ parsed: TCPingTarget, for request: Request, probe existing: TCPingProbe?, slotAt now: ContinuousClock.Instant) {
        let deadline = now + DialBudget.overall
        let address: DialAddress
        switch parsed.host {
        case .unspecified:
            address = .unspecified(port: parsed.port)
        case .ip(let ip):
            address = DialAddress(ip: ip, port: parsed.port)
        case .name(let name):
            // Go answers a name that is not DNS syntax without asking any server.
            guard GoNetAddr.isDomainName(name) else {
                let error = DialErrors.lookup(host: name, server: nil, .noSuchHost)
                answer(.failed(target: target, error: error), for: request, probe: existing)
                return
            }
            let probe = existing ?? adopt(target, parsed, request, at: now)
            probe.resolve(name, slotAt: now, deadline: deadline)
            budgetEnds.append(probe.id, deadline: deadline)
            arm()
            return
        }
        switch TCPConnector.attempt(address, closer: closer) {
        case .done(let outcome):
            answer(Self.result(target, outcome, since: now), for: request, probe: existing)
        case .inProgress(let socket):
            let probe = existing ?? adopt(target, parsed, request, at: now)
            probe.connect(continuing: socket, to: address, slotAt: now, deadline: deadline)
        }
    }

    fileprivate static func result(_ target: [UInt8], _ outcome: ConnectOutcome, since slotAcquired: ContinuousClock.Instant) -> TCPingResult {
        switch outcome {
        case .connected: .connected(target: target, after: ContinuousClock.now - slotAcquired)
        case .failed(let error): .failed(target: target, error: error)
        }
    }

    /// The answer of a probe holding a slot, through its object when it has one.
    private func answer(_ result: TCPingResult, for request: Request, probe: TCPingProbe?) {
        if let probe {
            probe.answer(result)
        } else {
            settle(result, for: request, probe: nil, heldSlot: true)
        }
    }

    private func adopt(_ target: [UInt8], _ parsed: TCPingTarget, _ request: Request, at now: ContinuousClock.Instant) -> TCPingProbe {
        lastID += 1
        let probe = TCPingProbe(id: lastID, service: self, target: target, parsed: parsed, request: request)
        live[probe.id] = probe
        // Watching the client costs a few syscalls on its socket; a probe that answers within
        // the grace period (any nearby port) never pays them.
        graceEnds.append(probe.id, deadline: now + Self.watchGrace)
        arm()
        return probe
    }

    fileprivate func withdraw(_ ticket: ProbeSlots.Ticket) {
        if slots.withdraw(ticket) { waiting[ticket] = nil }
        arm()
    }

    /// Exactly once per request: reply, then give the slot to the next waiter.
    fileprivate func settle(_ result: TCPingResult, for request: Request, probe: TCPingProbe?, heldSlot: Bool) {
        answers.count(result)
        request.respond(HTTPConventions.json(status: 200, body: result.json))
        if let probe { live[probe.id] = nil }
        guard heldSlot else { return }
        let handover = slots.release(now: .now)
        for ticket in handover.expired { waiting.removeValue(forKey: ticket)?.noSlot() }
        if let ticket = handover.granted, let next = waiting.removeValue(forKey: ticket) { granted.append(next) }
        arm()
        startGranted()
    }

    private func startGranted() {
        guard !startingGranted else { return }
        startingGranted = true
        while !granted.isEmpty { granted.removeFirst().slotGranted(at: .now) }
        startingGranted = false
    }

    private func deadlinesPassed() {
        armedFor = nil
        let now = ContinuousClock.now
        for ticket in slots.expire(now: now) { waiting.removeValue(forKey: ticket)?.noSlot() }
        for id in graceEnds.expire(now: now) { live[id]?.watchClient() }
        for id in budgetEnds.expire(now: now) { live[id]?.budgetSpent() }
        arm()
    }

    /// One timer for the earliest deadline of all three kinds: each kind has one length (1 s in
    /// the queue, 50 ms of grace, the 5 s budget), so its oldest entry always runs out first.
    private func arm() {
        guard let deadline = earliest(slots.nextDeadline, earliest(graceEnds.nextDeadline, budgetEnds.nextDeadline)) else {
            if armedFor != nil {
                timer?.cancel()
                armedFor = nil
            }
            return
        }
        guard deadline != armedFor else { return }
        let timer = timer ?? Timer(loop: loop) { [unowned self] in self.deadlinesPassed() }
        self.timer = timer
        armedFor = deadline
        timer.schedule(after: seconds(deadline - .now))
    }

    /// `/etc/services` on top of Go's built-in names; the built-in names alone when unreadable.
    private static func loadServices() -> ServicePorts {
        guard let text = try? PosixFileSystem().readFile("/etc/services", limit: 1 << 20) else { return .builtIn }
        return .parse(etcServices: text)
    }
}

/// One `/tcping` request that has to wait: for a slot, a lookup or a handshake.
@LoopActor
final class TCPingProbe {
    private enum Stage {
        case arrived
        case waiting(ProbeSlots.Ticket)
        case resolving(DNSLookup, name: [UInt8])
        case connecting(TCPConnector)
        case answered
    }

    let id: UInt64
    private unowned let service: TCPingService
    private let target: [UInt8]
    private let parsed: TCPingTarget
    private let request: Request
    private var stage = Stage.arrived
    private var slotAcquired: ContinuousClock.Instant?

    fileprivate init(id: UInt64, service: TCPingService, target: [UInt8], parsed: TCPingTarget, request: Request) {
        self.id = id
        self.service = service
        self.target = target
        self.parsed = parsed
        self.request = request
    }

    fileprivate func queued(_ ticket: ProbeSlots.Ticket) {
        stage = .waiting(ticket)
    }

    fileprivate func noSlot() {
        answer(.tooManyRequests(target: target))
    }

    fileprivate func slotGranted(at now: ContinuousClock.Instant) {
        slotAcquired = now
        service.dial(target, parsed, for: request, probe: self, slotAt: now)
    }

    fileprivate func watchClient() {
        if case .answered = stage { return }
        request.onClientGone { [weak self] in self?.clientGone() }
    }

    fileprivate func resolve(_ name: [UInt8], slotAt now: ContinuousClock.Instant, deadline: ContinuousClock.Instant) {
        slotAcquired = now
        let lookup = service.resolver.resolve(name) { [weak self] in self?.resolved(name, $0, deadline: deadline) }
        stage = .resolving(lookup, name: name)
    }

    private func resolved(_ name: [UInt8], _ answer: DNSAnswer, deadline: ContinuousClock.Instant) {
        switch answer {
        case .addresses(let ips):
            let connector = connector(to: ips.map { DialAddress(ip: $0, port: parsed.port) }, deadline: deadline)
            // May answer before it returns; the local keeps the connector alive until then.
            connector.start()
        case .failed(let failure, let server):
            self.answer(.failed(target: target, error: DialErrors.lookup(host: name, server: server, failure)))
        }
    }

    fileprivate func budgetSpent() {
        guard case .resolving(let lookup, let name) = stage else { return }
        lookup.cancel()
        answer(.failed(target: target, error: DialErrors.lookup(host: name, server: nil, .timeout)))
    }

    fileprivate func connect(continuing socket: Int32, to address: DialAddress, slotAt now: ContinuousClock.Instant, deadline: ContinuousClock.Instant) {
        slotAcquired = now
        let connector = connector(to: [address], deadline: deadline)
        connector.start(continuing: socket)
    }

    private func connector(to addresses: [DialAddress], deadline: ContinuousClock.Instant) -> TCPConnector {
        let connector = TCPConnector(loop: service.loop, addresses: addresses, deadline: deadline, closer: service.closer) { [weak self] in
            self?.connectEnded($0)
        }
        stage = .connecting(connector)
        return connector
    }

    private func connectEnded(_ outcome: ConnectOutcome) {
        answer(TCPingService.result(target, outcome, since: slotAcquired ?? .now))
    }

    /// Stops whatever is running and frees the slot; the answer only releases the request.
    private func clientGone() {
        switch stage {
        case .arrived, .answered:
            return
        case .waiting(let ticket):
            service.withdraw(ticket)
        case .resolving(let lookup, _):
            lookup.cancel()
        case .connecting(let connector):
            connector.cancel()
        }
        answer(.failed(target: target, error: DialErrors.canceled))
    }

    fileprivate func answer(_ result: TCPingResult) {
        if case .answered = stage { return }
        stage = .answered
        service.settle(result, for: request, probe: self, heldSlot: slotAcquired != nil)
    }
}

private func earliest(_ a: ContinuousClock.Instant?, _ b: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
    guard let a else { return b }
    guard let b else { return a }
    return min(a, b)
}

/// A non-negative `Duration` in seconds, for libevent timers.
private func seconds(_ d: Duration) -> Double {
    let (whole, atto) = d.components
    return max(0, Double(whole) + Double(atto) / 1e18)
}
