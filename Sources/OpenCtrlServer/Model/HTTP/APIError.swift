/// Every error a protected route can answer (CONTRACT §8.11). Handlers throw these; only
/// `response` turns them into bytes, so no handler builds error JSON itself.
public enum APIError: Error, Sendable, Equatable {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case methodNotAllowed(allow: String)
    case conflict(String)
    case payloadTooLarge
    case internalError(String)
    case unavailable

    public static let invalidBody = APIError.badRequest("Invalid request body")

    public var status: Int32 {
        switch self {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .payloadTooLarge: 413
        case .internalError: 500
        case .unavailable: 503
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m),
             .conflict(let m), .internalError(let m):
            m
        case .methodNotAllowed: "Method not allowed"
        case .payloadTooLarge: "Request body too large"
        case .unavailable: "master shutting down"
        }
    }

    /// `{"error":"<message>"}` and Go's trailing newline.
    public var body: [UInt8] {
        var w = JSONWriter(reservingCapacity: 64)
        w.raw("{\"error\":")
        w.string(message)
        w.raw("}\n")
        return w.bytes
    }

    public var response: Response {
        var r = HTTPConventions.json(status: status, body: body)
        if case .methodNotAllowed(let allow) = self { r.headers.append((name: "Allow", value: allow)) }
        return r
    }
}

/// Header and body conventions shared by every response (CONTRACT §5, §6, §7.1).
public enum HTTPConventions {
    public static let cors: [(name: String, value: String)] = [
        (name: "Access-Control-Allow-Origin", value: "*"),
        (name: "Access-Control-Allow-Methods", value: "GET, PATCH, POST, PUT, DELETE, OPTIONS"),
        (name: "Access-Control-Allow-Headers", value: "Content-Type, Authorization, X-API-Key, Cache-Control"),
    ]

    /// A JSON reply from a protected route; `body` already ends with its `\n`.
    public static func json(status: Int32, body: [UInt8]) -> Response {
        Response(status: status, headers: cors + [(name: "Content-Type", value: "application/json")], body: body)
    }

    /// A shared JSON body (the listing) that already ends with its `\n`.
    public static func json(status: Int32, shared body: SharedBytes) -> Response {
        Response(status: status, headers: cors + [(name: "Content-Type", value: "application/json")], sharedBody: body)
    }

    /// `body` is compact JSON without the trailing newline Go's encoder adds.
    public static func json(status: Int32, object: [UInt8]) -> Response {
        json(status: status, body: object + [0x0A])
    }

    public static func empty(status: Int32) -> Response {
        Response(status: status, headers: cors)
    }

    /// The router's own 404: plain text and no CORS headers, like Go's `http.NotFound`.
    public static let notFound = Response(
        status: 404,
        headers: [(name: "Content-Type", value: "text/plain; charset=utf-8"), (name: "X-Content-Type-Options", value: "nosniff")],
        body: Array("404 page not found\n".utf8))

    public static let badRequestPlain = Response(
        status: 400,
        headers: [(name: "Content-Type", value: "text/plain; charset=utf-8"), (name: "Connection", value: "close")],
        body: Array("400 Bad Request".utf8))

    /// Go's `http.Redirect` with 301: a small HTML body for GET and HEAD only.
    public static func redirect(to location: String, forGetOrHead: Bool) -> Response {
        var r = Response(status: 301, headers: [(name: "Location", value: location)])
        if forGetOrHead {
            r.headers.append((name: "Content-Type", value: "text/html; charset=utf-8"))
            r.body = Array("<a href=\"\(htmlEscape(location))\">Moved Permanently</a>.\n\n".utf8)
        }
        return r
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
