/// `GET <P>/instances/{id}/process` (CONTRACT §22.3).
extension Master {
    func instanceProcess(id: String) throws(APIError) -> Response {
        guard registry.instance(id) != nil else { throw .notFound("instance not found") }
        throw .internalError("process facts are not implemented yet")
    }
}
