import CEvent
import Glibc

/// Per-connection read deadlines that libevent 2.1.12 cannot express (CONTRACT §3 "Our
/// rule"): 10 s to receive a request's headers, 30 s for its body, 120 s idle between
/// requests. evhttp has a single inactivity timeout, which a client trickling one byte at a
/// time never trips.
///
/// Each connection's bufferevent is created here (evhttp's bevcb) with a callback on its input
/// buffer that sees every byte arrive; a once-a-second sweep shuts down sockets past their
/// deadline, and evhttp then frees the connection as for any peer that went away.
///
/// libevent gives no notice when evhttp frees a bufferevent, so the sweep never dereferences
/// one: it acts on the socket's descriptor, and only after checking that the descriptor still
/// names the same socket (its inode). A guard whose socket is gone is dropped.
@LoopActor
final class ConnectionGuards {
    private let limits: HTTPLimits
    /// Set in TLS modes: every connection then gets a TLS bufferevent.
    private let tls: TLSContext?
    /// Keyed by bufferevent address; an address reused by a new connection replaces the entry.
    private var guards: [OpaquePointer: ConnectionGuard] = [:]
    private var sweepTimer: Timer?
    private var sweeps = 0
    /// Guards of connections accepted in this loop iteration, whose descriptors evhttp sets
    /// after our bevcb returns.
    private var unlearned: [ConnectionGuard] = []
    private var learner: Wakeup?

    init(loop: Loop, limits: HTTPLimits, tls: TLSContext?) {
        self.limits = limits
        self.tls = tls
        let timer = Timer(loop: loop) { [unowned self] in self.sweep() }
        sweepTimer = timer
        timer.schedule(after: 1)
        learner = Wakeup(loop: loop) { [unowned self] in self.learnAccepted() }
    }

    /// The bufferevent evhttp uses for a new connection (evhttp sets its fd afterwards): a TLS
    /// one in the TLS modes, whose input buffer holds the decrypted bytes the guard watches.
    ///
    /// evhttp substitutes a plain bufferevent when this returns nil, which on a TLS port would
    /// speak HTTP in the clear. So when the TLS session cannot be made (out of memory), the
    /// connection gets a plain bufferevent that is shut down before evhttp reads from it.
    func makeBufferevent(base: OpaquePointer) -> OpaquePointer? {
        var secured: OpaquePointer?
        var refusal: TLSError?
        if let tls {
            do throws(TLSError) {
                secured = try tls.acceptingBufferevent(base: base)
            } catch {
                refusal = error
            }
        }
        guard let bufferevent = secured ?? bufferevent_socket_new(base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else {
            return nil
        }
        let guardian = ConnectionGuard(bufferevent: bufferevent, now: ContinuousClock.now, refusal: refusal)
        // Unretained: the callback lives in the bufferevent's input buffer and fires only while
        // the bufferevent lives; the map keeps the guard at least that long (an entry is only
        // replaced or dropped once its bufferevent is gone).
        evbuffer_add_cb(bufferevent_get_input(bufferevent), guardInputCallback, Unmanaged.passUnretained(guardian).toOpaque())
        guards[bufferevent] = guardian
        unlearned.append(guardian)
        learner?.activate()
        return bufferevent
    }

    /// Runs later in the same loop iteration as the accept, before libevent polls again, so no
    /// I/O callback can have freed these connections yet: their bufferevents are alive.
    private func learnAccepted() {
        for guardian in unlearned {
            guardian.learnSocket()
            guardian.refuseIfUnsecured()
        }
        unlearned.removeAll(keepingCapacity: true)
    }

    /// The guard of a live connection (called with a bufferevent evhttp just handed us).
    func guardFor(bufferevent: OpaquePointer?) -> ConnectionGuard? {
        bufferevent.flatMap { guards[$0] }
    }

    private func sweep() {
        let now = ContinuousClock.now
        sweeps += 1
        // A busy connection has no deadline of ours, so nothing else notices when it closes (an
        // event stream's client leaving, a client gone before its answer): every tenth sweep
        // drops the busy guards whose socket is gone.
        let checkBusy = sweeps % 10 == 0
        var dead: [OpaquePointer] = []
        for (key, guardian) in guards {
            if guardian.isExpired(now: now, limits: limits) {
                if !guardian.shutDownIfStillOpen() { dead.append(key) }
            } else if checkBusy, guardian.isBusy, !guardian.socketStillOpen {
                dead.append(key)
            }
        }
        for key in dead { guards[key] = nil }
        sweepTimer?.schedule(after: 1)
    }

    func stop() {
        sweepTimer?.cancel()
    }
}

/// What one connection is doing, as far as its read deadlines are concerned.
@LoopActor
final class ConnectionGuard {
    enum Phase {
        case headers(since: ContinuousClock.Instant)
        case body(since: ContinuousClock.Instant)
        /// A request is being handled or streamed: its handler owns the timing.
        case busy
        case idle(since: ContinuousClock.Instant)
        /// The socket was shut down; the next sweep checks it is gone.
        case closing(since: ContinuousClock.Instant)
    }

    /// Only touched from the input callback and by evhttp's own calls, never by the sweep.
    private let bufferevent: OpaquePointer
    private var socket: (fd: Int32, inode: UInt64)?
    private(set) var phase: Phase
    /// The last two bytes seen while reading headers, to find the blank line across reads.
    private var previous: (UInt8, UInt8) = (0, 0)
    /// What evhttp's parser hides about the current request's head: it cuts header values at a
    /// NUL (so `X-API-Key: <key>\0junk` would read as the key) and measures its 16 KiB limit
    /// without line ends. Bytes up to and including the blank line.
    private(set) var headBytes = 0
    private(set) var headHasNUL = false
    /// The last bytes of the request line, kept until its end is seen.
    private var lineTail: [UInt8] = []
    private var lineDone = false
    private(set) var requestLineSaysHTTP0 = false
    /// Why a TLS port's connection could not get its TLS session.
    private let refusal: TLSError?

    fileprivate init(bufferevent: OpaquePointer, now: ContinuousClock.Instant, refusal: TLSError?) {
        self.bufferevent = bufferevent
        self.refusal = refusal
        phase = .headers(since: now)
    }

    /// Runs before evhttp first reads the socket, so nothing is served in the clear.
    fileprivate func refuseIfUnsecured() {
        guard let refusal, let socket else { return }
        TLSHandshakeLog.failure(socket: socket.fd, reason: refusal.description)
        _ = shutDownIfStillOpen()
    }

    func requestArrived() {
        learnSocket()
        phase = .busy
    }

    /// Called while the connection (and so the bufferevent) is alive.
    func responded() {
        if case .closing = phase { return }
        let input = bufferevent_get_input(bufferevent)
        let buffered = input.map { evbuffer_get_length($0) } ?? 0
        guard buffered > 0, let input else {
            phase = .idle(since: ContinuousClock.now)
            return
        }
        // A pipelined request is already (partly) here: its header deadline starts now, and
        // its blank line may lie anywhere in what is buffered.
        beginHead()
        scanForHeaderEnd(input, from: 0, count: buffered)
    }

    fileprivate func isExpired(now: ContinuousClock.Instant, limits: HTTPLimits) -> Bool {
        switch phase {
        case .headers(let since): now - since > .seconds(limits.headerTimeoutSeconds)
        case .body(let since): now - since > .seconds(limits.bodyTimeoutSeconds)
        case .idle(let since): now - since > .seconds(limits.idleTimeoutSeconds)
        case .closing: true
        case .busy: false
        }
    }

    fileprivate var isBusy: Bool {
        if case .busy = phase { return true }
        return false
    }

    /// Whether the descriptor learned for this connection still names its socket.
    fileprivate var socketStillOpen: Bool {
        guard let socket else { return true }
        return Self.inode(of: socket.fd) == socket.inode
    }

    /// Shuts the socket down if it is still this connection's; false when it is gone.
    fileprivate func shutDownIfStillOpen() -> Bool {
        guard let socket, Self.inode(of: socket.fd) == socket.inode else { return false }
        if case .closing = phase { return true }
        phase = .closing(since: ContinuousClock.now)
        shutdown(socket.fd, Int32(SHUT_RDWR))
        return true
    }

    fileprivate func bytesArrived(_ buffer: OpaquePointer, from offset: Int, count: Int) {
        learnSocket()
        switch phase {
        case .idle:
            // Scan everything buffered, not only the new bytes: part of this request may have
            // arrived while the previous one was being answered.
            beginHead()
            scanForHeaderEnd(buffer, from: 0, count: offset + count)
        case .headers:
            scanForHeaderEnd(buffer, from: offset, count: count)
        case .body, .busy, .closing:
            break
        }
    }

    private func beginHead() {
        phase = .headers(since: ContinuousClock.now)
        previous = (0, 0)
        headBytes = 0
        headHasNUL = false
        lineTail.removeAll(keepingCapacity: true)
        lineDone = false
        requestLineSaysHTTP0 = false
    }

    /// Follows the request line across reads to see its version (`HTTP/0.9` gets a 505).
    private func noteRequestLine(_ bytes: UnsafeRawBufferPointer) {
        guard !lineDone, let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let end: Int
        if let hit = memchr(base, 0x0A, bytes.count) {
            end = base.distance(to: UnsafeRawPointer(hit))
            lineDone = true
        } else {
            end = bytes.count
        }
        lineTail.append(contentsOf: bytes[max(0, end - 12)..<end])
        if lineTail.count > 12 { lineTail.removeFirst(lineTail.count - 12) }
        if lineDone {
            var line = lineTail[...]
            if line.last == 0x0D { line = line.dropLast() }
            requestLineSaysHTTP0 = line.count >= 8 && line.suffix(8).starts(with: "HTTP/0.".utf8)
        }
    }

    /// Headers end at the first empty line (`\n\n` or `\n\r\n`; evhttp accepts both).
    private func scanForHeaderEnd(_ buffer: OpaquePointer, from offset: Int, count: Int) {
        var start = evbuffer_ptr()
        guard evbuffer_ptr_set(buffer, &start, offset, EVBUFFER_PTR_SET) == 0 else { return }
        let capacity = 4
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: capacity) { vectors in
            var remaining = count
            while remaining > 0 {
                let n = Int(evbuffer_peek(buffer, remaining, &start, vectors.baseAddress, Int32(capacity)))
                guard n > 0 else { return }
                for vector in vectors.prefix(min(n, capacity)) where remaining > 0 {
                    guard let base = vector.iov_base else { continue }
                    let length = min(vector.iov_len, remaining)
                    remaining -= length
                    noteRequestLine(UnsafeRawBufferPointer(start: base, count: length))
                    let end = findBlankLine(UnsafeRawBufferPointer(start: base, count: length))
                    let headPart = end ?? length
                    headBytes += headPart
                    if memchr(base, 0, headPart) != nil { headHasNUL = true }
                    if end != nil {
                        phase = .body(since: ContinuousClock.now)
                        return
                    }
                    guard evbuffer_ptr_set(buffer, &start, length, EVBUFFER_PTR_ADD) == 0 else { return }
                }
            }
        }
    }

    /// Looks for a blank line using `memchr` for each newline, carrying the last two bytes
    /// of the previous chunk so a blank line split across reads is still found. Returns the
    /// offset just past it.
    private func findBlankLine(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        var index = 0
        while index < bytes.count, let hit = memchr(base + index, 0x0A, bytes.count - index) {
            let i = base.distance(to: UnsafeRawPointer(hit))
            let p1 = i >= 1 ? bytes[i - 1] : previous.1
            let p2 = i >= 2 ? bytes[i - 2] : (i == 1 ? previous.1 : previous.0)
            if p1 == 0x0A || (p1 == 0x0D && p2 == 0x0A) { return i + 1 }
            index = i + 1
        }
        previous = bytes.count >= 2 ? (bytes[bytes.count - 2], bytes[bytes.count - 1]) : (previous.1, bytes[0])
        return nil
    }

    /// evhttp sets the descriptor after our bevcb returns; record it and its inode once.
    fileprivate func learnSocket() {
        guard socket == nil else { return }
        let fd = bufferevent_getfd(bufferevent)
        guard fd >= 0, let inode = Self.inode(of: fd) else { return }
        socket = (fd, inode)
    }

    private static func inode(of fd: Int32) -> UInt64? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return nil }
        return UInt64(info.st_ino)
    }
}

private let guardInputCallback: evbuffer_cb_func = { buffer, info, arg in
    guard let buffer, let info, info.pointee.n_added > 0 else { return }
    let guardian = Unmanaged<ConnectionGuard>.fromOpaque(arg!).takeUnretainedValue()
    let offset = info.pointee.orig_size - info.pointee.n_deleted
    let count = info.pointee.n_added
    // Borrowed for this call only, on the loop thread.
    nonisolated(unsafe) let borrowed = buffer
    LoopActor.assumeIsolated { guardian.bytesArrived(borrowed, from: offset, count: count) }
}
