import OpenCtrlServer

/// The instance requests of `InstanceRequests` against the bodies they are built on.
///
/// Invariants: create/put accept exactly the bodies whose `url` normalises (and whose alias and
/// record fit), and store the normalised URL with its scheme as type; patch refuses with the first
/// violation in the order of §8.6 and otherwise hands on what the body said; applying a patch
/// twice changes the record once; every record they produce encodes to JSON that parses back
/// to its fields byte for byte.
enum InstanceRequestChecks {
    static let id = "0123abcd"

    static func run(_ data: [UInt8]) {
        checkCreate(data)
        checkPut(data)
        checkPatch(data)
    }

    private static func message(_ error: APIError) -> String {
        guard case .badRequest(let text) = error else { fail("unexpected \(error)") }
        return text
    }

    /// What normalising the body's `url` gives: the URL or the 400 message.
    private static func expectedURL(_ raw: String?) -> Result<String, APIError> {
        guard let raw, !raw.isEmpty else { return .failure(.invalidBody) }
        do {
            return .success(try InstanceURL.normalize(raw))
        } catch {
            return .failure(.badRequest(error.message))
        }
    }

    private static func checkCreate(_ data: [UInt8]) {
        let result = Result { () throws(APIError) in try InstanceRequests.create(body: data, id: id) }
        guard let body = try? CreateBody.decode(data) else {
            require(result.failure == .invalidBody, "create accepted undecodable \(show(data))")
            return
        }
        var expected = InstanceRecord(id: id)
        switch expectedURL(body.url) {
        case .failure(let error):
            require(result.failure == error, "create of \(show(data)): \(result), expected \(error)")
            return
        case .success(let url):
            expected.url = url
        }
        expected.alias = body.alias ?? ""
        expected.type = InstanceRequests.instanceType(ofURL: expected.url)
        expected.status = "stopped"
        expected.restart = true
        if expected.alias.utf8.count > InstanceRequests.maxAliasBytes {
            require(result.failure.map(message) == "instance alias exceeds maximum length 256",
                    "create of \(show(data)) with a long alias: \(result)")
            return
        }
        if (try? InstanceRequests.ensureEncodedSizeFits(expected)) == nil {
            require(result.failure.map(message) == "instance too large", "create of \(show(data)): \(result)")
            return
        }
        guard case .success(let record) = result else { fail("create refused \(show(data)): \(result)") }
        require(record.jsonBytes == expected.jsonBytes, "create of \(show(data)) made \(record)")
        RecordJSON.check(record)
    }

    private static func checkPut(_ data: [UInt8]) {
        let result = Result { () throws(APIError) in try InstanceRequests.putURL(body: data) }
        guard let body = try? PutBody.decode(data) else {
            require(result.failure == .invalidBody, "put accepted undecodable \(show(data))")
            return
        }
        switch (result, expectedURL(body.url)) {
        case let (.success(url), .success(expected)):
            require(sameBytes(url, expected), "put of \(show(data)) gave \(show(url))")
        case let (.failure(error), .failure(expected)):
            require(error == expected, "put of \(show(data)) refused with \(error), expected \(expected)")
        default:
            fail("put of \(show(data)): \(result), expected \(expectedURL(body.url))")
        }
    }

    private static func checkPatch(_ data: [UInt8]) {
        let result = Result { () throws(APIError) in try InstanceRequests.patch(body: data) }
        let rotation = Result { () throws(APIError) in try InstanceRequests.keyRecordPatchRequestsRotation(body: data) }
        guard let body = try? PatchBody.decode(data) else {
            require(result.failure == .invalidBody && rotation.failure == .invalidBody,
                    "patch accepted undecodable \(show(data))")
            return
        }
        require(rotation.success == (body.action == "restart"), "key rotation for \(show(data)): \(rotation)")
        if let violation = firstViolation(body) {
            require(result.failure.map(message) == violation, "patch of \(show(data)): \(result), expected \(violation)")
            return
        }
        guard case .success(let request) = result else { fail("patch refused \(show(data)): \(result)") }
        require(sameBytes(request.alias, body.alias) && request.restart == body.restart
                    && request.tags == body.meta?.tags && sameBytes(request.peer?.sid, body.meta?.peer?.sid)
                    && sameBytes(request.peer?.type, body.meta?.peer?.type)
                    && sameBytes(request.peer?.alias, body.meta?.peer?.alias)
                    && request.action?.rawValue == (body.action?.isEmpty == false ? body.action : nil),
                "patch of \(show(data)) gave \(request)")
        checkApply(request, data)
    }

    /// §8.6 steps 3–6, in order; tags in ascending key order (as `PatchMeta` stores them).
    private static func firstViolation(_ body: PatchBody) -> String? {
        let limit = 256
        if let alias = body.alias, alias.utf8.count > limit { return "instance alias exceeds maximum length 256" }
        if let action = body.action, !action.isEmpty, !["start", "stop", "restart", "reset"].contains(action) {
            return "Invalid action: \(action)"
        }
        if let peer = body.meta?.peer {
            for (field, value) in [("sid", peer.sid), ("type", peer.type), ("alias", peer.alias)]
            where value.utf8.count > limit {
                return "meta peer.\(field) exceeds maximum length 256"
            }
        }
        if let tags = body.meta?.tags {
            for tag in tags {
                if tag.key.utf8.count > limit { return "meta tag key exceeds maximum length 256" }
                if tag.value.utf8.count > limit { return "meta tag value exceeds maximum length 256" }
            }
            if tags.count > 128 { return "meta tags exceed maximum count 128" }
        }
        return nil
    }

    private static func checkApply(_ request: InstanceRequests.PatchRequest, _ data: [UInt8]) {
        var record = InstanceRecord(id: id)
        record.alias = "old"
        record.type = "tcp"
        record.status = "running"
        record.url = "tcp://127.0.0.1:1"
        record.tags = [Tag(key: "a", value: "1")]
        let before = record
        let changed: Bool
        do {
            changed = try InstanceRequests.apply(request, to: &record)
        } catch {
            require(record.jsonBytes == before.jsonBytes, "refused patch of \(show(data)) changed the record")
            return
        }
        require(changed == (record.jsonBytes != before.jsonBytes), "apply of \(show(data)) reported changed=\(changed)")
        RecordJSON.check(record)
        let again = try? InstanceRequests.apply(request, to: &record)
        require(again == false, "applying the patch of \(show(data)) twice changed the record twice")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
