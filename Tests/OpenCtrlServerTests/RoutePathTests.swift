import Testing
@testable import OpenCtrlServer

struct RoutePathTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var query: String? = nil
        var base = "/api/v2"
        var expected: RouteDecision
        var line: Int = #line
        var testDescription: String { "\(path) (line \(line))" }
    }

    static let cases: [Case] = [
        Case(path: "/api/v2/info", expected: .matched(.info)),
        Case(path: "/api/v2/events", expected: .matched(.events)),
        Case(path: "/api/v2/tcping", query: "target=a:1", expected: .matched(.tcping)),
        Case(path: "/api/v2/instances", expected: .matched(.instances)),
        Case(path: "/api/v2/instances/", expected: .matched(.instance(id: ""))),
        Case(path: "/api/v2/instances/d34db33f", expected: .matched(.instance(id: "d34db33f"))),
        Case(path: "/api/v2/instances/%2A%2A%2A%2A%2A%2A%2A%2A", expected: .matched(.instance(id: "********"))),
        Case(path: "/api/v2/instances/%2F", expected: .matched(.instance(id: ""))),
        Case(path: "/api/v2/instances/a%2Fb", expected: .matched(.instance(id: "a/b"))),
        Case(path: "/api/v2/instances/abc/", expected: .matched(.instance(id: "abc/"))),
        Case(path: "/api/v2/instances/a/b", expected: .matched(.instance(id: "a/b"))),
        Case(path: "/api/v2/%69nfo", expected: .matched(.info)),
        // §22.1: exactly one segment after the ID's selects a subroute; deeper is the detail route.
        Case(path: "/api/v2/instances/d34db33f/logs", expected: .matched(.logs(id: "d34db33f"))),
        Case(path: "/api/v2/instances/d34db33f/process", expected: .matched(.process(id: "d34db33f"))),
        Case(path: "/api/v2/instances/%2A%2A%2A%2A%2A%2A%2A%2A/logs", expected: .matched(.logs(id: "********"))),
        Case(path: "/api/v2/instances/d34db33f/logs/", expected: .matched(.instance(id: "d34db33f/logs/"))),
        Case(path: "/api/v2/instances/d34db33f/process/x", expected: .matched(.instance(id: "d34db33f/process/x"))),
        Case(path: "/api/v2/instances/d34db33f%2Flogs", expected: .matched(.instance(id: "d34db33f/logs"))),
        Case(path: "/api/v2/instances/d34db33f/other", expected: .matched(.instance(id: "d34db33f/other"))),
        Case(path: "/api/v2/metrics", expected: .matched(.metrics)),
        Case(path: "/api/v2/health", expected: .matched(.health)),
        Case(path: "/api/v2/health/", expected: .notFound),
        Case(path: "/control/v2/info", base: "/control/v2", expected: .matched(.info)),
        Case(path: "/a/b/v2/events", base: "/a/b/v2", expected: .matched(.events)),
        // Not found: outside the base, the base itself, trailing slashes on exact routes.
        Case(path: "/", expected: .notFound),
        Case(path: "/api", expected: .notFound),
        Case(path: "/api/v2", expected: .notFound),
        Case(path: "/api/v2/", expected: .notFound),
        Case(path: "/api/v2/info/", expected: .notFound),
        Case(path: "/api/v2/events/", expected: .notFound),
        Case(path: "/api/v2/tcping/", expected: .notFound),
        Case(path: "/api/v2/nope", expected: .notFound),
        Case(path: "/api/v2/INFO", expected: .notFound),
        // §22.7: the console is exactly `<P>/console`; a trailing slash or anything deeper is the plain 404.
        Case(path: "/api/v2/console", expected: .console),
        Case(path: "/api/v2/%63onsole", expected: .console),
        Case(path: "/control/v2/console", base: "/control/v2", expected: .console),
        Case(path: "/api/v2/console/", expected: .notFound),
        Case(path: "/api/v2/console/x", expected: .notFound),
        Case(path: "/api/v2/console/x/y", expected: .notFound),
        Case(path: "/api/console", expected: .notFound),
        Case(path: "/api/v2/console", base: "/control/v2", expected: .notFound),
        Case(path: "/api%2Fv2/info", expected: .notFound),
        Case(path: "/api/v2/info", base: "/control/v2", expected: .notFound),
        Case(path: "/api/v2/instancesx", expected: .notFound),
        // Canonicalisation comes first, keeps the raw query and a trailing slash.
        Case(path: "/api/v2//info", expected: .redirect(location: "/api/v2/info")),
        Case(path: "/api/v2/./info", expected: .redirect(location: "/api/v2/info")),
        Case(path: "/api/v2/x/../info", expected: .redirect(location: "/api/v2/info")),
        Case(path: "/api/v2/x/../info", query: "a=1&b", expected: .redirect(location: "/api/v2/info?a=1&b")),
        Case(path: "/api/v2/instances//", expected: .redirect(location: "/api/v2/instances/")),
        Case(path: "/../../api/v2/info", expected: .redirect(location: "/api/v2/info")),
        Case(path: "//", expected: .redirect(location: "/")),
        Case(path: "/api/v2/info/.", expected: .redirect(location: "/api/v2/info")),
        // Bad escapes cannot be decoded.
        Case(path: "/api/v2/%zz", expected: .badRequest),
        Case(path: "/api/v2/instances/%4", expected: .badRequest),
    ]

    @Test(arguments: cases)
    func resolves(_ c: Case) {
        #expect(RoutePath.resolve(escapedPath: c.path, query: c.query, apiBase: c.base) == c.expected, "line \(c.line)")
    }

    @Test func cleanPathMatchesGo() {
        let table: [(String, String)] = [
            ("", "/"), ("/", "/"), ("a", "/a"), ("/a/", "/a/"), ("/a//b", "/a/b"), ("/a/./b/", "/a/b/"),
            ("/a/../..", "/"), ("/a/b/..", "/a"), ("/a/b/../", "/a/"), ("/...", "/..."), ("/.a/..b", "/.a/..b"),
        ]
        for (input, output) in table {
            #expect(RoutePath.cleanPath(input) == output, "cleanPath(\(input))")
        }
    }

    @Test func allowHeaderListsEachRoutesMethods() {
        #expect(Route.info.allowedMethods == "GET, POST, OPTIONS")
        #expect(Route.instance(id: "x").allowedMethods == "GET, PATCH, PUT, DELETE, OPTIONS")
        #expect(Route.events.allowedMethods == "GET, OPTIONS")
    }
}

struct HTTPConventionsTests {
    @Test func errorBodyIsCompactJSONWithNewlineAndCORS() {
        let r = APIError.unauthorized("Unauthorized: API key required").response
        #expect(r.status == 401)
        #expect(String(decoding: r.body, as: UTF8.self) == "{\"error\":\"Unauthorized: API key required\"}\n")
        #expect(r.header("content-type") == "application/json")
        #expect(r.header("Access-Control-Allow-Origin") == "*")
        #expect(r.header("Access-Control-Allow-Methods") == "GET, PATCH, POST, PUT, DELETE, OPTIONS")
        #expect(r.header("Access-Control-Allow-Headers") == "Content-Type, Authorization, X-API-Key, Cache-Control")
        #expect(r.header("Allow") == nil)
    }

    @Test func methodNotAllowedCarriesAllow() {
        let r = APIError.methodNotAllowed(allow: Route.info.allowedMethods).response
        #expect(r.status == 405)
        #expect(String(decoding: r.body, as: UTF8.self) == "{\"error\":\"Method not allowed\"}\n")
        #expect(r.header("Allow") == "GET, POST, OPTIONS")
    }

    @Test func errorMessagesAreEscapedLikeGo() {
        let r = APIError.badRequest("Invalid action: <x>&\"y\"").response
        #expect(String(decoding: r.body, as: UTF8.self) == "{\"error\":\"Invalid action: \\u003cx\\u003e\\u0026\\\"y\\\"\"}\n")
    }

    @Test func notFoundIsGoPlainText() {
        let r = HTTPConventions.notFound
        #expect(String(decoding: r.body, as: UTF8.self) == "404 page not found\n")
        #expect(r.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(r.header("X-Content-Type-Options") == "nosniff")
        #expect(r.header("Access-Control-Allow-Origin") == nil)
    }

    @Test func redirectBodyOnlyForGetAndHead() {
        let get = HTTPConventions.redirect(to: "/api/v2/info?a=1&b=<2>", forGetOrHead: true)
        #expect(get.status == 301)
        #expect(get.header("Location") == "/api/v2/info?a=1&b=<2>")
        #expect(String(decoding: get.body, as: UTF8.self) == "<a href=\"/api/v2/info?a=1&amp;b=&lt;2&gt;\">Moved Permanently</a>.\n\n")
        #expect(get.header("Content-Type") == "text/html; charset=utf-8")
        let post = HTTPConventions.redirect(to: "/x", forGetOrHead: false)
        #expect(post.body.isEmpty)
        #expect(post.header("Content-Type") == nil)
    }

    @Test func retryDelaysBackOffToSixtySeconds() {
        #expect((1...7).map { StateStore.retryDelay(failures: $0) } == [5, 10, 20, 40, 60, 60, 60])
    }
}
