import CEvent
import Glibc

/// What a name lookup found.
enum DNSAnswer {
    case addresses([ProbeIP])
    /// `server` is the first configured nameserver (`ip:port`), which Go's error names.
    case failed(LookupFailure, server: String?)
}

/// Name lookups for `/tcping` on the loop's own evdns base, so the loop never waits for DNS
/// (`bufferevent.h` warns that a connect by name without an evdns base "may block"). The base is
/// created on the first lookup, reading `/etc/resolv.conf` and `/etc/hosts` once: a master that is
/// never asked to resolve a name never opens a DNS socket.
@LoopActor
final class DNSResolver {
    private let loop: Loop
    private var dns: OpaquePointer?
    private var nameserver: String?

    init(loop: Loop) {
        self.loop = loop
    }

    /// Looks up A and AAAA records for `name` (the hosts file first). `completion` runs exactly
    /// once, always after this returns, unless the lookup is cancelled first.
    func resolve(_ name: [UInt8], completion: @escaping @LoopActor (DNSAnswer) -> Void) -> DNSLookup {
        let lookup = DNSLookup(loop: loop, completion: completion)
        guard let dns = base() else {
            lookup.answer(.failed(.other("no DNS resolver available"), server: nil))
            lookup.returned = true
            return lookup
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        // Released by the callback, which evdns calls exactly once: before evdns_getaddrinfo
        // returns (hosts-file hits, immediate failures), with the answer, or with
        // EVUTIL_EAI_CANCEL some time after a cancel.
        let token = Unmanaged.passRetained(lookup).toOpaque()
        lookup.server = nameserver
        let request = evdns_getaddrinfo(dns, String(decoding: name, as: UTF8.self), nil, &hints, resolvedCallback, token)
        if !lookup.answered { lookup.request = request }
        lookup.returned = true
        return lookup
    }

    private func base() -> OpaquePointer? {
        if let dns { return dns }
        dns = evdns_base_new(loop.base, EVDNS_BASE_INITIALIZE_NAMESERVERS)
        guard let dns else { return nil }
        var storage = sockaddr_storage()
        let length = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                evdns_base_get_nameserver_addr(dns, 0, $0, socklen_t(MemoryLayout<sockaddr_storage>.size))
            }
        }
        if length > 0 { nameserver = Self.socketAddress(&storage).map { String(decoding: $0.label, as: UTF8.self) } }
        return dns
    }

    /// Every IPv4 and IPv6 address in an evdns answer, in its order.
    nonisolated fileprivate static func addresses(in list: UnsafeMutablePointer<addrinfo>?) -> [ProbeIP] {
        var out: [ProbeIP] = []
        var entry = list
        while let e = entry {
            if let raw = e.pointee.ai_addr {
                let address = UnsafeMutableRawPointer(raw).assumingMemoryBound(to: sockaddr_storage.self)
                if let dial = socketAddress(address) { out.append(dial.ip) }
            }
            entry = e.pointee.ai_next
        }
        return out
    }

    nonisolated private static func socketAddress(_ storage: UnsafeMutablePointer<sockaddr_storage>) -> DialAddress? {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let sin = raw.load(as: sockaddr_in.self)
            return ProbeIP(bytes: withUnsafeBytes(of: sin.sin_addr) { Array($0) })
                .map { DialAddress(ip: $0, port: UInt16(bigEndian: sin.sin_port)) }
        case AF_INET6:
            let sin6 = raw.load(as: sockaddr_in6.self)
            return ProbeIP(bytes: withUnsafeBytes(of: sin6.sin6_addr) { Array($0) })
                .map { DialAddress(ip: $0, port: UInt16(bigEndian: sin6.sin6_port)) }
        default:
            return nil
        }
    }

    isolated deinit {
        // Pending lookups are failed, so their callbacks release their tokens.
        if let dns { evdns_base_free(dns, 1) }
    }
}

/// One lookup in flight. Its answer is always delivered on a later loop turn, even when evdns
/// answered synchronously, so callers never see their completion run inside `resolve`.
@LoopActor
final class DNSLookup {
    private var completion: (@LoopActor (DNSAnswer) -> Void)?
    private let loop: Loop
    private var delivery: Wakeup?
    fileprivate var server: String?
    /// Set once `resolve` has handed the lookup to its caller; an answer before that (evdns
    /// calls back synchronously for hosts-file hits and immediate failures) waits a loop turn.
    fileprivate var returned = false
    fileprivate var answered = false
    /// The evdns request, only while it may still be cancelled (evdns forbids a cancel after
    /// the callback ran).
    fileprivate var request: OpaquePointer?

    fileprivate init(loop: Loop, completion: @escaping @LoopActor (DNSAnswer) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    /// The completion will not run. evdns still calls back later (with a cancel code), which
    /// releases the lookup.
    func cancel() {
        completion = nil
        delivery = nil
        if let request {
            self.request = nil
            evdns_getaddrinfo_cancel(request)
        }
    }

    fileprivate func evdnsAnswered(result: Int32, addresses: [ProbeIP]) {
        answered = true
        request = nil
        guard completion != nil else { return }
        switch result {
        case 0:
            answer(addresses.isEmpty ? .failed(.noSuitableAddress, server: nil) : .addresses(addresses))
        case EVUTIL_EAI_NONAME, EAI_NODATA_GLIBC, EVUTIL_EAI_NODATA:
            answer(.failed(.noSuchHost, server: server))
        case EVUTIL_EAI_FAIL, EVUTIL_EAI_AGAIN:
            answer(.failed(.serverMisbehaving, server: server))
        case EVUTIL_EAI_CANCEL:
            return
        default:
            answer(.failed(.other(DialErrors.lowercasedFirst(String(cString: evutil_gai_strerror(result)))), server: nil))
        }
    }

    fileprivate func answer(_ answer: DNSAnswer) {
        guard !returned else {
            deliver(answer)
            return
        }
        let wakeup = Wakeup(loop: loop) { [weak self] in self?.deliver(answer) }
        delivery = wakeup
        wakeup.activate()
    }

    private func deliver(_ answer: DNSAnswer) {
        delivery = nil
        guard let completion else { return }
        self.completion = nil
        completion(answer)
    }
}

/// glibc's EAI_NODATA, hidden from Swift with the rest of the GNU extensions (libevent itself
/// is built with them, so this is the value it passes on).
private let EAI_NODATA_GLIBC: Int32 = -5

private let resolvedCallback: evdns_getaddrinfo_cb = { result, list, arg in
    let lookup = Unmanaged<DNSLookup>.fromOpaque(arg!).takeRetainedValue()
    let addresses = DNSResolver.addresses(in: list)
    // The answer is ours to free, once, whatever the result.
    if let list { evutil_freeaddrinfo(list) }
    LoopActor.assumeIsolated { lookup.evdnsAnswered(result: result, addresses: addresses) }
}
