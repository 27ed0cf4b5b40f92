import CEvent
import Glibc

/// The number of CPUs this process may run on (its affinity mask), as Go's `runtime.NumCPU`.
func affinityCPUCount() -> Int {
    Int(max(1, cevent_affinity_cpu_count()))
}

/// Raises the open-file soft limit to the hard limit, as the Go runtime does: every watcher,
/// child pipe and probe is a descriptor, and distributions default the soft limit to 1024.
/// Returns the limit now in force.
func raiseOpenFileLimit() -> UInt64 {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return UInt64(limit.rlim_cur)
}

/// The shutdown signals are blocked while the master starts, so one arriving before its
/// signal events exist is delivered to them afterwards instead of killing the process
/// mid-startup (libevent catches them with sigaction; a blocked signal stays pending).
func blockShutdownSignals(_ block: Bool) {
    var set = sigset_t()
    sigemptyset(&set)
    for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, number) }
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nil)
}
