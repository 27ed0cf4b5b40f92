/// A request's head as far as framing goes: what libevent 2.1.12 accepts but Go's server (and
/// RFC 9112) refuse, because each lets a request mean two different things.
public struct RequestHead: Sendable {
    /// The request line ends in `HTTP/0.x` (evhttp would answer in HTTP/0.9).
    public var versionZero: Bool
    /// The path part of the request target, as received.
    public var target: String
    public var headers: [(name: String, value: String)]
    /// Bytes of the request line and headers, line ends included.
    public var bytes: Int
    /// A NUL byte anywhere in the request line or headers (evhttp cuts values at it).
    public var hasNUL: Bool

    public init(versionZero: Bool, target: String, headers: [(name: String, value: String)], bytes: Int, hasNUL: Bool) {
        self.versionZero = versionZero
        self.target = target
        self.headers = headers
        self.bytes = bytes
        self.hasNUL = hasNUL
    }
}

/// Refusals made before routing, each closing the connection (the rest of what the client
/// sent cannot be trusted to start where evhttp thinks the next request starts):
/// - two different `Content-Length`s, or one that is not `1*DIGIT` (RFC 9112 §6.3): 400;
/// - a `Transfer-Encoding` other than `chunked` (§6.1): 501, since evhttp would read the body as
///   the next request;
/// - a NUL byte in the head, whitespace or other non-token characters in a header name
///   (§5.1), a request target with spaces: 400;
/// - a head over the 16 KiB limit counted with its line ends (evhttp counts without): 400;
/// - HTTP/0.x: 505 (evhttp rejects other malformed versions itself).
public enum RequestFraming {
    public static let maxHeadBytes = 16 * 1024

    public static func refusal(_ head: RequestHead) -> Response? {
        if head.versionZero {
            return plain(505, "505 HTTP Version Not Supported: unsupported protocol version")
        }
        if head.hasNUL || head.bytes > maxHeadBytes || head.target.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return badRequest
        }
        var contentLength: String?
        for (name, value) in head.headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return badRequest }
            if asciiCaseInsensitiveEquals(name, "Content-Length") {
                let trimmed = trimmedOWS(value)
                guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return badRequest }
                if let earlier = contentLength, earlier != trimmed { return badRequest }
                contentLength = trimmed
            } else if asciiCaseInsensitiveEquals(name, "Transfer-Encoding") {
                guard asciiCaseInsensitiveEquals(trimmedOWS(value), "chunked") else {
                    return plain(501, "Unsupported transfer encoding")
                }
            }
        }
        return nil
    }

    /// `response` as HTTP/1.1 bytes, for a client whose request line evhttp would answer in its
    /// own (unreadable) version.
    public static func http11Bytes(_ response: Response) -> [UInt8] {
        var text = "HTTP/1.1 \(response.status) \(reason(response.status))\r\n"
        for header in response.headers { text += "\(header.name): \(header.value)\r\n" }
        text += "Content-Length: \(response.body.count)\r\n\r\n"
        return Array(text.utf8) + response.body
    }

    private static func reason(_ status: Int32) -> String {
        switch status {
        case 400: "Bad Request"
        case 501: "Not Implemented"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }

    private static let badRequest = plain(400, "400 Bad Request")

    private static func plain(_ status: Int32, _ text: String) -> Response {
        Response(status: status, headers: [
            (name: "Content-Type", value: "text/plain; charset=utf-8"),
            (name: "Connection", value: "close"),
        ], body: Array(text.utf8))
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    private static func trimmedOWS(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
