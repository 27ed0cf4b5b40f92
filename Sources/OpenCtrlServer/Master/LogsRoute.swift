/// `GET <P>/instances/{id}/logs` (CONTRACT §22.2): the instance's history, newest `tail`
/// entries or those after `after`, as JSON or plain text. The 404 comes before the query is
/// looked at (§22.1 order).
extension Master {
    func instanceLogs(id: String, query: String?) throws(APIError) -> Response {
        guard let instance = registry.instance(id) else { throw .notFound("instance not found") }
        let parsed = try HistoryQuery.parse(Array((query ?? "").utf8))
        guard parsed.text else {
            return HTTPConventions.json(status: 200, object: instance.history.json(id: id, tail: parsed.tail, after: parsed.after))
        }
        return Response(
            status: 200, headers: HTTPConventions.cors + [(name: "Content-Type", value: "text/plain; charset=utf-8")],
            body: instance.history.text(tail: parsed.tail, after: parsed.after))
    }
}
