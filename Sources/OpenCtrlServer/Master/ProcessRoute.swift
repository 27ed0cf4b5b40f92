import Glibc

/// `GET <P>/instances/{id}/process` (CONTRACT §22.3): the child behind an instance, with its CPU
/// time and resident set read from `/proc` at the moment of the request.
extension Master {
    func instanceProcess(id: String) throws(APIError) -> Response {
        guard let instance = registry.instance(id) else { throw .notFound("instance not found") }
        let now = ContinuousClock.now
        let pid = instance.child?.pid ?? 0
        let usage = pid > 0 ? Self.childUsage(pid: pid) : (cpu: 0, rss: 0)
        let nextRestart = instance.lifecycle.restartDueAt.map { RFC3339.fromNow(max($0 - now, .zero)) }
        let json = instance.processFacts.json(
            id: instance.id, status: instance.record.status, pid: pid,
            restarts: instance.lifecycle.automaticRestarts, nextRestart: nextRestart,
            cpuSeconds: usage.cpu, rssBytes: usage.rss, now: now)
        return HTTPConventions.json(status: 200, object: json)
    }

    /// The child alone (not its descendants); a child that vanished meanwhile reads as 0.
    static func childUsage(pid: Int32) -> (cpu: Double, rss: UInt64) {
        ChildUsage.parse(stat: ProcReader.read("/proc/\(pid)/stat") ?? "", statm: ProcReader.read("/proc/\(pid)/statm") ?? "",
                         ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))))
    }
}
