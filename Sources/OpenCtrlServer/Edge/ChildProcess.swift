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
    private static let readChunk = 64 * 1024

    private init(pid: pid_t, readFD: Int32, loop: Loop) {
        self.pid = pid
        self.readFD = readFD
        self.loop = loop
    }

    /// Spawns `path` with `arguments` (argv[0] included). glibc's posix_spawn reports exec
    /// failures (ENOENT, EACCES, ENOEXEC…) as its return value, through its own close-on-exec
    /// pipe, so a bad runtime path gives a precise errno here.
    public static func spawn(path: String, arguments: [String], loop: Loop, reaper: ChildReaper) throws(SpawnError) -> ChildProcess {
        var fds: [Int32] = [-1, -1]
        guard cevent_pipe2(&fds, O_CLOEXEC) == 0 else { throw SpawnError(description: "pipe: \(errnoText())") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        cevent_spawn_addclosefrom(&actions, 3)
        var allSignals = sigset_t()
        var noSignals = sigset_t()
        sigfillset(&allSignals)
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, cevent_environ())
        close(writeEnd)
        guard rc == 0 else {
            close(readEnd)
            throw SpawnError(description: "fork/exec \(path): \(errnoText(rc))")
        }
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        let child = ChildProcess(pid: pid, readFD: readEnd, loop: loop)
        child.startReading()
        reaper.register(child)
        return child
    }

    /// Signals the whole process group (the child is its leader).
    public func signalGroup(_ signal: Int32) {
        if kill(-pid, signal) != 0, errno == ESRCH, status == nil {
            kill(pid, signal)
        }
    }

    private func startReading() {
        reader = LoopEvent(loop: loop, fd: readFD, flags: Int16(EV_READ | EV_PERSIST)) { [unowned self] _ in
            self.readAvailable()
        }
        reader?.add()
    }

    private func readAvailable() {
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buffer in
            // Two reads per wake-up, then yield to the other events: a flooding child is read
            // at full speed without delaying requests by more than one chunk's work.
            for _ in 0..<2 {
                let n = read(readFD, buffer.baseAddress, buffer.count)
                if n > 0 {
                    onOutput(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                    continue
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

    fileprivate func register(_ child: ChildProcess) {
        children[child.pid] = child
        // A child that exited before registration was reaped by nobody yet: look now.
        reap()
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid < 0, errno == EINTR { continue }
            guard pid > 0 else { return }
            guard let reason = ExitReason(waitStatus: status), let child = children.removeValue(forKey: pid) else { continue }
            child.reaped(reason)
        }
    }
}
