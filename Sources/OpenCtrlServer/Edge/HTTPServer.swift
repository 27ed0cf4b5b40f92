import CEvent
import Glibc

/// Server limits of CONTRACT §3 ("Our rule").
public struct HTTPLimits: Sendable {
    public var maxHeaderBytes = 16 * 1024
    public var maxBodyBytes = 1 << 20
    public var headerTimeoutSeconds: Double = 10
    public var bodyTimeoutSeconds: Double = 30
    public var idleTimeoutSeconds: Double = 120
    /// evhttp's own inactivity timeout (reads and writes alike), the backstop for a peer that
    /// stops reading our replies.
    public var inactivityTimeoutSeconds: Double = 120
    public init() {}
}

/// Owns the `evhttp` server and its listener; hands every request to `onRequest`.
@LoopActor
public final class HTTPServer {
    private let http: OpaquePointer
    private var bound: OpaquePointer?
    private var listener: OpaquePointer?
    private let guards: ConnectionGuards
    private let loop: Loop
    private var acceptRetry: Timer?
    private var acceptBackoff = 0.005
    public var onRequest: @LoopActor (Request) -> Void = { $0.respond(Response(status: 500)) }
    /// Whether connections speak TLS: a handler may then not write to the socket itself, only
    /// through the connection's bufferevent.
    public let isTLS: Bool

    /// `tls` nil serves plain HTTP (mode 0); otherwise every connection is TLS. The server
    /// keeps the context until its connections are freed.
    public init(loop: Loop, limits: HTTPLimits, tls: TLSContext? = nil) throws(LoopError) {
        guard let http = evhttp_new(loop.base) else { throw LoopError(description: "evhttp_new failed") }
        self.http = http
        self.loop = loop
        isTLS = tls != nil
        guards = ConnectionGuards(loop: loop, limits: limits, tls: tls)
        let methods = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue
            | EVHTTP_REQ_PUT.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue
            | EVHTTP_REQ_PATCH.rawValue | EVHTTP_REQ_TRACE.rawValue | EVHTTP_REQ_CONNECT.rawValue
        evhttp_set_allowed_methods(http, UInt16(methods))
        evhttp_set_max_headers_size(http, limits.maxHeaderBytes)
        evhttp_set_max_body_size(http, limits.maxBodyBytes)
        var timeout = timeval(seconds: limits.inactivityTimeoutSeconds)
        evhttp_set_timeout_tv(http, &timeout)
        // TRACE and CONNECT reach the router (404 or 405 like any other method) instead of
        // evhttp's own 501 page. evhttp cannot accept methods it does not know at all.
        // evhttp would otherwise label every reply text/html; ours set their own type or none.
        evhttp_set_default_content_type(http, nil)
        let me = Unmanaged.passUnretained(self).toOpaque()
        evhttp_set_bevcb(http, { base, arg in
            let server = Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue()
            return LoopActor.assumeIsolated { server.guards.makeBufferevent(base: base!) }
        }, me)
        evhttp_set_gencb(http, { raw, arg in
            guard let raw else { return }
            let server = Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue()
            LoopActor.assumeIsolated { server.accept(raw) }
        }, me)
    }

    /// Starts accepting on `socket`; the server owns the descriptor from here on.
    public func serve(_ socket: ListenSocket, loop: Loop) throws(LoopError) {
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE)
        // Backlog 0: the socket already listens with ListenSocket's 4096; -1 would make libevent
        // call listen(2) again with 128.
        guard let listener = evconnlistener_new(loop.base, nil, nil, flags, 0, socket.fd) else {
            close(socket.fd)
            throw LoopError(description: "evconnlistener_new failed")
        }
        guard let bound = evhttp_bind_listener(http, listener) else {
            evconnlistener_free(listener)
            throw LoopError(description: "evhttp_bind_listener failed")
        }
        self.bound = bound
        self.listener = listener
        Self.servers[listener] = WeakServer(server: self)
        // evhttp owns the listener's user pointer (it is the evhttp), so the error callback
        // finds its server through the listener instead.
        evconnlistener_set_error_cb(listener, { listener, _ in
            let code = errno
            nonisolated(unsafe) let listener = listener
            LoopActor.assumeIsolated { HTTPServer.servers[listener!]?.server?.acceptFailed(errno: code) }
        })
    }

    private struct WeakServer {
        weak var server: HTTPServer?
    }

    private static var servers: [OpaquePointer: WeakServer] = [:]

    /// accept(2) failed for a reason other than a retriable one, typically EMFILE/ENFILE: the
    /// listening socket stays readable, so without a pause the loop would spin on it. Pause
    /// accepting with a backoff (5 ms doubling to 1 s, as Go's net/http does) and keep serving
    /// the connections already open.
    private func acceptFailed(errno code: Int32) {
        guard let listener else { return }
        evconnlistener_disable(listener)
        Log.info("Master.run: accept failed: \(errnoText(code)); retrying in \(Int(acceptBackoff * 1000)) ms")
        let timer = acceptRetry ?? Timer(loop: loop) { [unowned self] in
            guard let listener = self.listener else { return }
            evconnlistener_enable(listener)
        }
        acceptRetry = timer
        timer.schedule(after: acceptBackoff)
        acceptBackoff = min(1, acceptBackoff * 2)
    }

    private func accept(_ raw: OpaquePointer) {
        let connection = evhttp_request_get_connection(raw)
        let guardian = guards.guardFor(bufferevent: connection.flatMap { evhttp_connection_get_bufferevent($0) })
        guardian?.requestArrived()
        acceptBackoff = 0.005
        onRequest(Request(raw, guardian: guardian))
    }

    /// Closes the listening socket; connections already open keep being served.
    public func stopAccepting() {
        guard let bound else { return }
        self.bound = nil
        if let listener { Self.servers[listener] = nil }
        listener = nil
        acceptRetry?.cancel()
        evhttp_del_accept_socket(http, bound)
        guards.stop()
    }

    isolated deinit {
        evhttp_free(http)
    }
}
