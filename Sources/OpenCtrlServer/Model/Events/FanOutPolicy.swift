/// How many threads share the sends of one flush, and when they are worth waking (issue 13;
/// docs/ARCHITECTURE.md, "The event stream"). The loop always decides and always sends too;
/// helpers only add cores for the one part that scales with the watcher count, the `send` per
/// watcher.
public struct FanOutPolicy: Sendable, Equatable {
    /// Threads besides the loop's.
    public let helpers: Int
    /// Direct-write watchers a flush needs before the helpers are woken.
    public let threshold: Int

    public init(helpers: Int, threshold: Int) {
        self.helpers = helpers
        self.threshold = threshold
    }

    /// The loop plus its helpers never outnumber this, however many cores there are: past it,
    /// the senders contend on the loopback device and the socket memory accounting instead of
    /// adding throughput.
    public static let maxThreads = 8

    /// Below this many direct-write watchers, waking the helpers costs about what their share
    /// of the sends saves (docs/PERFORMANCE.md, "Fan-out on every core").
    public static let automaticThreshold = 256

    /// One thread per core the process may run on, at most `maxThreads`, so none on one core.
    /// `override` is `OPENCTRL_TEST_FANOUT_HELPERS` (tests and benchmarks only, docs/master.md):
    /// a count from 0 to 64 forces that many helpers and uses them for every flush that has a
    /// direct-write watcher, so a test with three watchers exercises the shared path.
    public static func resolve(allowedCPUs: Int, override: String?) -> FanOutPolicy {
        if let override, let forced = Int(override), (0...64).contains(forced) {
            return FanOutPolicy(helpers: forced, threshold: 1)
        }
        let threads = min(max(allowedCPUs, 1), maxThreads)
        return FanOutPolicy(helpers: threads - 1, threshold: automaticThreshold)
    }

    /// Whether a flush with this many direct-write watchers shares its sends.
    public func sharesSends(directWatchers: Int) -> Bool {
        helpers > 0 && directWatchers >= threshold
    }

    /// Descriptors per claim. Each thread should get several claims, so one that loses its core
    /// mid-flush leaves little for the others to wait on; 64 sends (about a millisecond here)
    /// make the claim itself cost nothing by comparison.
    public static func chunkSize(descriptors: Int, threads: Int) -> Int {
        max(1, min(64, descriptors / (max(threads, 1) * 4)))
    }
}
