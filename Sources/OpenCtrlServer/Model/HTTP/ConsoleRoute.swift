/// The answers of `<P>/console` (CONTRACT §22.7). The page holds no data, so it needs no key;
/// everything it shows it fetches from the protected routes with the key the operator types.
/// Its headers confine it: inline code only, requests back to this master only, never framed,
/// never cached. It gets no CORS headers, which only make sense for other origins' API calls.
public enum ConsoleRoute {
    public static let headers: [(name: String, value: String)] = [
        (name: "Content-Type", value: "text/html; charset=utf-8"),
        (name: "Content-Security-Policy", value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        (name: "X-Content-Type-Options", value: "nosniff"),
        (name: "Referrer-Policy", value: "no-referrer"),
        (name: "Cache-Control", value: "no-store"),
    ]

    /// Built once and sent by reference, like the instance listing.
    static let page = SharedBytes(Array(ConsolePage.text.utf8))

    public static func response(isGet: Bool, shuttingDown: Bool) -> Response {
        if shuttingDown { return plain(.unavailable) }
        guard isGet else {
            var r = plain(.methodNotAllowed(allow: "GET"))
            r.headers.append((name: "Allow", value: "GET"))
            return r
        }
        return Response(status: 200, headers: headers, sharedBody: page)
    }

    /// The API's JSON error without the CORS headers every protected route adds.
    private static func plain(_ error: APIError) -> Response {
        Response(status: error.status, headers: [(name: "Content-Type", value: "application/json")], body: error.body)
    }
}
