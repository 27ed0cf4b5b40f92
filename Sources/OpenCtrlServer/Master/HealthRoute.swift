/// `GET <P>/health` (CONTRACT §22.5): one answer for a load balancer and a service manager.
/// Instances are reported, not judged; only shutdown and failing state writes make it 503.
extension Master {
    func healthResponse() -> Response {
        var counts = (running: 0, stopped: 0, error: 0)
        for instance in registry.listed {
            switch instance.lifecycle.status {
            case .running: counts.running += 1
            case .stopped: counts.stopped += 1
            case .error: counts.error += 1
            }
        }
        let failing = store.isFailing
        let healthy = !shuttingDown && !failing
        var w = JSONWriter(reservingCapacity: 160)
        w.raw(healthy ? "{\"status\":\"ok\"" : "{\"status\":\"unavailable\"")
        w.raw(shuttingDown ? ",\"shutting_down\":true" : ",\"shutting_down\":false")
        w.raw(failing ? ",\"state\":\"failing\"" : ",\"state\":\"ok\"")
        w.raw(",\"instances\":{\"running\":")
        w.int(Int64(counts.running))
        w.raw(",\"stopped\":")
        w.int(Int64(counts.stopped))
        w.raw(",\"error\":")
        w.int(Int64(counts.error))
        w.raw("},\"watchers\":")
        w.int(Int64(events.watcherCount))
        w.raw(",\"uptime\":")
        w.int((ContinuousClock.now - startedAt).components.seconds)
        w.raw("}")
        return HTTPConventions.json(status: healthy ? 200 : 503, object: w.bytes)
    }
}
