import CEvent
import Glibc

/// How a probe's connect phase ended.
enum ConnectOutcome: Equatable {
    case connected
    /// Go's error text for the first address that failed.
    case failed([UInt8])
}

/// Where one connect attempt stood when the call returned.
enum ConnectAttempt: Equatable {
    case done(ConnectOutcome)
    /// The handshake is still running on this socket, which the caller now owns.
    case inProgress(Int32)
}

/// The connect phase of one probe: a non-blocking TCP connect to each address in turn, each with
/// Go's share of what is left of the budget (`DialBudget`), the socket closed as soon as the
/// handshake completes (at the end of the loop iteration, through `DeferredClose`, when the
/// `connect` call itself completed it). The first failure is the one reported, as Go's
/// `dialSerial` does.
///
/// Owns at most one socket and one event at a time; `cancel` and `deinit` release both, the
/// event first so libevent never watches a closed (or reused) descriptor.
@LoopActor
final class TCPConnector {
    private let base: OpaquePointer
    private let addresses: [DialAddress]
    private let deadline: ContinuousClock.Instant
    private var completion: (@LoopActor (ConnectOutcome) -> Void)?
    private var next = 0
    private var firstError: [UInt8]?
    private var socket: Int32 = -1
    private var event: OpaquePointer?
    private let closer: DeferredClose

    init(loop: Loop, addresses: [DialAddress], deadline: ContinuousClock.Instant, closer: DeferredClose, completion: @escaping @LoopActor (ConnectOutcome) -> Void) {
        base = loop.base
        self.addresses = addresses
        self.closer = closer
        self.deadline = deadline
        self.completion = completion
    }

    /// Starts connecting. The completion may run before this returns (a loopback refusal is
    /// often immediate), so callers record their state first.
    func start() {
        attemptNext()
    }

    /// Starts from an `attempt` the caller made on the first address, which left `socket`
    /// connecting: the connector owns it from here.
    func start(continuing socket: Int32) {
        next = 1
        let now = ContinuousClock.now
        let until = DialBudget.attemptDeadline(now: now, deadline: deadline, remainingAddresses: addresses.count) ?? now
        guard let error = watch(socket, until: until - now) else { return }
        firstError = error
        attemptNext()
    }

    /// The completion will not run; the socket in progress is closed.
    func cancel() {
        completion = nil
        release()
    }

    /// Connects to `address` without waiting. A handshake with the local host (or a refusal from
    /// it) completes inside the first `connect`: the kernel runs the whole exchange on loopback
    /// before the call returns, yet a non-blocking connect still says EINPROGRESS. The second
    /// `connect` reads that outcome (0, or the error `SO_ERROR` would give) instead of paying
    /// for an event registration, a loop turn and its removal; EALREADY means it really waits.
    /// A connected socket goes to `closer`.
    static func attempt(_ address: DialAddress, closer: DeferredClose) -> ConnectAttempt {
        let family = address.ip.isIPv4 ? AF_INET : AF_INET6
        let fd = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .done(.failed(DialErrors.syscall("socket", address, errno: errno))) }
        var code = withSockaddr(address) { Glibc.connect(fd, $0, $1) } == 0 ? 0 : errno
        if code == EINPROGRESS || code == EINTR {
            code = withSockaddr(address) { Glibc.connect(fd, $0, $1) } == 0 ? 0 : errno
            if code == EISCONN { code = 0 }
        }
        switch code {
        case 0:
            closer.close(fd)
            return .done(.connected)
        case EALREADY, EINPROGRESS, EINTR:
            return .inProgress(fd)
        default:
            close(fd)
            return .done(.failed(DialErrors.syscall("connect", address, errno: code)))
        }
    }

    private func attemptNext() {
        while next < addresses.count {
            let address = addresses[next]
            let now = ContinuousClock.now
            guard let attemptDeadline = DialBudget.attemptDeadline(now: now, deadline: deadline, remainingAddresses: addresses.count - next) else {
                finish(.failed(firstError ?? DialErrors.timeout(address)))
                return
            }
            next += 1
            switch Self.attempt(address, closer: closer) {
            case .done(.connected):
                finish(.connected)
                return
            case .done(.failed(let error)):
                firstError = firstError ?? error
            case .inProgress(let fd):
                guard let error = watch(fd, until: attemptDeadline - now) else { return }
                firstError = firstError ?? error
            }
        }
        finish(.failed(firstError ?? DialErrors.missingAddress))
    }

    /// Owns `fd` from here and waits for its handshake with an `EV_WRITE` event; nil when
    /// watching, else the error text for this address (the socket is then closed).
    private func watch(_ fd: Int32, until timeout: Duration) -> [UInt8]? {
        guard let event = event_new(base, fd, Int16(EV_WRITE), connectCallback, Unmanaged.passUnretained(self).toOpaque()) else {
            close(fd)
            return DialErrors.syscall("connect", addresses[next - 1], errno: ENOMEM)
        }
        socket = fd
        self.event = event
        let (whole, atto) = max(timeout, .zero).components
        var tv = timeval(seconds: Double(whole) + Double(atto) / 1e18)
        event_add(event, &tv)
        return nil
    }

    fileprivate func ready(_ what: Int16) {
        let fd = socket
        let address = addresses[next - 1]
        var error: [UInt8]?
        if what & Int16(EV_TIMEOUT) != 0 {
            error = DialErrors.timeout(address)
        } else {
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
            if code != 0 { error = DialErrors.syscall("connect", address, errno: code) }
        }
        release()
        guard let error else {
            finish(.connected)
            return
        }
        firstError = firstError ?? error
        attemptNext()
    }

    private func finish(_ outcome: ConnectOutcome) {
        release()
        guard let completion else { return }
        self.completion = nil
        completion(outcome)
    }

    private func release() {
        if let event {
            self.event = nil
            event_free(event)
        }
        if socket >= 0 {
            close(socket)
            socket = -1
        }
    }

    /// Go's `ipToSockaddr`: IPv4 (and mapped) addresses as `sockaddr_in`, IPv6 with the zone as
    /// scope id (an interface name, else a number, else 0).
    private static func withSockaddr<R>(_ address: DialAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if address.ip.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address.ip.bytes) }
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = address.port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address.ip.bytes) }
        sin6.sin6_scope_id = scopeID(address.ip.zone)
        return withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// Go's zone cache: the interface index of that name, else the zone read as a decimal number.
    private static func scopeID(_ zone: [UInt8]) -> UInt32 {
        guard !zone.isEmpty, !zone.contains(0) else { return 0 }
        let index = if_nametoindex(String(decoding: zone, as: UTF8.self))
        if index != 0 { return index }
        // Go's dtoi: leading digits, saturating at 0xFFFFFF.
        var n: UInt32 = 0
        for c in zone {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { break }
            n = n * 10 + UInt32(c - UInt8(ascii: "0"))
            if n >= 0xFFFFFF { return 0xFFFFFF }
        }
        return n
    }

    isolated deinit {
        release()
    }
}

private let connectCallback: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, what, arg in
    let connector = Unmanaged<TCPConnector>.fromOpaque(arg!).takeUnretainedValue()
    LoopActor.assumeIsolated {
        // The completion may drop the last other reference to the connector.
        withExtendedLifetime(connector) { connector.ready(what) }
    }
}
