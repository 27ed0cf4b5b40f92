/// The pure part of the instance routes (CONTRACT §8.4, §8.6, §8.7, §4.4, §20): what a body must
/// satisfy and what it does to a record. Handlers add the registry, the lifecycle lock, events and
/// saving; every refusal here is an `APIError` carrying the contract's exact text.
public enum InstanceRequests {
    public static let maxAliasBytes = 256
    public static let maxPeerFieldBytes = 256
    public static let maxTagKeyBytes = 256
    public static let maxTagValueBytes = 256
    public static let maxTags = 128
    public static let maxEncodedInstanceBytes = 32 * 1024

    private static let instanceTooLarge = APIError.badRequest("instance too large")

    /// `POST /instances`. The checks the original makes (a usable URL) come before ours (alias
    /// length, encoded size), so a body the original refuses gets the original's message.
    public static func create(body: [UInt8], id: String) throws(APIError) -> InstanceRecord {
        let request = try decode(body, with: CreateBody.decode)
        let url = try validatedURL(request.url)
        let alias = request.alias ?? ""
        try ensure(alias, fitsIn: maxAliasBytes, "instance alias")
        var record = InstanceRecord(id: id)
        record.alias = alias
        record.type = instanceType(ofURL: url)
        record.status = "stopped"
        record.url = url
        record.restart = true
        try ensureEncodedSizeFits(record)
        return record
    }

    /// `PATCH /instances/{id}` for an ordinary instance, checked in the order of §8.6 steps 3–6 so
    /// that a body with several violations always gets the same message.
    public static func patch(body: [UInt8]) throws(APIError) -> PatchRequest {
        let request = try decode(body, with: PatchBody.decode)
        if let alias = request.alias {
            try ensure(alias, fitsIn: maxAliasBytes, "instance alias")
        }
        var action: PatchAction?
        if let raw = request.action, !raw.isEmpty {
            guard let known = PatchAction(rawValue: raw) else { throw .badRequest("Invalid action: \(raw)") }
            action = known
        }
        if let peer = request.meta?.peer {
            try ensure(peer.sid, fitsIn: maxPeerFieldBytes, "meta peer.sid")
            try ensure(peer.type, fitsIn: maxPeerFieldBytes, "meta peer.type")
            try ensure(peer.alias, fitsIn: maxPeerFieldBytes, "meta peer.alias")
        }
        if let tags = request.meta?.tags {
            // `PatchMeta` keeps tags sorted by key bytes, which makes the first violation reported
            // the same on every run (the original walked a Go map in random order).
            for tag in tags {
                try ensure(tag.key, fitsIn: maxTagKeyBytes, "meta tag key")
                try ensure(tag.value, fitsIn: maxTagValueBytes, "meta tag value")
            }
            guard tags.count <= maxTags else { throw .badRequest("meta tags exceed maximum count \(maxTags)") }
        }
        return PatchRequest(
            alias: request.alias, action: action, restart: request.restart,
            peer: request.meta?.peer, tags: request.meta?.tags)
    }

    /// The field part of a PATCH (§8.6 step 8 without `reset` and the actions, which belong to the
    /// lifecycle). Returns whether the record changed, and so whether to save and emit `update`.
    ///
    /// Strings compare by bytes, not with `String ==`: a canonically equivalent but differently
    /// encoded alias is a different stored value, and Go would store it.
    public static func apply(_ request: PatchRequest, to record: inout InstanceRecord) throws(APIError) -> Bool {
        var next = record
        var changed = false
        if let alias = request.alias, !alias.isEmpty, !sameBytes(alias, record.alias) {
            next.alias = alias
            changed = true
        }
        if let restart = request.restart, restart != record.restart {
            next.restart = restart
            changed = true
        }
        if let peer = request.peer, !sameBytes(peer, record.peer) {
            next.peer = peer
            changed = true
        }
        if let tags = request.tags, tags != record.tags {
            next.tags = tags
            changed = true
        }
        guard changed else { return false }
        try ensureEncodedSizeFits(next)
        record = next
        return true
    }

    /// `PUT /instances/{id}`: the normalised URL. The handler checks the conflict with the stored
    /// URL, then `ensureEncodedSizeFits` on the record carrying it, before stopping anything.
    public static func putURL(body: [UInt8]) throws(APIError) -> String {
        try validatedURL(decode(body, with: PutBody.decode).url)
    }

    /// `PATCH /instances/********` validates nothing beyond JSON decoding (§4.4); only an `action`
    /// of exactly `restart` rotates the key, anything else answers the unchanged record.
    public static func keyRecordPatchRequestsRotation(body: [UInt8]) throws(APIError) -> Bool {
        try decode(body, with: PatchBody.decode).action == PatchAction.restart.rawValue
    }

    /// The instance `type` for a URL returned by `create` or `putURL`: its scheme, which
    /// normalisation has lowercased and which always ends at the first `:`.
    public static func instanceType(ofURL normalizedURL: String) -> String {
        String(decoding: normalizedURL.utf8.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
    }

    /// The 32 KiB cap (§13.2, §20) keeps every SSE frame that carries the record within what
    /// dashboards read. Status and metrics change later without any request to refuse, so the
    /// record is measured with them at their widest: a record accepted once stays within the cap
    /// whatever the lifecycle and checkpoints do to it, and the answer does not depend on them.
    public static func ensureEncodedSizeFits(_ record: InstanceRecord) throws(APIError) {
        var widest = record
        widest.status = "stopped"  // as long as "running"; "error" is shorter
        widest.mode = .min
        widest.ping = .min
        widest.pool = .min
        widest.tcps = .min
        widest.udps = .min
        widest.tcprx = .max
        widest.tcptx = .max
        widest.udprx = .max
        widest.udptx = .max
        guard widest.jsonBytes.count <= maxEncodedInstanceBytes else { throw instanceTooLarge }
    }

    private static func decode<Body>(
        _ body: [UInt8], with decoder: ([UInt8]) throws(BodyError) -> Body
    ) throws(APIError) -> Body {
        do {
            return try decoder(body)
        } catch {
            throw .invalidBody
        }
    }

    /// A missing or empty `url` is a malformed body rather than a URL error (§8.4 step 1, §8.7 step 2).
    private static func validatedURL(_ raw: String?) throws(APIError) -> String {
        guard let raw, !raw.isEmpty else { throw .invalidBody }
        do {
            return try InstanceURL.normalize(raw)
        } catch {
            throw .badRequest(error.message)
        }
    }

    private static func ensure(_ text: String, fitsIn limit: Int, _ field: StaticString) throws(APIError) {
        guard text.utf8.count <= limit else { throw .badRequest("\(field) exceeds maximum length \(limit)") }
    }

    private static func sameBytes(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    private static func sameBytes(_ a: Peer, _ b: Peer) -> Bool {
        sameBytes(a.sid, b.sid) && sameBytes(a.type, b.type) && sameBytes(a.alias, b.alias)
    }
}

extension InstanceRequests {
    /// A PATCH body that passed validation. `nil` leaves a field alone; `peer` and `tags` are present
    /// only when the body held a non-null `meta` with them, and `tags` is sorted and unique by key bytes.
    public struct PatchRequest: Equatable, Sendable {
        /// Kept as sent: `""` is a valid value that `apply` ignores (an alias cannot be cleared).
        public var alias: String?
        /// `nil` for a missing, `null` or empty `action`.
        public var action: PatchAction?
        public var restart: Bool?
        public var peer: Peer?
        public var tags: [Tag]?

        public init(alias: String? = nil, action: PatchAction? = nil, restart: Bool? = nil, peer: Peer? = nil, tags: [Tag]? = nil) {
            self.alias = alias
            self.action = action
            self.restart = restart
            self.peer = peer
            self.tags = tags
        }
    }

    public enum PatchAction: String, Sendable {
        case start, stop, restart, reset
    }
}
