import Glibc

/// Helper threads that share a flush's sends with the loop thread (issue 13). The loop
/// publishes a `SendJob`, works on it itself, then waits until every helper that joined has
/// left. While it waits it runs no callback, so no watcher's socket can be closed (only the
/// loop closes them) and no descriptor number can be reused under a helper.
///
/// The threads start with the first shared flush, so an idle master, or one with a few
/// watchers, keeps its single thread; between flushes they sleep on a condition variable.
final class SendPool: @unchecked Sendable {
    let helpers: Int
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `lock`: the job helpers may still join, a count that moves with each new
    /// one, and how many helpers are inside a job.
    private var job: SendJob?
    private var generation = 0
    private var working = 0
    /// Loop only.
    private var started = false

    init(helpers: Int) {
        self.helpers = helpers
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    /// Runs only when no helper was ever started: each started one holds the pool for good, so
    /// the lock and conditions are never freed under a sleeping helper.
    deinit {
        pthread_cond_destroy(done)
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(lock)
        done.deallocate()
        wake.deallocate()
        lock.deallocate()
    }

    /// Runs `job` on the calling (loop) thread and the helpers; returns when every send ended.
    func send(_ job: SendJob) {
        if !started {
            started = true
            // Fewer helpers only means fewer cores: the loop claims whatever nobody else does.
            // Each thread keeps the pool for the life of the process.
            for _ in 0..<helpers where !WorkerThread.start(named: "openctrl-send", { self.run() }) { break }
        }
        pthread_mutex_lock(lock)
        self.job = job
        generation &+= 1
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
        job.work()
        pthread_mutex_lock(lock)
        // Helpers that wake from here on find nothing to join; the loop waits only for those
        // already sending.
        self.job = nil
        while working > 0 { pthread_cond_wait(done, lock) }
        pthread_mutex_unlock(lock)
    }

    private func run() -> Never {
        var seen = 0
        pthread_mutex_lock(lock)
        while true {
            while generation == seen { pthread_cond_wait(wake, lock) }
            seen = generation
            guard let job else { continue }
            working += 1
            pthread_mutex_unlock(lock)
            job.work()
            pthread_mutex_lock(lock)
            working -= 1
            if working == 0 { pthread_cond_signal(done) }
        }
    }
}
