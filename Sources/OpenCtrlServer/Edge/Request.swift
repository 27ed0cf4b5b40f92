import CEvent
import Glibc

public enum HTTPMethod: Sendable, Equatable {
    case get, post, head, put, delete, options, patch, other

    init(_ command: evhttp_cmd_type) {
        switch command {
        case EVHTTP_REQ_GET: self = .get
        case EVHTTP_REQ_POST: self = .post
        case EVHTTP_REQ_HEAD: self = .head
        case EVHTTP_REQ_PUT: self = .put
        case EVHTTP_REQ_DELETE: self = .delete
        case EVHTTP_REQ_OPTIONS: self = .options
        case EVHTTP_REQ_PATCH: self = .patch
        default: self = .other
        }
    }
}

/// One request handed to us by evhttp.
///
/// evhttp keeps the `evhttp_request` alive until we reply (if the client goes away first it
/// detaches the request from the connection and frees it inside our reply call), so the
/// pointer is valid exactly until `respond` and never touched after it.
@LoopActor
public final class Request {
    private var raw: OpaquePointer?
    public let method: HTTPMethod
    /// The request-target's path, still percent-encoded.
    public let escapedPath: String
    /// The raw query string, or nil when the target has no `?`.
    public let query: String?

    private let guardian: ConnectionGuard?
    /// Told the status once the answer goes out (for a stream, when its headers do), so
    /// answers are counted in one place whichever handler gives them and however late.
    public var onRespond: (@LoopActor (Int32) -> Void)?

    init(_ raw: OpaquePointer, guardian: ConnectionGuard?) {
        self.raw = raw
        self.guardian = guardian
        method = HTTPMethod(evhttp_request_get_command(raw))
        let target = evhttp_request_get_uri(raw).map { String(cString: $0) } ?? "/"
        if target.hasPrefix("/") {
            // Origin form, split by hand: evhttp's URI parser reads a leading `//` as an
            // authority, but `//api/v2/info` is a path that must be canonicalised (301).
            if let mark = target.firstIndex(of: "?") {
                escapedPath = String(target[..<mark])
                query = String(target[target.index(after: mark)...])
            } else {
                escapedPath = target
                query = nil
            }
        } else if let uri = evhttp_request_get_evhttp_uri(raw) {
            let path = evhttp_uri_get_path(uri).map { String(cString: $0) } ?? ""
            escapedPath = path.isEmpty ? "/" : path
            query = evhttp_uri_get_query(uri).map { String(cString: $0) }
        } else {
            escapedPath = "/"
            query = nil
        }
    }

    /// First value of a request header (names compare case-insensitively).
    public func header(_ name: String) -> String? {
        guard let raw, let headers = evhttp_request_get_input_headers(raw),
              let value = evhttp_find_header(headers, name) else { return nil }
        return String(cString: value)
    }

    /// Every header line as evhttp parsed it, in order.
    public var headers: [(name: String, value: String)] {
        guard let raw, let list = evhttp_request_get_input_headers(raw) else { return [] }
        var out: [(name: String, value: String)] = []
        var entry = cevent_headers_first(list)
        while let kv = entry {
            out.append((String(cString: kv.pointee.key), String(cString: kv.pointee.value)))
            entry = cevent_headers_next(kv)
        }
        return out
    }

    /// What evhttp does not check about this request's framing, for `RequestFraming`.
    public var head: RequestHead {
        RequestHead(
            versionZero: guardian?.requestLineSaysHTTP0 ?? false,
            target: escapedPath,
            headers: headers,
            bytes: guardian?.headBytes ?? 0,
            hasNUL: guardian?.headHasNUL ?? false)
    }

    public var body: [UInt8] {
        guard let raw, let input = evhttp_request_get_input_buffer(raw) else { return [] }
        let count = evbuffer_get_length(input)
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = Int(evbuffer_copyout(input, buffer.baseAddress, count))
        }
    }

    /// Gives up the request to a streaming reply (which watches its client itself); nil once
    /// responded.
    fileprivate func takeForStreaming() -> OpaquePointer? {
        if let watch = clientWatch {
            clientWatch = nil
            watch.stop()
        }
        defer { raw = nil }
        return raw
    }

    /// Answers with `bytes` written to the socket as they are, then drops the connection: for a
    /// request evhttp would answer in a version its client cannot read (`HTTP/0.9 505 …`).
    /// Over TLS (where the socket carries records) the connection is only dropped.
    public func respondVerbatimAndClose(_ bytes: [UInt8], plainSocket: Bool) {
        guard let raw else { return }
        self.raw = nil
        if let watch = clientWatch {
            clientWatch = nil
            watch.stop()
        }
        guard let connection = evhttp_request_get_connection(raw) else {
            evhttp_send_reply(raw, 400, nil, nil)
            return
        }
        if plainSocket, let bufferevent = evhttp_connection_get_bufferevent(connection) {
            let fd = bufferevent_getfd(bufferevent)
            if fd >= 0 { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
        }
        // Frees the request with its connection.
        evhttp_connection_free(connection)
    }

    public func respond(_ response: Response) {
        guard let raw else { return }
        self.raw = nil
        onRespond?(response.status)
        if let watch = clientWatch {
            clientWatch = nil
            watch.stop()
        }
        // A detached request (its client went away) has no connection, and then no guard to tell.
        if evhttp_request_get_connection(raw) != nil { guardian?.responded() }
        if let headers = evhttp_request_get_output_headers(raw) {
            for header in response.headers { evhttp_add_header(headers, header.name, header.value) }
            // evhttp would send a HEAD reply's body bytes without a length; like Go, announce
            // the length and send no body.
            if method == .head { evhttp_add_header(headers, "Content-Length", String(response.bodyCount)) }
        }
        if method != .head, response.bodyCount > 0, let output = evhttp_request_get_output_buffer(raw) {
            if let shared = response.sharedBody {
                Self.addReference(shared, to: output)
            } else {
                response.body.withUnsafeBytes { _ = evbuffer_add(output, $0.baseAddress, $0.count) }
            }
        }
        evhttp_send_reply(raw, response.status, nil, nil)
    }

    /// The buffer keeps `shared` alive until libevent has sent or dropped those bytes; the
    /// cleanup runs on the loop thread when the chain is drained or the buffer freed.
    private static func addReference(_ shared: SharedBytes, to output: OpaquePointer) {
        let token = Unmanaged.passRetained(shared).toOpaque()
        let added = evbuffer_add_reference(output, shared.base, shared.count, { _, _, token in
            Unmanaged<SharedBytes>.fromOpaque(token!).release()
        }, token)
        if added != 0 {
            Unmanaged<SharedBytes>.fromOpaque(token).release()
            evbuffer_add(output, shared.base, shared.count)
        }
    }

    // MARK: client gone

    private var clientWatch: ClientWatch?

    /// Calls `handler` once if the client goes away while this request waits for its answer, so
    /// work nobody will read can stop. The handler must still end the request with `respond`
    /// (evhttp frees a request only then); that answer goes nowhere. A no-op once answered.
    ///
    /// evhttp alone cannot tell: it disables reading while a request is handled and notices the
    /// peer's EOF only when it writes the reply. (Measured on 2.1.12: a client that sent a
    /// request and closed got its `closecb` 3 s later, when the reply was written.) Re-enabling
    /// EV_READ on the connection's bufferevent is unsafe: should bytes arrive in that state (a
    /// pipelined request), evhttp's read callback ends the process ("illegal connection state").
    /// So an EV_READ|EV_CLOSED event of our own wakes us, and the socket's TCP state decides:
    /// anything but ESTABLISHED means the peer closed or reset. A wake-up that was data instead
    /// (a pipelined request, a TLS close_notify ahead of the FIN) would repeat at once on every
    /// loop turn, so the watch then polls that state every 200 ms. The closecb covers evhttp's
    /// own teardown of the connection (its timeouts, `evhttp_free`).
    public func onClientGone(_ handler: @escaping @LoopActor () -> Void) {
        guard let raw, clientWatch == nil, let connection = evhttp_request_get_connection(raw) else { return }
        clientWatch = ClientWatch(request: self, raw: raw, connection: connection, handler: handler)
    }

    /// evhttp is freeing the request together with its connection: it must not be touched again.
    func requestFreedWithConnection() {
        raw = nil
        clientWatch = nil
    }
}

extension Request {
    /// Turns this request into a streaming reply with `headers` (sent at once); the stream owns
    /// the request from here on. Nil when the client already went away.
    func startStream(headers: [(name: String, value: String)], directWrites: Bool, endTimeoutSeconds: Double) -> EventStream? {
        guard let raw = takeForStreaming() else { return nil }
        guard let connection = evhttp_request_get_connection(raw) else {
            // Detached: replying is how a detached request is freed.
            onRespond?(200)
            evhttp_send_reply(raw, 200, nil, nil)
            return nil
        }
        if let output = evhttp_request_get_output_headers(raw) {
            for header in headers { evhttp_add_header(output, header.name, header.value) }
        }
        guard let stream = EventStream(request: raw, connection: connection, directWrites: directWrites, endTimeoutSeconds: endTimeoutSeconds) else {
            onRespond?(500)
            evhttp_send_reply(raw, 500, "Internal Server Error", nil)
            return nil
        }
        onRespond?(200)
        return stream
    }
}
