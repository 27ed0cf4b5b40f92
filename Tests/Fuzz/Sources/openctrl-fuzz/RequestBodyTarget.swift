import OpenCtrlServer

/// (3) Request bodies: `JSONParser`, the typed bodies of `RequestBodies.swift` and the
/// create/patch/put rules of `InstanceRequests` (CONTRACT §7.2, §8.4, §8.6, §8.7).
///
/// Invariants: a parsed document re-encoded with `JSONWriter` parses to the same bytes, and
/// surrounding whitespace changes nothing; `JSONWriter.string(utf8:)` output parses and is
/// exactly `quotedLength` long; each body decodes iff the document is an object or `null`, what
/// it decodes re-encodes to a body that decodes the same, and uppercasing the ASCII letters of
/// field names changes nothing (key matching is ASCII-case-insensitive, tag keys are data);
/// `InstanceRequestChecks` covers the instance requests built on top.
enum RequestBodyTarget: FuzzTarget {
    static let name = "request-body"
    static let summary = "JSONParser round trip, Create/Put/Patch/Info bodies, InstanceRequests"

    static func run(_ data: [UInt8]) {
        let document = checkParser(data)
        checkWriter(data)
        checkBodies(data, document)
        InstanceRequestChecks.run(data)
    }

    private static func checkParser(_ data: [UInt8]) -> JSONValue? {
        var document: JSONValue?
        do {
            document = try JSONParser.parse(data)
        } catch {
            require(error.offset >= 0 && error.offset <= data.count, "offset \(error.offset) of \(show(data))")
        }
        let padded = try? JSONParser.parse([0x20, 0x0A] + data + [0x09, 0x0D, 0x20])
        switch (document, padded) {
        case (nil, nil): break
        case let (value?, paddedValue?):
            require(CanonicalJSON.sameBytes(value, paddedValue), "whitespace changed \(show(data))")
        default: fail("surrounding whitespace changes whether \(show(data)) parses")
        }
        guard let document else { return nil }
        let encoded = CanonicalJSON.encode(document)
        let reparsed: JSONValue
        do {
            reparsed = try JSONParser.parse(encoded)
        } catch {
            fail("\(show(data)) re-encoded as \(show(encoded)) does not parse: \(error)")
        }
        require(CanonicalJSON.sameBytes(reparsed, document), "\(show(data)) re-encoded as \(show(encoded)) differs")
        return document
    }

    private static func checkWriter(_ data: [UInt8]) {
        var writer = JSONWriter()
        writer.string(utf8: data)
        require(writer.bytes.count == JSONWriter.quotedLength(utf8: data),
                "quotedLength \(JSONWriter.quotedLength(utf8: data)) != \(writer.bytes.count) for \(show(data))")
        guard case .string(let text)? = try? JSONParser.parse(writer.bytes) else {
            fail("JSONWriter output \(show(writer.bytes)) for \(show(data)) is not a JSON string")
        }
        if let valid = String(validating: data, as: UTF8.self) {
            require(sameBytes(text, valid), "JSONWriter round trip of \(show(data)) gave \(show(text))")
        }
    }

    private static func checkBodies(_ data: [UInt8], _ document: JSONValue?) {
        let outcomes = BodyOutcomes(data)
        guard let document else {
            require(outcomes.allRefused, "\(show(data)) is not JSON but a body decoded")
            return
        }
        switch document {
        case .null:
            require(outcomes == BodyOutcomes(CanonicalJSON.encode(.object([]))), "null body is not empty")
        case .object:
            let folded = BodyOutcomes(CanonicalJSON.encode(upperFieldNames(document)))
            require(folded == outcomes, "uppercased field names change the decoding of \(show(data))")
            outcomes.checkRoundTrips(data)
        default:
            require(outcomes.allRefused, "non-object \(show(data)) decoded")
        }
    }

    /// Field names of every body: the top level, `meta`, and `meta.peer`; `meta.tags` keys are data.
    private static func upperFieldNames(_ document: JSONValue) -> JSONValue {
        upperKeys(document) { key, value in
            guard key.folds(to: "meta") else { return value }
            return upperKeys(value) { key, value in key.folds(to: "peer") ? upperKeys(value) { $1 } : value }
        }
    }

    private static func upperKeys(_ value: JSONValue, _ transformValue: (String, JSONValue) -> JSONValue) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(members.map { member in
            let upper = String(decoding: member.key.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
            return JSONMember(key: upper, value: transformValue(member.key, member.value))
        })
    }
}

extension String {
    /// The contract's key rule, restated independently of the library: exact bytes, or an ASCII
    /// capital letter where the (all lowercase) field name has its small letter.
    func folds(to name: String) -> Bool {
        utf8.elementsEqual(name.utf8) { $0 == $1 || ($0 >= 0x41 && $0 <= 0x5A && $0 | 0x20 == $1) }
    }
}

/// What each body type makes of one request body, as the JSON body that would decode to it
/// (`nil` when refused), so outcomes compare by bytes and re-decode directly.
struct BodyOutcomes: Equatable {
    var create: [UInt8]?
    var put: [UInt8]?
    var info: [UInt8]?
    var patch: [UInt8]?

    init(_ body: [UInt8]) {
        create = (try? CreateBody.decode(body)).map(Self.shape)
        put = (try? PutBody.decode(body)).map(Self.shape)
        info = (try? InfoBody.decode(body)).map(Self.shape)
        patch = (try? PatchBody.decode(body)).map(Self.shape)
        if let decoded = try? PatchBody.decode(body), let tags = decoded.meta?.tags {
            require(zip(tags, tags.dropFirst()).allSatisfy { bytesLess($0.key, $1.key) },
                    "PatchMeta.tags not strictly ascending for \(show(body))")
        }
    }

    var allRefused: Bool { create == nil && put == nil && info == nil && patch == nil }

    /// A decoded body written back with its canonical field names decodes to itself.
    func checkRoundTrips(_ original: [UInt8]) {
        for (label, shape) in [("create", create), ("put", put), ("info", info), ("patch", patch)] {
            guard let shape else { continue }
            let again = BodyOutcomes(shape)
            let same = switch label {
            case "create": again.create == shape
            case "put": again.put == shape
            case "info": again.info == shape
            default: again.patch == shape
            }
            require(same, "\(label) body of \(show(original)) written as \(show(shape)) decodes differently")
        }
    }

    private static func member(_ key: String, _ value: JSONValue) -> JSONMember {
        JSONMember(key: key, value: value)
    }

    private static func shape(_ body: CreateBody) -> [UInt8] {
        CanonicalJSON.encode(.object([
            member("alias", CanonicalJSON.optional(body.alias)), member("url", CanonicalJSON.optional(body.url)),
        ]))
    }

    private static func shape(_ body: PutBody) -> [UInt8] {
        CanonicalJSON.encode(.object([member("url", CanonicalJSON.optional(body.url))]))
    }

    private static func shape(_ body: InfoBody) -> [UInt8] {
        CanonicalJSON.encode(.object([member("alias", CanonicalJSON.optional(body.alias))]))
    }

    private static func shape(_ body: PatchBody) -> [UInt8] {
        let meta: JSONValue = body.meta.map { meta in
            let peer: JSONValue = meta.peer.map { peer in
                .object([member("sid", .string(peer.sid)), member("type", .string(peer.type)),
                         member("alias", .string(peer.alias))])
            } ?? .null
            let tags: JSONValue = meta.tags.map { tags in .object(tags.map { member($0.key, .string($0.value)) }) } ?? .null
            return .object([member("peer", peer), member("tags", tags)])
        } ?? .null
        return CanonicalJSON.encode(.object([
            member("alias", CanonicalJSON.optional(body.alias)),
            member("action", CanonicalJSON.optional(body.action)),
            member("restart", body.restart.map(JSONValue.bool) ?? .null),
            member("meta", meta),
        ]))
    }
}
