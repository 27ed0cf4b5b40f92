/// One entry of the registry as clients and the state file see it (CONTRACT §9.1).
///
/// The reserved record `********` uses the same shape: its `url` holds the API key,
/// its `config` the master ID and its `alias` the master alias (§4.1).
public struct InstanceRecord: Equatable, Sendable {
    public var id: String
    public var alias: String = ""
    public var type: String = ""
    public var status: String = ""
    public var url: String = ""
    public var config: String = ""
    public var restart: Bool = false
    public var peer: Peer = Peer()
    /// Sorted strictly ascending by the UTF-8 bytes of the key, keys unique by bytes.
    public var tags: [Tag] = []
    public var mode: Int32 = 0
    public var ping: Int32 = 0
    public var pool: Int32 = 0
    public var tcps: Int32 = 0
    public var udps: Int32 = 0
    public var tcprx: UInt64 = 0
    public var tcptx: UInt64 = 0
    public var udprx: UInt64 = 0
    public var udptx: UInt64 = 0

    public init(id: String) { self.id = id }

    public static let keyRecordID = "********"
}

public struct Peer: Equatable, Sendable {
    public var sid: String
    public var type: String
    public var alias: String
    public init(sid: String = "", type: String = "", alias: String = "") {
        self.sid = sid
        self.type = type
        self.alias = alias
    }
}

/// A tag compares by bytes: Swift's `String ==` treats canonically equivalent
/// strings as equal, but operators' tags must round-trip byte for byte.
public struct Tag: Equatable, Sendable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
    public static func == (a: Tag, b: Tag) -> Bool {
        a.key.utf8.elementsEqual(b.key.utf8) && a.value.utf8.elementsEqual(b.value.utf8)
    }
}

/// Byte-order comparison, the order Go uses for map keys and for our state file.
@inlinable
public func bytesLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
