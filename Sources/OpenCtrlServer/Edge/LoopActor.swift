import CEvent
import Glibc
import Synchronization

/// The global actor whose executor is the libevent loop thread.
///
/// Everything that touches libevent, the registry or a connection is `@LoopActor`, so the
/// compiler keeps that state on the loop thread. Work from other threads (the state writer,
/// the spawner) comes back through `LoopActor.schedule`, which queues it on this executor and
/// wakes the loop through a libevent event. (A `Task` started on a thread that is not the loop
/// would first go through Swift's global executor and bring its thread pool to life.)
@globalActor
public actor LoopActor {
    public static let shared = LoopActor()
    nonisolated let executor = LoopExecutor()

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    // Loop tasks prefer the loop as their task executor: a suspended task that resumes (a
    // continuation answered by the state writer, say) first runs on a "generic" executor before
    // it hops back to this actor, and without a preference that is Swift's global pool, whose
    // threads would then exist just to bounce work back to the loop.
    /// Starts a task on the loop that prefers the loop as its task executor (see above).
    public static func task(_ body: @escaping @Sendable @LoopActor () async -> Void) {
        Task(executorPreference: shared.executor) { await body() }
    }

    /// Runs `work` on the loop thread soon; callable from any thread.
    public static func schedule(_ work: @escaping @Sendable @LoopActor () -> Void) {
        shared.executor.schedule(work)
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
final class LoopExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    private let jobs = Mutex<(jobs: [UnownedJob], closures: [@Sendable @LoopActor () -> Void])>(([], []))
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
        if jobs.withLock({ !$0.jobs.isEmpty || !$0.closures.isEmpty }) { event_active(wake, Int32(EV_READ), 1) }
        return true
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let wasEmpty = jobs.withLock { queue in
            queue.jobs.append(unowned)
            return queue.jobs.count + queue.closures.count == 1
        }
        if wasEmpty, let wake { event_active(wake, Int32(EV_READ), 1) }
    }

    func schedule(_ work: @escaping @Sendable @LoopActor () -> Void) {
        let wasEmpty = jobs.withLock { queue in
            queue.closures.append(work)
            return queue.jobs.count + queue.closures.count == 1
        }
        if wasEmpty, let wake { event_active(wake, Int32(EV_READ), 1) }
    }

    private func drain() {
        let batch = jobs.withLock { queue in
            let taken = queue
            queue.jobs.removeAll(keepingCapacity: true)
            queue.closures.removeAll(keepingCapacity: true)
            return taken
        }
        let serial = asUnownedSerialExecutor()
        let task = asUnownedTaskExecutor()
        for job in batch.jobs { job.runSynchronously(isolatedTo: serial, taskExecutor: task) }
        for work in batch.closures { LoopActor.assumeIsolated { work() } }
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
