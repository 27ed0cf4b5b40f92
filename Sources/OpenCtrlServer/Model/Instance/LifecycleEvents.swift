/// The `status` field of an instance (CONTRACT §9.1). The reserved `********` record has no
/// lifecycle and shows `""`, so it is not a case here.
public enum InstanceStatus: String, Equatable, Sendable {
    case stopped, running, error
}

/// What the master feeds into `Lifecycle.handle(_:now:)`.
public enum LifecycleEvent: Equatable, Sendable {
    /// T2. `byOperator` is true for PATCH `start`; false for create, boot auto-start and every
    /// start the lifecycle issues itself. Only operator starts reset the failure count (§11).
    case start(byOperator: Bool)
    /// PATCH `stop`.
    case stop
    /// T9: PATCH `restart` and PUT (a PUT is "stop, set url, start", and the master changes the
    /// URL on the record at once, so the start that follows the stop already spawns the new one).
    case restart
    /// PATCH with a `restart` field: stores the flag that drives automatic restarts (§11).
    case setRestart(Bool)
    /// The master's spawn succeeded (T2c).
    case spawned
    /// The master's spawn failed (T2b).
    case spawnFailed(SpawnFailure)
    /// Both the reaped status and EOF on the output pipe are in, or EOF did not come within 1 s
    /// of the reap (§9.4 "Our rules"), so every line of the run has been handled already.
    /// The group SIGKILL of §12.2 belongs to the reap itself, before this event: it is what
    /// lets EOF arrive when a grandchild still holds the pipe.
    case exited(ExitReason)
    /// A non-checkpoint output line containing `ERROR` (§12.4).
    case errorLine
    /// A valid checkpoint line; the master applies its fields to the record itself (§12.5).
    case checkpoint
    /// The 5 s grace after SIGTERM is over.
    case graceExpired
    /// The restart timer armed by `armRestartTimer` fired.
    case restartDue
    /// Periodic tick, at most `Lifecycle.checkpointCheckInterval` apart, for T7.
    case checkpointCheck
    /// DELETE (T10).
    case delete
    /// Master shutdown (T12). `hurry` is the second SIGINT/SIGTERM: no more grace (§18).
    case shutdown(hurry: Bool)
}

/// Why a spawn produced no process.
public enum SpawnFailure: Equatable, Sendable {
    /// No `bin` configured (§12.1, "Our rule"): nothing is spawned, the reason is also published
    /// as a `log` event, and no `instance starting` line precedes it.
    case noRuntimeBinary
    /// posix_spawn or exec failed, e.g. `fork/exec /x: no such file or directory`.
    case failed(String)

    public var reason: String {
        switch self {
        case .noRuntimeBinary: "no runtime binary configured (start the master with bin=<path>)"
        case .failed(let reason): reason
        }
    }
}

/// How a child ended, rendered as Go's `(*os.ProcessState).String()` renders it, because the
/// T4 log line embeds that text and operators grep for it.
public enum ExitReason: Equatable, Sendable {
    case code(Int32)
    case signal(Int32, coreDumped: Bool = false)

    /// Decodes a Linux `waitpid` status. Stopped and continued statuses are not terminations
    /// (we never pass `WUNTRACED`/`WCONTINUED`, but a caller must not mistake one for an exit).
    public init?(waitStatus: Int32) {
        let low = waitStatus & 0x7F
        switch low {
        case 0: self = .code((waitStatus >> 8) & 0xFF)
        case 0x7F: return nil
        default: self = .signal(low, coreDumped: waitStatus & 0x80 != 0)
        }
    }

    /// `exit status 1`, `signal: killed`, `signal: segmentation fault (core dumped)`.
    public var message: String {
        switch self {
        case .code(let code):
            "exit status \(code)"
        case .signal(let signo, let coreDumped):
            "signal: " + Self.goSignalName(signo) + (coreDumped ? " (core dumped)" : "")
        }
    }

    /// Go's `syscall.Signal.String()` on Linux (amd64 and arm64 share the table):
    /// the names of signals 1–31, `signal <n>` for anything else (real-time signals included).
    public static func goSignalName(_ signo: Int32) -> String {
        if signo >= 1, Int(signo) < goSignalNames.count { return goSignalNames[Int(signo)] }
        return "signal \(signo)"
    }

    private static let goSignalNames = [
        "",
        "hangup", "interrupt", "quit", "illegal instruction", "trace/breakpoint trap",
        "aborted", "bus error", "floating point exception", "killed", "user defined signal 1",
        "segmentation fault", "user defined signal 2", "broken pipe", "alarm clock", "terminated",
        "stack fault", "child exited", "continued", "stopped (signal)", "stopped",
        "stopped (tty input)", "stopped (tty output)", "urgent I/O condition",
        "CPU time limit exceeded", "file size limit exceeded", "virtual timer expired",
        "profiling timer expired", "window changed", "I/O possible", "power failure",
        "bad system call",
    ]
}

/// What the master must do after a `handle` call, in order.
///
/// Effects are executed after `handle` returns, so a snapshot taken for `publishUpdate` or
/// `publishLog` shows the lifecycle's state at the end of the batch.
public enum LifecycleEffect: Equatable, Sendable {
    /// Launch `<bin> <url>` (§12.1); the master logs `instance starting` first (except for
    /// the no-`bin` case) and answers with `.spawned` or `.spawnFailed`. Always last in its batch.
    case spawn
    /// SIGTERM to the child's process group.
    case sendTerm
    /// SIGKILL to the child's process group.
    case sendKill
    case armGraceTimer(Duration)
    case cancelGraceTimer
    case armRestartTimer(Duration)
    case cancelRestartTimer
    /// `ping`, `pool`, `tcps`, `udps` := 0 (never `mode`, never the byte counters).
    case clearLiveMetrics
    /// T2: bases := counters, reset offsets := 0 (§10, "Our rule").
    case resetCountersBase
    /// Publish an `update` event with a fresh snapshot.
    case publishUpdate
    /// Publish a `log` event carrying this text and a fresh snapshot.
    case publishLog(String)
    /// Persist the registry (§21.4 "When to save").
    case save
    /// Log this text through the master's logger, followed by ` [<id>]`.
    case log(String)
    /// DELETE is complete: remove the record from the registry and publish `delete` with the
    /// final (stopped) snapshot.
    case removed
}
