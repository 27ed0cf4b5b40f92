/// `GET` and `POST <P>/info` (CONTRACT §8.1, §8.2, §15).
extension Master {
    static let maxAliasBytes = 256

    func infoResponse() -> Response {
        let host = hostMetrics.current()
        let key = registry.keyRecord
        var w = JSONWriter(reservingCapacity: 512)
        // Keys in byte order, as Go emits a map.
        w.raw("{\"alias\":"); w.string(key.alias)
        w.raw(",\"arch\":"); w.string(BuildInfo.arch)
        w.raw(",\"cpu\":"); w.int(Int64(cpuSampler.percent))
        w.raw(",\"crt\":"); w.string(config.crt)
        w.raw(",\"diskr\":"); w.uint(host.diskRead)
        w.raw(",\"diskw\":"); w.uint(host.diskWrite)
        w.raw(",\"key\":"); w.string(config.key)
        w.raw(",\"log\":\"default\"")
        w.raw(",\"mem_total\":"); w.uint(host.memTotal)
        w.raw(",\"mem_used\":"); w.uint(host.memUsed)
        w.raw(",\"mid\":"); w.string(key.config)
        w.raw(",\"name\":"); w.string(config.name)
        w.raw(",\"netrx\":"); w.uint(host.netRx)
        w.raw(",\"nettx\":"); w.uint(host.netTx)
        w.raw(",\"noc\":"); w.int(Int64(cpuCount))
        w.raw(",\"os\":"); w.string(BuildInfo.os)
        w.raw(",\"swap_total\":"); w.uint(host.swapTotal)
        w.raw(",\"swap_used\":"); w.uint(host.swapUsed)
        w.raw(",\"sysup\":"); w.uint(host.uptime)
        w.raw(",\"tls\":"); w.string(config.tls.rawValue)
        w.raw(",\"uptime\":"); w.uint(UInt64(max(0, (ContinuousClock.now - startedAt).components.seconds)))
        w.raw(",\"ver\":"); w.string(BuildInfo.version)
        w.raw("}\n")
        return HTTPConventions.json(status: 200, body: w.bytes)
    }

    func postInfo(_ request: Request) async throws(APIError) -> Response {
        let body: InfoBody
        do throws(BodyError) {
            body = try InfoBody.decode(request.body)
        } catch {
            throw .invalidBody
        }
        let alias = body.alias ?? ""
        guard alias.utf8.count <= Self.maxAliasBytes else {
            throw .badRequest("Master alias exceeds maximum length 256")
        }
        let unchanged = registry.keyRecord.alias.utf8.elementsEqual(alias.utf8)
        registry.keyRecord.alias = alias
        if unchanged && !store.isDirty { return infoResponse() }
        if case .failed(let error) = await store.commit(.all) {
            throw .internalError("state save failed: \(error)")
        }
        return infoResponse()
    }
}
