import CEvent
import Glibc
import Synchronization

/// A started child as the spawner thread reports it: its pid and our end of its output pipe.
struct LaunchedChild: Sendable {
    let pid: pid_t
    let outputFD: Int32
}

/// Long-lived threads that run `posix_spawn`, so the loop never waits for a child's exec.
/// Requests are taken in order by up to `threadCount` threads (two: a burst of starts uses
/// both cores); threads start with the first spawns and then sleep on a semaphore, so an idle
/// master has no extra thread until it runs instances.
final class Spawner: Sendable {
    static let shared = Spawner()

    private struct Job: Sendable {
        let path: String
        let arguments: [String]
        let done: @Sendable (Result<LaunchedChild, SpawnError>) -> Void
    }

    private static let threadCount = 2
    private let jobs = Mutex<(queue: [Job], threads: Int)>(([], 0))
    /// A POSIX semaphore is made for posting from one thread and waiting on another; it lives
    /// as long as the process (the shared spawner is never released).
    nonisolated(unsafe) private let ready = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    private init() {
        sem_init(ready, 0, 0)
    }

    func launch(path: String, arguments: [String], done: @escaping @Sendable (Result<LaunchedChild, SpawnError>) -> Void) {
        let startThread = jobs.withLock { state in
            state.queue.append(Job(path: path, arguments: arguments, done: done))
            // Another thread only when work is waiting beyond what the running ones hold.
            guard state.threads < Self.threadCount, state.queue.count > 1 || state.threads == 0 else { return false }
            state.threads += 1
            return true
        }
        if startThread, !WorkerThread.start(named: "openctrl-spawn", { self.serve() }) {
            // No thread could be made. When none serves the queue either, the loop runs these
            // spawns itself rather than leave the instances starting forever.
            let orphaned = jobs.withLock { state -> [Job] in
                state.threads -= 1
                guard state.threads == 0 else { return [] }
                defer { state.queue.removeAll() }
                return state.queue
            }
            for job in orphaned { job.done(Self.spawn(path: job.path, arguments: job.arguments)) }
        }
        sem_post(ready)
    }

    private func serve() {
        while true {
            while sem_wait(ready) != 0 {}
            guard let job = jobs.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) else { continue }
            job.done(Self.spawn(path: job.path, arguments: job.arguments))
        }
    }

    /// glibc's posix_spawn reports exec failures (ENOENT, EACCES, ENOEXEC…) as its return
    /// value, through its own close-on-exec pipe, so a bad runtime path gives a precise errno.
    private static func spawn(path: String, arguments: [String]) -> Result<LaunchedChild, SpawnError> {
        var fds: [Int32] = [-1, -1]
        guard cevent_pipe2(&fds, O_CLOEXEC) == 0 else { return .failure(SpawnError(description: "pipe: \(errnoText())")) }
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
            return .failure(SpawnError(description: "fork/exec \(path): \(errnoText(rc))"))
        }
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        return .success(LaunchedChild(pid: pid, outputFD: readEnd))
    }
}
