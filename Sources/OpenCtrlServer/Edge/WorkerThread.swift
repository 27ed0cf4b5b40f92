import CEvent
import Glibc

/// Starts the master's long-lived helper threads: the spawners, the state writer and the event
/// hub's send threads. Each is started by the first work it has, so an idle master keeps its
/// single thread, and is named so `top -H` and `ps -T` say what it is.
enum WorkerThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread; false when none could be made, and the caller
    /// decides how to do without it. `name` has at most 15 bytes.
    static func start(named name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        var thread = pthread_t()
        // The thread takes the retained box and releases it if the body ever returns.
        let rc = pthread_create(&thread, &attributes, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return false
        }
        // Named by the caller, before the thread runs, so it is never seen unnamed.
        cevent_name_thread(thread, name)
        return true
    }
}
