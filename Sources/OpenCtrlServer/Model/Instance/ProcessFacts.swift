/// What `GET <P>/instances/{id}/process` tells beyond the record (CONTRACT §22.3): when the
/// current child started and how the last one ended. Recorded by the supervisor as the events
/// happen; the restart count lives in `Lifecycle`, which decides restarts.
public struct ProcessFacts: Sendable {
    /// The most recent exit or spawn failure of any child of the instance.
    public struct Exit: Sendable, Equatable {
        /// RFC 3339, as event times are written.
        public var time: String
        public var code: Int32?
        /// `SIGKILL`, `SIGTERM`, …
        public var signal: String?
        /// The text of the master's `instance error:` line for such an ending.
        public var reason: String

        public init(time: String, code: Int32? = nil, signal: String? = nil, reason: String) {
            self.time = time
            self.code = code
            self.signal = signal
            self.reason = reason
        }

        public init(time: String, reason: ExitReason) {
            switch reason {
            case .code(let code): self.init(time: time, code: code, reason: reason.message)
            case .signal(let signo, _): self.init(time: time, signal: Self.signalName(signo), reason: reason.message)
            }
        }

        /// The C names of Linux's signals (amd64 and arm64 share them).
        public static func signalName(_ signo: Int32) -> String {
            if signo >= 1, Int(signo) < names.count { return names[Int(signo)] }
            if signo >= 34 && signo <= 64 { return signo == 34 ? "SIGRTMIN" : "SIGRTMIN+\(signo - 34)" }
            return "SIG\(signo)"
        }

        private static let names = [
            "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
            "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
            "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
            "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
        ]
    }

    /// The running child's start: wall time for the answer, clock instant for its uptime.
    public var started: (time: String, at: ContinuousClock.Instant)?
    public var lastExit: Exit?

    public init() {}

    /// The §22.3 object. `cpu` and `rss` are the child's, read by the caller at request time.
    public func json(
        id: String, status: String, pid: Int32, restarts: Int, nextRestart: String?,
        cpuSeconds: Double, rssBytes: UInt64, now: ContinuousClock.Instant
    ) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 256)
        w.raw("{\"id\":")
        w.string(id)
        w.raw(",\"status\":")
        w.string(status)
        w.raw(",\"pid\":")
        w.int(Int64(pid))
        w.raw(",\"started\":")
        if let started { w.string(started.time) } else { w.null() }
        w.raw(",\"uptime\":")
        let uptime = started.map { now - $0.at } ?? .zero
        w.ascii(Self.milliDecimal(Int64(uptime.components.seconds) * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000))
        w.raw(",\"restarts\":")
        w.int(Int64(restarts))
        w.raw(",\"last_exit\":")
        if let exit = lastExit {
            w.raw("{\"time\":")
            w.string(exit.time)
            w.raw(",\"code\":")
            if let code = exit.code { w.int(Int64(code)) } else { w.null() }
            w.raw(",\"signal\":")
            if let signal = exit.signal { w.string(signal) } else { w.null() }
            w.raw(",\"reason\":")
            w.string(exit.reason)
            w.raw("}")
        } else {
            w.null()
        }
        w.raw(",\"next_restart\":")
        if let nextRestart { w.string(nextRestart) } else { w.null() }
        w.raw(",\"cpu\":")
        w.ascii(Self.milliDecimal(Int64((cpuSeconds * 1000).rounded())))
        w.raw(",\"rss\":")
        w.uint(rssBytes)
        w.raw("}")
        return w.bytes
    }

    /// A non-negative count of thousandths as a JSON number with at most 3 decimals.
    static func milliDecimal(_ millis: Int64) -> String {
        let m = max(0, millis)
        var fraction = String(m % 1000)
        guard fraction != "0" else { return String(m / 1000) }
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(m / 1000).\(fraction)"
    }
}
