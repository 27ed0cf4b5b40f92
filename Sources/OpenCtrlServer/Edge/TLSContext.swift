import CEvent
import CSSL
import Glibc

/// The server side of TLS modes 1 and 2 (CONTRACT §3): one `SSL_CTX` and the per-connection
/// sessions made from it. Mode 0 never creates one, so a plain-HTTP master makes no OpenSSL
/// call at all.
///
/// The context is TLS 1.3 only, answers ALPN with `http/1.1` alone, requests no client
/// certificate, ignores a peer's missing close_notify (HTTP framing detects truncation, and
/// libevent 2.1.12 misreads OpenSSL 3's unexpected-EOF error otherwise) and refuses
/// renegotiation. In mode 2 a handshake may re-read the files first (§3.3).
///
/// Lifetime: sessions keep the `SSL_CTX` alive and call back into this object (certificate
/// reload), so it must outlive every connection; `HTTPServer` holds it and frees its
/// connections in its deinit, before releasing it.
@LoopActor
public final class TLSContext {
    private let context: OpaquePointer
    private let reloader: TLSCertificateReloader?

    /// Mode 1: a new self-signed certificate (§3.2).
    public static func selfSigned() throws(TLSError) -> TLSContext {
        try TLSContext(identity: TLSSelfSigned.generate(), reloader: nil)
    }

    /// Mode 2: the `crt` chain and `key`, re-read on a handshake once `reloadInterval` has
    /// passed since the previous attempt (§3.3).
    public static func files(crt: String, key: String, reloadInterval: Duration) throws(TLSError) -> TLSContext {
        let identity = try TLSIdentity.load(crt: crt, key: key)
        let reloader = TLSCertificateReloader(crt: crt, key: key, interval: reloadInterval, loadedAt: .now)
        return try TLSContext(identity: identity, reloader: reloader)
    }

    /// The reload interval: an hour, unless the test suite shortens it with
    /// `OPENCTRL_TEST_TLS_RELOAD_SECONDS`.
    public static func configuredReloadInterval() -> Duration {
        TLSReloadSchedule.interval(testOverride: getenv("OPENCTRL_TEST_TLS_RELOAD_SECONDS").map { String(cString: $0) })
    }

    private init(identity: TLSIdentity, reloader: TLSCertificateReloader?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .openSSL("SSL_CTX_new") }
        self.context = context
        self.reloader = reloader
        // From here a throw releases self, and deinit frees the context.
        guard cssl_ctx_set_min_proto(context, TLS1_3_VERSION) == 1 else { throw .openSSL("SSL_CTX_set_min_proto_version") }
        _ = cssl_ctx_set_options(context, cssl_op_ignore_unexpected_eof() | cssl_op_no_renegotiation())
        _ = cssl_ctx_release_buffers(context)
        SSL_CTX_set_alpn_select_cb(context, { _, out, outLength, offered, offeredLength, _ in
            guard let out, let outLength, let offered,
                  let offset = TLSALPN.offsetOfHTTP11(in: UnsafeRawBufferPointer(start: offered, count: Int(offeredLength))) else {
                // No common protocol: carry on without ALPN, which means HTTP/1.1 to the client.
                return SSL_TLSEXT_ERR_NOACK
            }
            out.pointee = offered + offset
            outLength.pointee = UInt8(TLSALPN.http11.count)
            return SSL_TLSEXT_ERR_OK
        }, nil)
        SSL_CTX_set_info_callback(context, handshakeInfoTrampoline)
        try identity.install(context: context)
        if reloader != nil {
            SSL_CTX_set_cert_cb(context, certificateTrampoline, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// A TLS bufferevent for one accepted connection, in the accepting state and with no
    /// descriptor yet (evhttp sets it). It owns its `SSL` and frees it with itself.
    func acceptingBufferevent(base: OpaquePointer) throws(TLSError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let raw = SSL_new(context) else { throw .openSSL("SSL_new") }
        let session = TLSSession(owning: raw)
        guard let bufferevent = session.acceptingBufferevent(base: base) else {
            throw TLSError("bufferevent_openssl_socket_new failed")
        }
        return bufferevent
    }

    /// Mode 2's certificate callback: the handshake is about to pick its certificate, so a
    /// due reload happens now and this very handshake already gets the new certificate.
    fileprivate func certificateNeeded(session: OpaquePointer) {
        guard let reloader else { return }
        let context = context
        reloader.reloadIfDue(now: .now) { identity throws(TLSError) in
            try identity.install(context: context)
            try identity.install(session: session)
        }
    }

    isolated deinit {
        SSL_CTX_free(context)
    }
}

/// One connection's `SSL`, owned here until a bufferevent takes it over.
struct TLSSession: ~Copyable {
    private let raw: OpaquePointer

    init(owning raw: OpaquePointer) {
        self.raw = raw
    }

    /// With `BEV_OPT_CLOSE_ON_FREE` the bufferevent frees the `SSL` (and closes the socket)
    /// when evhttp frees it. With no descriptor and the accepting state, libevent can only
    /// fail before it stores the `SSL`, so on failure the session still owns it and frees it.
    consuming func acceptingBufferevent(base: OpaquePointer) -> OpaquePointer? {
        let options = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)
        guard let bufferevent = bufferevent_openssl_socket_new(base, -1, raw, BUFFEREVENT_SSL_ACCEPTING, options) else {
            // Still ours: the deinit frees it.
            _ = consume self
            return nil
        }
        discard self
        return bufferevent
    }

    deinit {
        SSL_free(raw)
    }
}

/// `SSL_CTX_set_cert_cb`: runs on the loop thread, inside a handshake libevent is driving.
private let certificateTrampoline: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { session, arg in
    guard let session, let arg else { return 1 }
    let owner = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    // Borrowed for this call only.
    nonisolated(unsafe) let borrowed = session
    LoopActor.assumeIsolated { owner.certificateNeeded(session: borrowed) }
    // A failed reload keeps the old certificate: the handshake always goes on.
    return 1
}

/// `SSL_CTX_set_info_callback`: a server handshake step that ended in a fatal TLS error is
/// a failed handshake (CONTRACT §3.4). A peer that closes (EOF, read as a close_notify under
/// `SSL_OP_IGNORE_UNEXPECTED_EOF`) or resets (a system error) queues no TLS error and is not
/// logged, nor is a step that merely waits for more bytes. The reason is peeked, not taken:
/// libevent drains the queue after the call that failed.
private let handshakeInfoTrampoline: @convention(c) (OpaquePointer?, Int32, Int32) -> Void = { session, point, result in
    guard point == cssl_cb_accept_exit(), result <= 0, let session,
          SSL_get_error(session, result) == SSL_ERROR_SSL else { return }
    TLSHandshakeLog.failure(socket: SSL_get_fd(session), reason: OpenSSLErrorQueue.reason(ERR_peek_error()))
}
