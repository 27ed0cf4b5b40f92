import CEvent
import Glibc

/// The watch behind `Request.onClientGone`. evhttp holds one retained token on it as the
/// closecb argument, taken back exactly once: by the closecb trampoline or by `stop`. Its two
/// events are freed before either path returns, so none fires for a closed descriptor.
@LoopActor
final class ClientWatch {
    private weak var request: Request?
    private let raw: OpaquePointer
    /// Set while evhttp holds the closecb token.
    private var connection: OpaquePointer?
    private var handler: (@LoopActor () -> Void)?
    private let fd: Int32
    private var socketEvent: OpaquePointer?
    private var pollTimer: OpaquePointer?
    private static let pollSeconds = 0.2

    init(request: Request, raw: OpaquePointer, connection: OpaquePointer, handler: @escaping @LoopActor () -> Void) {
        self.request = request
        self.raw = raw
        self.connection = connection
        self.handler = handler
        fd = evhttp_connection_get_bufferevent(connection).map { bufferevent_getfd($0) } ?? -1
        evhttp_connection_set_closecb(connection, clientWatchClosed, Unmanaged.passRetained(self).toOpaque())
        let me = Unmanaged.passUnretained(self).toOpaque()
        if fd >= 0, let base = evhttp_connection_get_base(connection) {
            socketEvent = event_new(base, fd, Int16(EV_READ | EV_CLOSED | EV_PERSIST), clientWatchWoke, me)
            pollTimer = event_new(base, -1, 0, clientWatchPoll, me)
            if let socketEvent { event_add(socketEvent, nil) }
        }
    }

    /// The request is being answered: stop watching and take the closecb token back.
    func stop() {
        handler = nil
        stopWatching()
        if let connection {
            self.connection = nil
            evhttp_connection_set_closecb(connection, nil, nil)
            Unmanaged.passUnretained(self).release()
        }
    }

    /// evhttp is freeing the connection; the trampoline took the token back.
    fileprivate func connectionClosing() {
        connection = nil
        stopWatching()
        // evhttp's own failure path (EOF or error on write, a timeout) detaches the request
        // first and frees it only in our reply; any other teardown frees it with the connection.
        if evhttp_request_get_connection(raw) != nil { request?.requestFreedWithConnection() }
        fire()
    }

    fileprivate func socketWoke() {
        if peerGone() {
            stopWatching()
            fire()
            return
        }
        if let socketEvent {
            self.socketEvent = nil
            event_free(socketEvent)
        }
        schedulePoll()
    }

    fileprivate func pollFired() {
        if peerGone() {
            stopWatching()
            fire()
        } else {
            schedulePoll()
        }
    }

    private func schedulePoll() {
        var tv = timeval(seconds: Self.pollSeconds)
        if let pollTimer { event_add(pollTimer, &tv) }
    }

    /// The kernel's view, blind to bytes waiting in front of a FIN: TCP_INFO's first byte is the
    /// state, and only ESTABLISHED (1) means the peer has neither closed nor reset.
    private func peerGone() -> Bool {
        var info = [UInt8](repeating: 0, count: 8)
        var length = socklen_t(info.count)
        if getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0, length >= 1 {
            return info[0] != 1
        }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)
    }

    private func fire() {
        guard let handler else { return }
        self.handler = nil
        handler()
    }

    private func stopWatching() {
        if let socketEvent {
            self.socketEvent = nil
            event_free(socketEvent)
        }
        if let pollTimer {
            self.pollTimer = nil
            event_free(pollTimer)
        }
    }

    isolated deinit {
        stopWatching()
    }
}

private let clientWatchClosed: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    let watch = Unmanaged<ClientWatch>.fromOpaque(arg!).takeRetainedValue()
    LoopActor.assumeIsolated { watch.connectionClosing() }
}

private let clientWatchWoke: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let watch = Unmanaged<ClientWatch>.fromOpaque(arg!).takeUnretainedValue()
    LoopActor.assumeIsolated { withExtendedLifetime(watch) { watch.socketWoke() } }
}

private let clientWatchPoll: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let watch = Unmanaged<ClientWatch>.fromOpaque(arg!).takeUnretainedValue()
    LoopActor.assumeIsolated { withExtendedLifetime(watch) { watch.pollFired() } }
}
