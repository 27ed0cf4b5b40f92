import CEvent
import Glibc

public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// One runtime child: its own process group, stdin from /dev/null, stdout and stderr on one
/// pipe read by a libevent read event, every other descriptor closed.
///
/// "Exited" is reported once both the reaped status and EOF on the pipe are in (either order);
/// after the reap, EOF is awaited at most `drainBound` seconds, so a grandchild that keeps the
/// pipe open cannot hold the exit back. Whenever the child is gone its whole group gets
/// SIGKILL, so nothing it started outlives it.
@LoopActor
public final class ChildProcess {
    public let pid: pid_t
    private let loop: Loop
    private var readFD: Int32
    private var reader: LoopEvent?
    private var drainTimer: Timer?
    private var status: ExitReason?
    private var finished = false
    /// Called for every chunk read; the buffer is only valid during the call.
    public var onOutput: @LoopActor (UnsafeRawBufferPointer) -> Void = { _ in }
    /// Called once, after the status and EOF (or the drain bound). `outputStillOpen` is true
    /// when the bound expired with the pipe still open.
    public var onExit: @LoopActor (ExitReason, _ outputStillOpen: Bool) -> Void = { _, _ in }
    static let drainBound: Double = 1
    /// One read's worth of output is handled per turn of the loop: small enough that a flood
    /// of short lines (thousands per read) delays a request by a few milliseconds at most.
    private static let readChunk = 8 * 1024

    private init(pid: pid_t, readFD: Int32, loop: Loop) {
        self.pid = pid
        self.readFD = readFD
        self.loop = loop
    }

    /// Spawns `path` with `arguments` (argv[0] included) on the spawner thread and calls
    /// `completion` back on the loop. posix_spawn's parent side waits until the child has
    /// exec'd, which would otherwise hold the loop for every start.
    public static func spawn(
        path: String, arguments: [String], loop: Loop, reaper: ChildReaper,
        completion: @escaping @LoopActor (Result<ChildProcess, SpawnError>) -> Void
    ) {
        Spawner.shared.launch(path: path, arguments: arguments) { result in
            LoopActor.schedule {
                switch result {
                case .success(let launched):
                    let child = ChildProcess(pid: launched.pid, readFD: launched.outputFD, loop: loop)
                    child.startReading()
                    reaper.register(child)
                    completion(.success(child))
                case .failure(let error):
                    completion(.failure(error))
                }
            }
        }
    }

    /// Signals the whole process group (the child is its leader).
    public func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    private func startReading() {
        reader = LoopEvent(loop: loop, fd: readFD, flags: Int16(EV_READ | EV_PERSIST)) { [unowned self] _ in
            self.readAvailable()
        }
        reader?.add()
    }

    private func readAvailable() {
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buffer in
            // One read per wake-up, then yield to the other events: a flooding child is still
            // read at full speed (its descriptor stays ready) and requests wait at most one
            // chunk's work.
            while true {
                let n = read(readFD, buffer.baseAddress, buffer.count)
                if n > 0 {
                    onOutput(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    return
                }
                if n < 0, errno == EINTR { continue }
                if n < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
                closeOutput()
                finishIfComplete(outputStillOpen: false)
                return
            }
        }
    }

    private func closeOutput() {
        reader = nil
        if readFD >= 0 {
            close(readFD)
            readFD = -1
        }
    }

    /// Called by the reaper with the decoded wait status.
    fileprivate func reaped(_ reason: ExitReason) {
        status = reason
        // Nothing the child started may outlive it.
        kill(-pid, SIGKILL)
        if readFD >= 0 {
            let timer = Timer(loop: loop) { [unowned self] in
                self.closeOutput()
                self.finishIfComplete(outputStillOpen: true)
            }
            drainTimer = timer
            timer.schedule(after: Self.drainBound)
        }
        finishIfComplete(outputStillOpen: false)
    }

    private func finishIfComplete(outputStillOpen: Bool) {
        guard !finished, let status, readFD < 0 else { return }
        finished = true
        drainTimer?.cancel()
        drainTimer = nil
        onExit(status, outputStillOpen)
    }

    isolated deinit {
        if readFD >= 0 { close(readFD) }
    }
}

/// The one place that calls `waitpid`: SIGCHLD arrives as a libevent signal event, signals
/// coalesce, so it reaps in a loop until nothing is left.
@LoopActor
public final class ChildReaper {
    private var children: [pid_t: ChildProcess] = [:]
    private var signal: SignalEvent?

    public init(loop: Loop) {
        signal = SignalEvent(loop: loop, signal: SIGCHLD) { [unowned self] in self.reap() }
    }

    /// Statuses reaped before their child was registered: the spawner thread hands the pid
    /// back to the loop a moment after the child started, and a quick child can be gone first.
    private var unclaimed: [pid_t: ExitReason] = [:]

    fileprivate func register(_ child: ChildProcess) {
        children[child.pid] = child
        reap()
        if let reason = unclaimed.removeValue(forKey: child.pid) {
            children[child.pid] = nil
            child.reaped(reason)
        }
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid < 0, errno == EINTR { continue }
            guard pid > 0 else { return }
            guard let reason = ExitReason(waitStatus: status) else { continue }
            guard let child = children.removeValue(forKey: pid) else {
                unclaimed[pid] = reason
                continue
            }
            child.reaped(reason)
        }
    }
}
