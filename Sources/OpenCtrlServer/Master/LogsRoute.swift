/// `GET <P>/instances/{id}/logs` (CONTRACT §22.2).
extension Master {
    func instanceLogs(id: String, query: String?) throws(APIError) -> Response {
        guard registry.instance(id) != nil else { throw .notFound("instance not found") }
        throw .internalError("history is not implemented yet")
    }
}
