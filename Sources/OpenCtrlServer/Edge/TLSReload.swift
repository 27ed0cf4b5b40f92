/// When mode 2 re-reads its files (CONTRACT §3.3): on a handshake at least `interval` after
/// the previous attempt. Every attempt counts, failed or not, so a broken file is retried no
/// sooner than an interval later; without handshakes nothing is re-read.
struct TLSReloadSchedule {
    static let standardInterval: Duration = .seconds(3600)

    let interval: Duration
    private(set) var lastAttempt: ContinuousClock.Instant

    /// `loadedAt` is the startup load, which counts as the first attempt.
    init(interval: Duration, loadedAt: ContinuousClock.Instant) {
        self.interval = interval
        lastAttempt = loadedAt
    }

    /// Whether a handshake at `now` re-reads the files; a yes records the attempt.
    mutating func attemptDue(now: ContinuousClock.Instant) -> Bool {
        guard now - lastAttempt >= interval else { return false }
        lastAttempt = now
        return true
    }

    /// The hour, or for the test suite only `OPENCTRL_TEST_TLS_RELOAD_SECONDS=<seconds>`
    /// (a positive number; anything else keeps the hour; documented in docs/master.md).
    static func interval(testOverride raw: String?) -> Duration {
        guard let raw, let seconds = Double(raw), seconds > 0, seconds.isFinite else { return standardInterval }
        return .seconds(seconds)
    }
}

/// Mode 2's files and their reload schedule. Reads happen on the loop thread, inside the
/// handshake that asked for them, as in the original: two small files once an hour.
@LoopActor
final class TLSCertificateReloader {
    let crt: String
    let key: String
    private var schedule: TLSReloadSchedule

    init(crt: String, key: String, interval: Duration, loadedAt: ContinuousClock.Instant) {
        self.crt = crt
        self.key = key
        schedule = TLSReloadSchedule(interval: interval, loadedAt: loadedAt)
    }

    /// Re-reads the files when due and hands the new identity to `install`; logs the outcome
    /// of every attempt with the original's lines. A failure leaves the old certificate in place.
    func reloadIfDue(now: ContinuousClock.Instant, install: (TLSIdentity) throws(TLSError) -> Void) {
        guard schedule.attemptDue(now: now) else { return }
        do {
            try install(TLSIdentity.load(crt: crt, key: key))
            Log.info("Master.newServerTLSConfig: certificate reloaded: \(crt)")
        } catch {
            Log.info("Master.newServerTLSConfig: certificate reload failed: \(error)")
        }
    }
}
