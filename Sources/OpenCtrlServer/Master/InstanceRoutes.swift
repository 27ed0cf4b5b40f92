/// `/instances` and `/instances/{id}` (CONTRACT §6 rule 6, §8.3–§8.8, §4.4). Every mutating
/// route answers only after a write containing its change has been fsynced (§21.4).
extension Master {
    static let maxIDAttempts = 8

    func listInstances() -> Response {
        HTTPConventions.json(status: 200, shared: registry.listingBody)
    }

    func createInstance(_ request: Request) async throws(APIError) -> Response {
        var id: String?
        for _ in 0..<Self.maxIDAttempts {
            let candidate = Identifiers.instanceID()
            if !registry.contains(candidate) {
                id = candidate
                break
            }
        }
        guard let id else { throw .conflict("instance ID already exists") }
        let record = try InstanceRequests.create(body: request.body, id: id)
        let instance = registry.add(record)
        let created = instance.json
        events.publish(.create, created)
        // The response shows `stopped` and the start follows the `create` event (§8.4 "Our
        // rule"); children start without waiting for the write (§21.4), so the spawn and the
        // fsync overlap.
        LoopActor.schedule { self.supervisor.send(.start(byOperator: false), to: instance) }
        try Self.requireSaved(await store.commit(.instance(id)))
        return HTTPConventions.json(status: 201, object: created)
    }

    func instanceRecord(id: String) throws(APIError) -> Response {
        guard !id.isEmpty else { throw .badRequest("instance ID is required") }
        guard let json = registry.json(id: id) else { throw .notFound("instance not found") }
        return HTTPConventions.json(status: 200, object: json)
    }

    /// Every method but GET (answered by `instanceRecord`).
    func instanceDetail(id: String, request: Request, allow: String) async throws(APIError) -> Response {
        guard !id.isEmpty else { throw .badRequest("instance ID is required") }
        if id == InstanceRecord.keyRecordID { return try await keyRecordRoute(request, allow: allow) }
        guard let instance = registry.instance(id) else { throw .notFound("instance not found") }
        switch request.method {
        case .patch: return try await patchInstance(instance, body: request.body)
        case .put: return try await putInstance(instance, body: request.body)
        case .delete: return try await deleteInstance(instance)
        default: throw .methodNotAllowed(allow: allow)
        }
    }

    private func keyRecordRoute(_ request: Request, allow: String) async throws(APIError) -> Response {
        switch request.method {
        case .put, .delete:
            throw .forbidden("Forbidden: API Key")
        case .patch:
            if try InstanceRequests.keyRecordPatchRequestsRotation(body: request.body) {
                return try await rotateKey()
            }
            return HTTPConventions.json(status: 200, object: registry.keyJSON)
        default:
            throw .methodNotAllowed(allow: allow)
        }
    }

    private func patchInstance(_ instance: ManagedInstance, body: [UInt8]) async throws(APIError) -> Response {
        let request = try InstanceRequests.patch(body: body)
        var changed = try InstanceRequests.apply(request, to: &instance.record)
        if let restart = request.restart {
            supervisor.send(.setRestart(restart), to: instance)
        }
        if request.action == .reset {
            instance.resetCounters()
            changed = true
        }
        let snapshot = instance.json
        if changed {
            instance.log("Master.handlePatchInstance: instance updated")
            events.publish(.update, snapshot)
        }
        let event: LifecycleEvent? = switch request.action {
        case .start: .start(byOperator: true)
        case .stop: .stop
        case .restart: .restart
        case .reset, nil: nil
        }
        if let event {
            LoopActor.schedule { self.supervisor.send(event, to: instance) }
        }
        if changed { try Self.requireSaved(await store.commit(.instance(instance.id))) }
        return HTTPConventions.json(status: 200, object: snapshot)
    }

    private func putInstance(_ instance: ManagedInstance, body: [UInt8]) async throws(APIError) -> Response {
        let url = try InstanceRequests.putURL(body: body)
        guard !url.utf8.elementsEqual(instance.record.url.utf8) else { throw .conflict("instance URL conflict") }
        var replaced = instance.record
        replaced.url = url
        replaced.type = InstanceRequests.instanceType(ofURL: url)
        try InstanceRequests.ensureEncodedSizeFits(replaced)
        // Stop with the old URL (its `update` carries it), then start with the new one,
        // even if the instance was stopped before (§8.7).
        supervisor.send(.stop, to: instance)
        await supervisor.settled(instance)
        guard registry.instance(instance.id) === instance else { throw .notFound("instance not found") }
        instance.record.url = url
        instance.record.type = replaced.type
        supervisor.send(.start(byOperator: true), to: instance)
        await supervisor.settled(instance)
        try Self.requireSaved(await store.commit(.instance(instance.id)))
        instance.log("Master.handlePutInstance: instance URL updated: \(LogRedaction.url(url))")
        return HTTPConventions.json(status: 200, object: instance.json)
    }

    private func deleteInstance(_ instance: ManagedInstance) async throws(APIError) -> Response {
        supervisor.send(.delete, to: instance)
        await supervisor.settled(instance)
        // The removal noted its change; wait for a write that carries it.
        try Self.requireSaved(await store.durable())
        return HTTPConventions.empty(status: 204)
    }

    static func requireSaved(_ outcome: SaveOutcome) throws(APIError) {
        if case .failed(let error) = outcome { throw .internalError("state save failed: \(error)") }
    }
}
