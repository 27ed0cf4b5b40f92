// Typed request bodies with the decoding rules of Go's `encoding/json` on the original's request
// structs (CONTRACT §7.2): top-level `null` leaves every field absent, unknown keys are ignored,
// a key selects a field when it equals the name or matches it ASCII-case-insensitively, members
// apply in document order (so the last one wins), and a wrong JSON type fails the whole body.
// Length limits and other validation belong to the handlers.

/// The only answer to a body that does not decode: `400 {"error":"Invalid request body"}`.
public enum BodyError: Error, Equatable, Sendable {
    case invalidRequestBody

    public var message: String { "Invalid request body" }
}

/// `POST /info`. Go field `Alias string`: `null` leaves it unchanged.
public struct InfoBody: Equatable, Sendable {
    public var alias: String?

    public init(alias: String? = nil) {
        self.alias = alias
    }

    public static func decode(_ body: [UInt8]) throws(BodyError) -> InfoBody {
        var result = InfoBody()
        for member in try BodyFields.members(body) where BodyFields.key(member.key, is: "alias") {
            try BodyFields.decodeString(member.value, into: &result.alias)
        }
        return result
    }
}

/// `POST /instances`. Go fields `Alias string`, `URL string`.
public struct CreateBody: Equatable, Sendable {
    public var alias: String?
    public var url: String?

    public init(alias: String? = nil, url: String? = nil) {
        self.alias = alias
        self.url = url
    }

    public static func decode(_ body: [UInt8]) throws(BodyError) -> CreateBody {
        var result = CreateBody()
        for member in try BodyFields.members(body) {
            if BodyFields.key(member.key, is: "alias") {
                try BodyFields.decodeString(member.value, into: &result.alias)
            } else if BodyFields.key(member.key, is: "url") {
                try BodyFields.decodeString(member.value, into: &result.url)
            }
        }
        return result
    }
}

/// `PUT /instances/{id}`. Go field `URL string`.
public struct PutBody: Equatable, Sendable {
    public var url: String?

    public init(url: String? = nil) {
        self.url = url
    }

    public static func decode(_ body: [UInt8]) throws(BodyError) -> PutBody {
        var result = PutBody()
        for member in try BodyFields.members(body) where BodyFields.key(member.key, is: "url") {
            try BodyFields.decodeString(member.value, into: &result.url)
        }
        return result
    }
}

/// `PATCH /instances/{id}`. Go declares `Alias string`, `Action string`, `Restart *bool` and
/// `Meta *struct{ Peer *peer; Tags map[string]string }`. Go's pointer and map rules follow:
/// `null` makes `restart`, `meta`, `peer` and `tags` absent again, and a repeated `meta`, `peer`
/// or `tags` object is merged into the one decoded before it rather than replacing it.
public struct PatchBody: Equatable, Sendable {
    public var alias: String?
    public var action: String?
    public var restart: Bool?
    public var meta: PatchMeta?

    public init(alias: String? = nil, action: String? = nil, restart: Bool? = nil, meta: PatchMeta? = nil) {
        self.alias = alias
        self.action = action
        self.restart = restart
        self.meta = meta
    }

    public static func decode(_ body: [UInt8]) throws(BodyError) -> PatchBody {
        var result = PatchBody()
        for member in try BodyFields.members(body) {
            if BodyFields.key(member.key, is: "alias") {
                try BodyFields.decodeString(member.value, into: &result.alias)
            } else if BodyFields.key(member.key, is: "action") {
                try BodyFields.decodeString(member.value, into: &result.action)
            } else if BodyFields.key(member.key, is: "restart") {
                switch member.value {
                case .null: result.restart = nil
                case .bool(let value): result.restart = value
                default: throw .invalidRequestBody
                }
            } else if BodyFields.key(member.key, is: "meta") {
                guard let members = try BodyFields.objectOrNull(member.value) else {
                    result.meta = nil
                    continue
                }
                var meta = result.meta ?? PatchMeta()
                try meta.merge(members)
                result.meta = meta
            }
        }
        return result
    }
}

public struct PatchMeta: Equatable, Sendable {
    /// Fields the body leaves out are `""`: a present peer replaces all three (CONTRACT §8.6).
    public var peer: Peer?
    /// Sorted by key bytes (`bytesLess`), unique by key bytes, the last value for a key winning.
    public var tags: [Tag]?

    public init(peer: Peer? = nil, tags: [Tag]? = nil) {
        self.peer = peer
        self.tags = tags
    }

    fileprivate mutating func merge(_ members: [JSONMember]) throws(BodyError) {
        for member in members {
            if BodyFields.key(member.key, is: "peer") {
                guard let fields = try BodyFields.objectOrNull(member.value) else {
                    peer = nil
                    continue
                }
                var merged = peer ?? Peer()
                try Self.merge(fields, into: &merged)
                peer = merged
            } else if BodyFields.key(member.key, is: "tags") {
                guard let entries = try BodyFields.objectOrNull(member.value) else {
                    tags = nil
                    continue
                }
                var merged = tags ?? []
                for entry in entries {
                    switch entry.value {
                    // Go zeroes a map element before decoding into it, so `null` stores "".
                    case .null: merged.append(Tag(key: entry.key, value: ""))
                    case .string(let value): merged.append(Tag(key: entry.key, value: value))
                    default: throw .invalidRequestBody
                    }
                }
                tags = Self.uniqueSorted(merged)
            }
        }
    }

    private static func merge(_ fields: [JSONMember], into peer: inout Peer) throws(BodyError) {
        for field in fields {
            if BodyFields.key(field.key, is: "sid") {
                try BodyFields.decodeString(field.value, into: &peer.sid)
            } else if BodyFields.key(field.key, is: "type") {
                try BodyFields.decodeString(field.value, into: &peer.type)
            } else if BodyFields.key(field.key, is: "alias") {
                try BodyFields.decodeString(field.value, into: &peer.alias)
            }
        }
    }

    /// Map semantics on a list: sort by key bytes with document position as the tie-break, then
    /// keep the last entry of each run of equal keys. Keys compare by bytes, not by `String ==`,
    /// so canonically equivalent spellings stay distinct tags, as in Go.
    private static func uniqueSorted(_ entries: [Tag]) -> [Tag] {
        let order = entries.indices.sorted { a, b in
            let keyA = entries[a].key, keyB = entries[b].key
            if bytesLess(keyA, keyB) { return true }
            if bytesLess(keyB, keyA) { return false }
            return a < b
        }
        var result: [Tag] = []
        result.reserveCapacity(entries.count)
        for index in order {
            if let last = result.last, last.key.utf8.elementsEqual(entries[index].key.utf8) {
                result[result.count - 1] = entries[index]
            } else {
                result.append(entries[index])
            }
        }
        return result
    }
}

private enum BodyFields {
    /// The members of a body that must be an object, or none for a top-level `null`.
    static func members(_ body: [UInt8]) throws(BodyError) -> [JSONMember] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(body)
        } catch {
            throw .invalidRequestBody
        }
        return try objectOrNull(document) ?? []
    }

    static func objectOrNull(_ value: JSONValue) throws(BodyError) -> [JSONMember]? {
        switch value {
        case .null: return nil
        case .object(let members): return members
        default: throw .invalidRequestBody
        }
    }

    /// Go `string` field: `null` leaves what an earlier member set.
    static func decodeString(_ value: JSONValue, into field: inout String?) throws(BodyError) {
        switch value {
        case .null: return
        case .string(let string): field = string
        default: throw .invalidRequestBody
        }
    }

    static func decodeString(_ value: JSONValue, into field: inout String) throws(BodyError) {
        switch value {
        case .null: return
        case .string(let string): field = string
        default: throw .invalidRequestBody
        }
    }

    /// Exact or ASCII-case-insensitive match against a lowercase ASCII field name. Go also folds
    /// a few non-ASCII letters (U+017F matches `s`); our rule (CONTRACT §7.2) folds ASCII only.
    static func key(_ key: String, is name: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return key.utf8.elementsEqual(expected) { actual, wanted in
            actual == wanted || (actual >= 0x41 && actual <= 0x5A && actual | 0x20 == wanted)
        }
    }
}
