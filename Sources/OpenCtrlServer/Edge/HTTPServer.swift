import CEvent
import Glibc

/// Server limits of CONTRACT §3 ("Our rule").
public struct HTTPLimits: Sendable {
    public var maxHeaderBytes = 16 * 1024
    public var maxBodyBytes = 1 << 20
    /// libevent 2.1.12 has one inactivity timeout per connection, applied to reads and writes.
    public var timeoutSeconds: Double = 120
    public init() {}
}

/// Owns the `evhttp` server and its listener; hands every request to `onRequest`.
@LoopActor
public final class HTTPServer {
    private let http: OpaquePointer
    private var bound: OpaquePointer?
    public var onRequest: @LoopActor (Request) -> Void = { $0.respond(Response(status: 500)) }

    public init(loop: Loop, limits: HTTPLimits) throws(LoopError) {
        guard let http = evhttp_new(loop.base) else { throw LoopError(description: "evhttp_new failed") }
        self.http = http
        let methods = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue
            | EVHTTP_REQ_PUT.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue
            | EVHTTP_REQ_PATCH.rawValue
        evhttp_set_allowed_methods(http, UInt16(methods))
        evhttp_set_max_headers_size(http, limits.maxHeaderBytes)
        evhttp_set_max_body_size(http, limits.maxBodyBytes)
        var timeout = timeval(seconds: limits.timeoutSeconds)
        evhttp_set_timeout_tv(http, &timeout)
        // evhttp would otherwise label every reply text/html; ours set their own type or none.
        evhttp_set_default_content_type(http, nil)
        evhttp_set_gencb(http, { raw, arg in
            guard let raw else { return }
            let server = Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue()
            LoopActor.assumeIsolated { server.onRequest(Request(raw)) }
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Starts accepting on `socket`; the server owns the descriptor from here on.
    public func serve(_ socket: ListenSocket, loop: Loop) throws(LoopError) {
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE)
        guard let listener = evconnlistener_new(loop.base, nil, nil, flags, -1, socket.fd) else {
            close(socket.fd)
            throw LoopError(description: "evconnlistener_new failed")
        }
        guard let bound = evhttp_bind_listener(http, listener) else {
            evconnlistener_free(listener)
            throw LoopError(description: "evhttp_bind_listener failed")
        }
        self.bound = bound
    }

    /// Closes the listening socket; connections already open keep being served.
    public func stopAccepting() {
        guard let bound else { return }
        self.bound = nil
        evhttp_del_accept_socket(http, bound)
    }

    isolated deinit {
        evhttp_free(http)
    }
}
