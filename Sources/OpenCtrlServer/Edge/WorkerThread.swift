import Glibc

/// Runs blocking work (file writes and fsyncs) on a short-lived detached thread, so the
/// loop never waits on the disk. One write runs at a time, so at most one such thread exists;
/// creating it per write keeps the idle process at one thread.
enum WorkerThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func detach(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        var thread = pthread_t()
        // The thread takes the retained box and releases it when the body returns.
        let rc = pthread_create(&thread, &attributes, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            // No thread could be made: run inline rather than lose the write.
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        }
    }
}
