import Testing
@testable import OpenCtrlServer

/// The console page and its answers (CONTRACT §22.7).
struct ConsoleRouteTests {
    /// ConsolePage.swift is generated from console.html by scripts/gen-console; an edit of the
    /// page without a regeneration must fail here, not ship a stale page.
    @Test func compiledPageIsTheSourceFile() throws {
        let source = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
        let html = try PosixFileSystem().readFile("/" + source + "/Sources/OpenCtrlServer/Console/console.html", limit: 1 << 20)
        #expect(Array(ConsolePage.text.utf8) == html, "run scripts/gen-console")
        #expect(ConsoleRoute.page.bytes == html)
        #expect(html.count <= 64 * 1024)
    }

    @Test func getServesThePageWithItsSecurityHeaders() {
        let r = ConsoleRoute.response(isGet: true, shuttingDown: false)
        #expect(r.status == 200)
        #expect(r.headers.map(\.name) == ["Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"])
        #expect(r.header("Content-Type") == "text/html; charset=utf-8")
        #expect(r.header("Content-Security-Policy") == "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        #expect(r.header("Cache-Control") == "no-store")
        #expect(r.sharedBody === ConsoleRoute.page)
    }

    @Test func otherMethodsAre405WithAllowGetAndNoCORS() {
        let r = ConsoleRoute.response(isGet: false, shuttingDown: false)
        #expect(r.status == 405)
        #expect(r.header("Allow") == "GET")
        #expect(r.header("Access-Control-Allow-Origin") == nil)
        #expect(r.body == Array("{\"error\":\"Method not allowed\"}\n".utf8))
    }

    @Test func shutdownIs503WithoutCORS() {
        for isGet in [true, false] {
            let r = ConsoleRoute.response(isGet: isGet, shuttingDown: true)
            #expect(r.status == 503)
            #expect(r.header("Access-Control-Allow-Origin") == nil)
            #expect(r.body == Array("{\"error\":\"master shutting down\"}\n".utf8))
        }
    }
}
