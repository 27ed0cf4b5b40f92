import CEvent
import Glibc

/// One streaming reply (Server-Sent Events) on an evhttp connection. It owns the request from
/// `Request.startStream` on, and its close-callback registration: exactly one of three endings
/// runs, once.
/// - The client goes away: evhttp detaches the request, frees the connection and calls our close
///   callback; we free the detached request.
/// - `end()`: the final chunk is queued and the connection closes once it is flushed (the close
///   callback stays registered, so the owner learns when the last bytes left).
/// - `abort()`: the connection (and with it the request) is freed at once.
///
/// Bytes go straight to the socket while nothing is queued in front of them (plain HTTP only;
/// a TLS connection must go through its bufferevent), so a watcher that keeps up costs one
/// `send` per batch and no buffering; the rest waits in the connection's output buffer, whose
/// length is what `pending` reports (the master-held backlog of CONTRACT §13.5).
@LoopActor
public final class EventStream {
    private var request: OpaquePointer?
    private var connection: OpaquePointer?
    private let bufferevent: OpaquePointer
    private let output: OpaquePointer
    private let fd: Int32
    private let endTimeoutSeconds: Double
    private let directWrites: Bool
    /// HTTP/1.1 replies are chunked; HTTP/1.0 ones are raw until the connection closes.
    public let chunked: Bool
    /// Keeps this object alive while the close callback may still fire.
    private var token: Unmanaged<EventStream>?
    /// Runs once when the connection goes away: the client left, or an ended stream finished
    /// flushing. Not after `abort`.
    public var onClosed: (@LoopActor () -> Void)?

    init?(request: OpaquePointer, connection: OpaquePointer, directWrites: Bool, endTimeoutSeconds: Double) {
        guard let bufferevent = evhttp_connection_get_bufferevent(connection),
              let output = bufferevent_get_output(bufferevent) else { return nil }
        self.request = request
        self.connection = connection
        self.output = output
        self.bufferevent = bufferevent
        self.endTimeoutSeconds = endTimeoutSeconds
        fd = bufferevent_getfd(bufferevent)
        self.directWrites = directWrites && fd >= 0
        evhttp_send_reply_start(request, 200, "OK")
        // evhttp chunks the reply exactly when the client speaks HTTP/1.1, and says so.
        chunked = evhttp_request_get_output_headers(request)
            .flatMap { evhttp_find_header($0, "Transfer-Encoding") } != nil
        // No deadlines while streaming: a watcher sends nothing after its request, and a slow
        // reader behind megabytes of kernel buffer may see no write succeed for a long time
        // while it is still reading; the hub judges progress itself.
        bufferevent_set_timeouts(bufferevent, nil, nil)
        // libevent writes at most 16 KiB per wake-up by default; a stream's backlog (all of it,
        // on TLS) must leave in one go or a reader that keeps up still falls behind.
        bufferevent_set_max_single_write(bufferevent, Self.maxSingleWrite)
        let token = Unmanaged.passRetained(self)
        self.token = token
        evhttp_connection_set_closecb(connection, streamClosed, token.toOpaque())
    }

    private static let maxSingleWrite = 4 << 20

    /// True until the stream ended, was aborted or lost its client.
    public var isOpen: Bool { request != nil }

    /// Bytes the kernel holds for this client (sent but unacknowledged, or not yet sent).
    public var kernelQueued: Int {
        var count: Int32 = 0
        guard isOpen, fd >= 0, ioctl(fd, UInt(TIOCOUTQ), &count) == 0 else { return 0 }
        return Int(count)
    }

    /// Everything that left the output buffer for the kernel so far.
    public var drainedTotal: Int { enqueuedTotal - pending }

    /// Bytes the master holds for this client (not counting what the kernel already took).
    public var pending: Int {
        isOpen ? evbuffer_get_length(output) : 0
    }

    /// Everything ever queued in the output buffer; with `pending` it tells whether the client
    /// made progress.
    public private(set) var enqueuedTotal = 0

    /// The socket, while bytes may go straight to it: the stream is open, plain HTTP, and
    /// nothing is queued in front. The event hub's send threads write to it only while the
    /// loop waits for them, so it cannot be closed under them.
    public var directDescriptor: Int32? {
        isOpen && directWrites && evbuffer_get_length(output) == 0 ? fd : nil
    }

    /// Sends what the socket takes at once, if nothing is queued in front; returns the count.
    public func trySend(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let fd = directDescriptor, let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        // On an error nothing counts as sent: the bytes are queued, the bufferevent meets the
        // same error, and evhttp closes the connection the usual way.
        return max(0, send(fd, base, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)))
    }

    /// Queues `bytes` behind anything pending.
    public func enqueue(_ bytes: UnsafeRawBufferPointer) {
        guard isOpen, let base = bytes.baseAddress, !bytes.isEmpty else { return }
        evbuffer_add(output, base, bytes.count)
        enqueuedTotal += bytes.count
    }

    /// Sends or queues `bytes` (already framed for this stream).
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let sent = trySend(bytes)
        if sent < bytes.count { enqueue(UnsafeRawBufferPointer(rebasing: bytes[sent...])) }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Pushes out what is queued now (the reply headers and the first frames), instead of on
    /// the next turn of the loop.
    public func flushNow() {
        guard isOpen, directWrites, evbuffer_get_length(output) > 0 else { return }
        _ = evbuffer_write(output, fd)
    }

    /// Ends the stream after what is queued: the final chunk, then the connection closes.
    public func end() {
        guard let request, connection != nil else { return }
        self.request = nil
        // Nobody watches an ended stream: a client that stops reading is dropped by libevent.
        var write = timeval(seconds: endTimeoutSeconds)
        bufferevent_set_timeouts(bufferevent, nil, &write)
        if let headers = evhttp_request_get_output_headers(request) {
            // The headers already went out; this only makes evhttp close after the last chunk.
            evhttp_remove_header(headers, "Connection")
            evhttp_add_header(headers, "Connection", "close")
        }
        evhttp_send_reply_end(request)
    }

    /// Drops the connection now, discarding what is queued (a watcher over its cap).
    public func abort() {
        guard request != nil, let connection else { return }
        release(connection)
        request = nil
        // Frees the request with the connection.
        evhttp_connection_free(connection)
    }

    private func release(_ connection: OpaquePointer) {
        evhttp_connection_set_closecb(connection, nil, nil)
        self.connection = nil
        onClosed = nil
        token?.release()
        token = nil
    }

    /// evhttp is freeing the connection: the client went away, or an ended stream is done.
    fileprivate func closed() {
        guard let connection else { return }
        let request = self.request
        let gone = onClosed
        self.request = nil
        release(connection)
        // A request whose client failed was detached from its connection and is ours to free;
        // when evhttp frees the whole server instead, the request is still attached and evhttp
        // frees it.
        if let request, evhttp_request_get_connection(request) == nil {
            evhttp_send_reply_end(request)
        }
        gone?()
    }
}

private let streamClosed: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    guard let arg else { return }
    let stream = Unmanaged<EventStream>.fromOpaque(arg).takeUnretainedValue()
    LoopActor.assumeIsolated {
        withExtendedLifetime(stream) { stream.closed() }
    }
}
