import Glibc

/// Closes connected probe sockets once the loop has run the other callbacks that are ready,
/// instead of inside the `connect` that found them connected.
///
/// Whoever sends the first FIN keeps the connection in TIME_WAIT for a minute. A peer that closes
/// as soon as it accepts (a port-check listener; the benchmark's) has done so by then, and keeps
/// it; closing at once would leave it on the master's ephemeral ports, which every probe shares,
/// and the kernel's search for a free port then costs more than the probe. Measured with 50
/// clients against such a listener: about 30% of the master's CPU in `__inet_hash_connect` and
/// `__inet_check_established`. A socket waits at most one loop iteration here.
@LoopActor
final class DeferredClose {
    private var sockets: [Int32] = []
    private var flush: Wakeup?
    private let loop: Loop

    init(loop: Loop) {
        self.loop = loop
    }

    func close(_ socket: Int32) {
        sockets.append(socket)
        guard sockets.count == 1 else { return }
        let flush = flush ?? Wakeup(loop: loop) { [unowned self] in self.closeAll() }
        self.flush = flush
        flush.activate()
    }

    private func closeAll() {
        for socket in sockets { Glibc.close(socket) }
        sockets.removeAll(keepingCapacity: true)
    }
}
