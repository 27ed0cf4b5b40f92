/// `GET <P>/instances/{id}/process` (CONTRACT §22.3): the child behind an instance, with its CPU
/// time and resident set read from `/proc/<pid>/stat` at the moment of the request.
extension Master {
    func instanceProcess(id: String) throws(APIError) -> Response {
        guard let instance = registry.instance(id) else { throw .notFound("instance not found") }
        let now = ContinuousClock.now
        let pid = instance.child?.pid ?? 0
        // The child alone, not its descendants; a child that vanished meanwhile reads as 0.
        let stat = pid > 0 ? ProcessStat.read(pid: pid) ?? ProcessStat() : ProcessStat()
        let nextRestart = instance.lifecycle.restartDueAt.map { RFC3339.fromNow(max($0 - now, .zero)) }
        let json = instance.processFacts.json(
            id: instance.id, status: instance.record.status, pid: pid,
            restarts: instance.lifecycle.automaticRestarts, nextRestart: nextRestart,
            cpuSeconds: Double(stat.cpuTicks) / ProcessStat.ticksPerSecond, rssBytes: stat.residentPages &* ProcessStat.pageSize,
            now: now)
        return HTTPConventions.json(status: 200, object: json)
    }
}
