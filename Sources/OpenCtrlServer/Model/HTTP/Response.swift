/// An HTTP response as the handlers build it; the edge turns it into one evhttp reply.
public struct Response: Sendable {
    public var status: Int32
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// A body shared with other responses, sent by reference; used instead of `body` when set.
    public var sharedBody: SharedBytes?

    public init(status: Int32, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int32, headers: [(name: String, value: String)], sharedBody: SharedBytes) {
        self.init(status: status, headers: headers)
        self.sharedBody = sharedBody
    }

    public var bodyCount: Int { sharedBody?.count ?? body.count }

    public func header(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    let a = a.utf8, b = b.utf8
    guard a.count == b.count else { return false }
    return zip(a, b).allSatisfy { x, y in asciiLower(x) == asciiLower(y) }
}

@inline(__always)
func asciiLower(_ c: UInt8) -> UInt8 {
    (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
}
