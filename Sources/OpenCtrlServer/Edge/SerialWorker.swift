import Glibc

/// One long-lived thread for blocking work (state writes and fsyncs), so the loop never waits
/// on the disk and a write does not pay for creating a thread (a sequential client makes two
/// writes per create/delete cycle). Started by the first job, so an idle master that never
/// writes keeps its single thread. Jobs run one at a time in submission order.
final class SerialWorker: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `lock`.
    private var jobs: [@Sendable () -> Void] = []
    private var started = false

    init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs only when the thread was never started: a started one holds the worker for good, so
    /// the lock and condition are never freed under a waiting thread.
    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(lock)
        wake.deallocate()
        lock.deallocate()
    }

    /// Queues `job` for the thread, starting it with the first job.
    func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(lock)
        jobs.append(job)
        let start = !started
        started = true
        pthread_cond_signal(wake)
        pthread_mutex_unlock(lock)
        // The thread keeps the worker for the life of the process.
        if start && !WorkerThread.start(named: "openctrl-state", { self.run() }) {
            // No thread could be made: run inline rather than lose the write.
            pthread_mutex_lock(lock)
            started = false
            let pending = jobs
            jobs.removeAll()
            pthread_mutex_unlock(lock)
            for job in pending { job() }
        }
    }

    private func run() -> Never {
        while true {
            pthread_mutex_lock(lock)
            while jobs.isEmpty { pthread_cond_wait(wake, lock) }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(lock)
            job()
        }
    }
}
