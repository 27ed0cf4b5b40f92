import OpenCtrlServer

/// A record's JSON (CONTRACT §9.1) must parse, in the contract's field order, back to the record's
/// fields byte for byte.
enum RecordJSON {
    static func check(_ record: InstanceRecord) {
        let bytes = record.jsonBytes
        guard case .object(let members)? = try? JSONParser.parse(bytes) else {
            fail("record JSON does not parse: \(show(bytes))")
        }
        let keys = ["id", "alias", "type", "status", "url", "config", "restart", "meta",
                    "mode", "ping", "pool", "tcps", "udps", "tcprx", "tcptx", "udprx", "udptx"]
        require(members.map(\.key) == keys, "record JSON keys: \(show(bytes))")
        let peer: JSONValue = .object([
            JSONMember(key: "sid", value: .string(record.peer.sid)),
            JSONMember(key: "type", value: .string(record.peer.type)),
            JSONMember(key: "alias", value: .string(record.peer.alias)),
        ])
        let tags: JSONValue = .object(record.tags.map { JSONMember(key: $0.key, value: .string($0.value)) })
        let expected: [JSONValue] = [
            .string(record.id), .string(record.alias), .string(record.type), .string(record.status),
            .string(record.url), .string(record.config), .bool(record.restart),
            .object([JSONMember(key: "peer", value: peer), JSONMember(key: "tags", value: tags)]),
            .number(String(record.mode)), .number(String(record.ping)), .number(String(record.pool)),
            .number(String(record.tcps)), .number(String(record.udps)), .number(String(record.tcprx)),
            .number(String(record.tcptx)), .number(String(record.udprx)), .number(String(record.udptx)),
        ]
        for (member, value) in zip(members, expected) {
            require(CanonicalJSON.sameBytes(member.value, value), "record JSON field \(member.key): \(show(bytes))")
        }
    }
}
