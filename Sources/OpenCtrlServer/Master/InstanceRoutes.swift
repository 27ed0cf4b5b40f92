/// The read side of `/instances` and the detail route's ID checks (CONTRACT §6 rule 6,
/// §8.3, §8.5, §4.4).
extension Master {
    func listInstances() -> Response {
        var w = JSONWriter(reservingCapacity: 512)
        w.raw("[")
        for (index, record) in registry.sorted.enumerated() {
            if index > 0 { w.raw(",") }
            record.writeJSON(into: &w)
        }
        w.raw("]\n")
        return HTTPConventions.json(status: 200, body: w.bytes)
    }

    func instanceDetail(id: String, method: HTTPMethod, allow: String) throws(APIError) -> Response {
        guard !id.isEmpty else { throw .badRequest("instance ID is required") }
        guard let record = registry[id] else { throw .notFound("instance not found") }
        switch method {
        case .get:
            return HTTPConventions.json(status: 200, object: record.jsonBytes)
        case .put, .delete:
            if id == InstanceRecord.keyRecordID { throw .forbidden("Forbidden: API Key") }
            throw Self.notYetServed
        case .patch:
            throw Self.notYetServed
        default:
            throw .methodNotAllowed(allow: allow)
        }
    }
}
