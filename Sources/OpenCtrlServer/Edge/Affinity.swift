import CEvent

/// The number of CPUs this process may run on (its affinity mask), as Go's `runtime.NumCPU`.
func affinityCPUCount() -> Int {
    Int(max(1, cevent_affinity_cpu_count()))
}
