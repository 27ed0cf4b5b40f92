/// A parsed JSON document, kept close to the text: numbers stay as their literal (no request
/// body field is numeric, so nothing is lost to rounding) and object members stay in document
/// order with duplicates, because Go's decoding rules depend on both (CONTRACT §7.2).
///
/// `==` on `.string` is Swift `String` equality (canonical equivalence); compare `utf8` views
/// where bytes matter.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
}

public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}
