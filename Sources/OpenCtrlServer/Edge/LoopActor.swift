import CEvent
import Glibc
import Synchronization

/// The global actor whose executor is the libevent loop thread.
///
/// Everything that touches libevent, the registry or a connection is `@LoopActor`, so the
/// compiler keeps that state on the loop thread. Work from other threads (the state writer)
/// comes back with `Task { @LoopActor in … }`, which enqueues onto this executor and wakes
/// the loop through a libevent event.
@globalActor
public actor LoopActor {
    public static let shared = LoopActor()
    nonisolated let executor = LoopExecutor()

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Runs `operation` synchronously from a C callback that libevent invoked on the loop
    /// thread. Traps when called from any other thread.
    public static func assumeIsolated<T>(_ operation: @LoopActor () throws -> T) rethrows -> T {
        typealias Isolated = @LoopActor () throws -> T
        typealias Plain = () throws -> T
        shared.executor.checkIsolated()
        return try withoutActuallyEscaping(operation) { (fn: @escaping Isolated) throws -> T in
            try unsafeBitCast(fn, to: Plain.self)()
        }
    }
}

/// A `SerialExecutor` that runs jobs from a libevent wake event on the loop thread.
///
/// `@unchecked Sendable` is justified by the two fields written once in `attach` (before any
/// other thread can know the loop exists) and by the job queue living in a `Mutex`.
final class LoopExecutor: SerialExecutor, @unchecked Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private var wake: OpaquePointer?
    private var thread: pthread_t?

    /// Binds the executor to `base` and to the calling thread, which becomes the loop thread.
    func attach(base: OpaquePointer) -> Bool {
        thread = pthread_self()
        let arg = Unmanaged.passUnretained(self).toOpaque()
        wake = event_new(base, -1, 0, { _, _, arg in
            Unmanaged<LoopExecutor>.fromOpaque(arg!).takeUnretainedValue().drain()
        }, arg)
        guard wake != nil else { return false }
        if jobs.withLock({ !$0.isEmpty }) { event_active(wake, Int32(EV_READ), 1) }
        return true
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let wasEmpty = jobs.withLock { queue in
            queue.append(unowned)
            return queue.count == 1
        }
        if wasEmpty, let wake { event_active(wake, Int32(EV_READ), 1) }
    }

    private func drain() {
        let batch = jobs.withLock { queue in
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            return taken
        }
        let me = asUnownedSerialExecutor()
        for job in batch { job.runSynchronously(on: me) }
    }

    func isOnLoopThread() -> Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    func checkIsolated() {
        precondition(isOnLoopThread(), "not on the event loop thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        isOnLoopThread()
    }
}
