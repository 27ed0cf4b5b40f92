/// `GET <P>/events` (CONTRACT §8.9, §13) and API key rotation (§4.4), which ends every stream.
extension Master {
    static let eventStreamHeaders: [(name: String, value: String)] = HTTPConventions.cors + [
        (name: "Content-Type", value: "text/event-stream"),
        (name: "Cache-Control", value: "no-cache"),
        (name: "Connection", value: "keep-alive"),
    ]

    /// Starts the stream and registers the watcher in this same turn of the loop, so its
    /// snapshot and its first live event cannot be separated by a publication.
    func openEventStream(_ request: Request) {
        let lastEventID = request.header("Last-Event-ID")
        guard let stream = request.startStream(
            headers: Self.eventStreamHeaders,
            directWrites: events.directWrites,
            // A stream that got `shutdown` is flushed by libevent alone, under this deadline.
            endTimeoutSeconds: events.limits.stallSeconds
        ) else { return }
        events.subscribe(stream, records: registry.sortedJSON, lastEventID: lastEventID)
    }

    /// Our order (§4.4): the new key is fsynced before anyone can use it; then, in one turn of
    /// the loop, it replaces the old one, every watcher that connected with the old key gets
    /// `shutdown` and is closed, and only then is the `update` carrying the new key published.
    func rotateKey() async throws(APIError) -> Response {
        while rotating { await withCheckedContinuation { rotationWaiters.append($0) } }
        rotating = true
        defer {
            rotating = false
            let waiters = rotationWaiters
            rotationWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        let key = Identifiers.apiKey()
        registry.rotatingKey = key
        let outcome = await store.commit(.all)
        registry.rotatingKey = nil
        guard outcome == .saved else {
            // A write that started meanwhile may have carried the new key: put the old one back.
            store.noteChange(.all)
            throw .internalError("state save failed")
        }
        registry.keyRecord.url = key
        Log.info("Master.handlePatchInstance: API key regenerated: \(key)")
        events.shutdownAll()
        events.publish(.update, registry.keyJSON)
        return HTTPConventions.json(status: 200, object: registry.keyJSON)
    }
}
