/// What all probes share: the slot pool and its expiry timer, the resolver, the service names.
@LoopActor
final class TCPingService {
    static let slotCount = 256
    static let slotWait: Duration = .seconds(1)
    /// How long a probe runs before its client is watched for a disconnect.
    static let watchGraceSeconds = 0.05

    let loop: Loop
    let resolver: DNSResolver
    /// Read once, when the first probe arrives, as Go reads it once.
    private(set) lazy var services: ServicePorts = Self.loadServices()
    private var slots = ProbeSlots(capacity: slotCount, maxWait: slotWait)
    private var waiting: [ProbeSlots.Ticket: TCPingProbe] = [:]
    /// Every probe that has not answered yet; nothing else holds them.
    private var live: [ObjectIdentifier: TCPingProbe] = [:]
    private var expiryTimer: Timer?
    private var armedFor: ContinuousClock.Instant?
    /// Waiters handed a slot, started in order by the outermost `startGranted`, so a probe that
    /// ends at once (a refused loopback connect) does not start the next one inside its own call.
    private var granted: [TCPingProbe] = []
    private var startingGranted = false

    init(loop: Loop) {
        self.loop = loop
        resolver = DNSResolver(loop: loop)
    }

    func probe(_ target: [UInt8], for request: Request, done: @escaping @LoopActor () -> Void) {
        let probe = TCPingProbe(service: self, target: target, request: request, done: done)
        live[ObjectIdentifier(probe)] = probe
        probe.start()
    }

    fileprivate func requestSlot(for probe: TCPingProbe) {
        let now = ContinuousClock.now
        switch slots.request(now: now) {
        case .granted:
            probe.slotGranted(at: now)
        case .queued(let ticket):
            waiting[ticket] = probe
            probe.queued(ticket)
            armExpiry()
        }
    }

    fileprivate func withdraw(_ ticket: ProbeSlots.Ticket) {
        if slots.withdraw(ticket) { waiting[ticket] = nil }
        armExpiry()
    }

    fileprivate func finished(_ probe: TCPingProbe, heldSlot: Bool) {
        live[ObjectIdentifier(probe)] = nil
        guard heldSlot else { return }
        let handover = slots.release(now: .now)
        for ticket in handover.expired { waiting.removeValue(forKey: ticket)?.noSlot() }
        if let ticket = handover.granted, let next = waiting.removeValue(forKey: ticket) { granted.append(next) }
        armExpiry()
        startGranted()
    }

    private func startGranted() {
        guard !startingGranted else { return }
        startingGranted = true
        while !granted.isEmpty { granted.removeFirst().slotGranted(at: .now) }
        startingGranted = false
    }

    private func expireWaiters() {
        armedFor = nil
        for ticket in slots.expire(now: .now) { waiting.removeValue(forKey: ticket)?.noSlot() }
        armExpiry()
    }

    /// One timer for the oldest waiter's deadline (all waiters wait the same 1 s, so the oldest
    /// always runs out first).
    private func armExpiry() {
        guard let deadline = slots.nextDeadline else {
            expiryTimer?.cancel()
            armedFor = nil
            return
        }
        guard deadline != armedFor else { return }
        let timer = expiryTimer ?? Timer(loop: loop) { [unowned self] in self.expireWaiters() }
        expiryTimer = timer
        armedFor = deadline
        timer.schedule(after: seconds(deadline - .now))
    }

    /// `/etc/services` on top of Go's built-in names; the built-in names alone when unreadable.
    private static func loadServices() -> ServicePorts {
        guard let text = try? PosixFileSystem().readFile("/etc/services", limit: 1 << 20) else { return .builtIn }
        return .parse(etcServices: text)
    }
}

/// One `/tcping` request from arrival to answer.
@LoopActor
final class TCPingProbe {
    private enum Stage {
        case arrived
        case waiting(ProbeSlots.Ticket)
        case resolving(DNSLookup, deadline: Timer)
        case connecting(TCPConnector)
        case answered
    }

    private unowned let service: TCPingService
    private let target: [UInt8]
    private let request: Request
    private let done: @LoopActor () -> Void
    private var stage = Stage.arrived
    private var parsed = TCPingTarget(host: .unspecified, port: 0)
    private var slotAcquired: ContinuousClock.Instant?
    private var watchGrace: Timer?

    fileprivate init(service: TCPingService, target: [UInt8], request: Request, done: @escaping @LoopActor () -> Void) {
        self.service = service
        self.target = target
        self.request = request
        self.done = done
    }

    /// A target Go's dialer rejects before any lookup is answered at once: it needs no socket,
    /// so it does not queue for a slot (the original, whose dial parses the target, would).
    fileprivate func start() {
        do throws(TCPingTargetError) {
            parsed = try TCPingTarget.parse(target, services: service.services)
        } catch {
            answer(.failed(target: target, error: error.message))
            return
        }
        service.requestSlot(for: self)
        if case .answered = stage { return }
        // Watching the client costs a few syscalls on its socket; a probe that answers within the
        // grace period (any nearby port) never pays them.
        let grace = Timer(loop: service.loop) { [weak self] in self?.watchClient() }
        watchGrace = grace
        grace.schedule(after: TCPingService.watchGraceSeconds)
    }

    private func watchClient() {
        watchGrace = nil
        if case .answered = stage { return }
        request.onClientGone { [weak self] in self?.clientGone() }
    }

    fileprivate func queued(_ ticket: ProbeSlots.Ticket) {
        stage = .waiting(ticket)
    }

    fileprivate func noSlot() {
        answer(.tooManyRequests(target: target))
    }

    /// Latency counts from here; the whole 5 s budget, lookup included, starts now.
    fileprivate func slotGranted(at now: ContinuousClock.Instant) {
        slotAcquired = now
        let deadline = now + DialBudget.overall
        switch parsed.host {
        case .unspecified:
            connect([.unspecified(port: parsed.port)], deadline: deadline)
        case .ip(let ip):
            connect([DialAddress(ip: ip, port: parsed.port)], deadline: deadline)
        case .name(let name):
            // Go answers a name that is not DNS syntax without asking any server.
            guard GoNetAddr.isDomainName(name) else {
                answer(.failed(target: target, error: DialErrors.lookup(host: name, server: nil, .noSuchHost)))
                return
            }
            let timer = Timer(loop: service.loop) { [weak self] in self?.lookupTimedOut(name) }
            timer.schedule(after: seconds(deadline - now))
            let lookup = service.resolver.resolve(name) { [weak self] in self?.resolved(name, $0, deadline: deadline) }
            stage = .resolving(lookup, deadline: timer)
        }
    }

    private func resolved(_ name: [UInt8], _ answer: DNSAnswer, deadline: ContinuousClock.Instant) {
        switch answer {
        case .addresses(let ips):
            connect(ips.map { DialAddress(ip: $0, port: parsed.port) }, deadline: deadline)
        case .failed(let failure, let server):
            self.answer(.failed(target: target, error: DialErrors.lookup(host: name, server: server, failure)))
        }
    }

    private func lookupTimedOut(_ name: [UInt8]) {
        guard case .resolving(let lookup, _) = stage else { return }
        lookup.cancel()
        answer(.failed(target: target, error: DialErrors.lookup(host: name, server: nil, .timeout)))
    }

    private func connect(_ addresses: [DialAddress], deadline: ContinuousClock.Instant) {
        let connector = TCPConnector(loop: service.loop, addresses: addresses, deadline: deadline) { [weak self] in
            self?.connectEnded($0)
        }
        stage = .connecting(connector)
        // May answer before it returns; the local keeps the connector alive until then.
        connector.start()
    }

    private func connectEnded(_ outcome: ConnectOutcome) {
        switch outcome {
        case .connected:
            answer(.connected(target: target, after: ContinuousClock.now - (slotAcquired ?? .now)))
        case .failed(let error):
            answer(.failed(target: target, error: error))
        }
    }

    /// Stops whatever is running and frees the slot; the answer only releases the request.
    private func clientGone() {
        switch stage {
        case .arrived, .answered:
            return
        case .waiting(let ticket):
            service.withdraw(ticket)
        case .resolving(let lookup, let timer):
            lookup.cancel()
            timer.cancel()
        case .connecting(let connector):
            connector.cancel()
        }
        answer(.failed(target: target, error: DialErrors.canceled))
    }

    /// Exactly once per probe: reply, then give the slot to the next waiter.
    private func answer(_ result: TCPingResult) {
        if case .answered = stage { return }
        stage = .answered
        watchGrace = nil
        request.respond(HTTPConventions.json(status: 200, body: result.json))
        done()
        service.finished(self, heldSlot: slotAcquired != nil)
    }
}

/// A non-negative `Duration` in seconds, for libevent timers.
private func seconds(_ d: Duration) -> Double {
    let (whole, atto) = d.components
    return max(0, Double(whole) + Double(atto) / 1e18)
}
