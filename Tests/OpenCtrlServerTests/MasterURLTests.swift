import Testing
@testable import OpenCtrlServer

/// CONTRACT §1 (startup messages), §2 (the master URL) and §3.4 (`name`).
struct MasterURLTests {
    struct Good: Sendable, CustomTestStringConvertible {
        let argument: String
        let expected: MasterURL
        let line: UInt

        init(_ argument: String, host: String, port: UInt16, name: String? = nil, api: String = "/api/v2",
             tls: TLSMode = .off, crt: String = "", key: String = "", bin: String = "", line: UInt = #line) {
            self.argument = argument
            expected = MasterURL(host: host, port: port, name: name ?? host, apiBase: api, tls: tls,
                                 crt: crt, key: key, bin: bin)
            self.line = line
        }

        var testDescription: String { argument }
    }

    static let good: [Good] = [
        // §2.2 table
        Good("master://127.0.0.1:8080", host: "127.0.0.1", port: 8080),
        Good("master://127.0.0.1:8080/", host: "127.0.0.1", port: 8080),
        Good("master://127.0.0.1:8080/control", host: "127.0.0.1", port: 8080, api: "/control/v2"),
        Good("master://127.0.0.1:8080/control///", host: "127.0.0.1", port: 8080, api: "/control/v2"),
        Good("master://127.0.0.1:8080/a/b", host: "127.0.0.1", port: 8080, api: "/a/b/v2"),
        Good("master://127.0.0.1:8443?tls=1", host: "127.0.0.1", port: 8443, tls: .selfSigned),
        // Our rule: a prefix of slashes only is `/api`, not the original's `/v2`.
        Good("master://127.0.0.1:8080//", host: "127.0.0.1", port: 8080),
        Good("master://127.0.0.1:8080/api/v2/", host: "127.0.0.1", port: 8080, api: "/api/v2/v2"),
        Good("master://h:1/a-b_c.d~E9/..x/x..", host: "h", port: 1, api: "/a-b_c.d~E9/..x/x../v2"),
        // Hosts: `name` is the host as written, IPv6 without brackets.
        Good("master://[::1]:8080", host: "::1", port: 8080),
        Good("master://[::FFFF:127.0.0.1]:80", host: "::FFFF:127.0.0.1", port: 80),
        Good("master://[fe80::1%25eth0]:80", host: "fe80::1%eth0", port: 80),
        Good("master://:8080", host: "", port: 8080),
        Good("master://localhost:0", host: "localhost", port: 0),
        Good("master://LocalHost.:65535", host: "LocalHost.", port: 65535),
        Good("master://my_host-1.example:80", host: "my_host-1.example", port: 80),
        Good("master://127.0.0.1:08080", host: "127.0.0.1", port: 8080),
        // Scheme case, user-info and fragment do not matter.
        Good("MASTER://127.0.0.1:8080", host: "127.0.0.1", port: 8080),
        Good("Master://user:pw@127.0.0.1:8080/x#frag", host: "127.0.0.1", port: 8080, api: "/x/v2"),
        // Query: first value wins, unknown parameters are ignored, pairs Go skips are skipped.
        Good("master://h:1?tls=1&tls=2", host: "h", port: 1, tls: .selfSigned),
        Good("master://h:1?tls=0", host: "h", port: 1),
        Good("master://h:1?tls=&tls=1", host: "h", port: 1),
        Good("master://h:1?tls=1;x=2&tls=2", host: "h", port: 1, tls: .files),
        Good("master://h:1?tls=%zz&tls=2", host: "h", port: 1, tls: .files),
        Good("master://h:1?%74ls=%32", host: "h", port: 1, tls: .files),
        Good("master://h:1?unknown=1&flag&TLS=9", host: "h", port: 1),
        Good("master://h:1?tls=2&crt=/etc/c.pem&key=/etc/k.pem&bin=/usr/bin/rt", host: "h", port: 1, tls: .files,
             crt: "/etc/c.pem", key: "/etc/k.pem", bin: "/usr/bin/rt"),
        Good("master://h:1?crt=a%20b+c&key=&bin=rt&bin=other", host: "h", port: 1, crt: "a b c", bin: "rt"),
    ]

    @Test(arguments: good)
    func parsesTheListenAddressPrefixAndQuery(_ c: Good) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        do {
            #expect(try MasterURL.parse(c.argument) == c.expected, sourceLocation: location)
        } catch {
            Issue.record("unexpected failure: \(error)", sourceLocation: location)
        }
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let argument: String
        let message: String
        let line: UInt

        init(_ argument: String, _ message: String, line: UInt = #line) {
            self.argument = argument
            self.message = message
            self.line = line
        }

        var testDescription: String { argument }
    }

    static let parse = "Main.start: parse command failed: "
    static let core = "Main.start: create core failed: Main.createCore: unknown core: "
    static let resolve = "Main.start: create core failed: Master.new: resolve host failed: "
    static let tlsMode = "Main.start: create core failed: Master.new: Master.newServerTLSConfig: invalid tls mode"
    static let prefix = "Main.start: create core failed: Master.new: invalid API prefix: "

    static let bad: [Bad] = [
        // URL syntax (§1, §9.3 reasons)
        Bad("ht tp://x", parse + #"parse "ht tp://x": first path segment in URL cannot contain colon"#),
        Bad(":8080", parse + #"parse ":8080": missing protocol scheme"#),
        Bad("master://[::1", parse + #"parse "master://[::1": missing ']' in host"#),
        Bad("master://h\u{01}:80", parse + #"parse "master://h\x01:80": net/url: invalid control character in URL"#),
        Bad("master://h:80/\t#x", parse + #"parse "master://h:80/\t": net/url: invalid control character in URL"#),
        Bad("master://h:80/%zz", parse + #"parse "master://h:80/%zz": invalid URL escape "%zz""#),
        Bad("master://a b:80", parse + #"parse "master://a b:80": invalid character " " in host name"#),
        Bad("master://h:8o", parse + #"parse "master://h:8o": invalid port ":8o" after host"#),
        Bad("master://h:http", parse + #"parse "master://h:http": invalid port ":http" after host"#),
        Bad("master://us er@h:80", parse + #"parse "master://us er@h:80": net/url: invalid userinfo"#),
        Bad("master://[1.2.3.4]:80", parse + #"parse "master://[1.2.3.4]:80": invalid IP-literal"#),
        // Not a master URL: the URL as Go re-serialises it.
        Bad("HELP", core + "HELP"),
        Bad("help me", core + "help%20me"),
        Bad("-x", core + "-x"),
        Bad("http://x:1", core + "http://x:1"),
        Bad("Http://X:1/a b?q=1 2#f g", core + "http://X:1/a%20b?q=1 2#f%20g"),
        Bad("edge://h/x", core + "edge://h/x"),
        Bad("masters://h:1", core + "masters://h:1"),
        // Listen address (our rules, Go's wording)
        Bad("master:127.0.0.1:8080", resolve + "missing address"),
        Bad("master:/x", resolve + "missing address"),
        Bad("master:", resolve + "missing address"),
        Bad("master://", resolve + "missing address"),
        Bad("master:///api", resolve + "missing address"),
        Bad("master://user@/api", resolve + "missing address"),
        Bad("master://127.0.0.1", resolve + "address 127.0.0.1: missing port in address"),
        Bad("master://127.0.0.1/api", resolve + "address 127.0.0.1: missing port in address"),
        Bad("master://127.0.0.1:", resolve + "address 127.0.0.1:: missing port in address"),
        Bad("master://[::1]", resolve + "address [::1]: missing port in address"),
        Bad("master://[::1]:", resolve + "address [::1]:: missing port in address"),
        Bad("master://127.0.0.1:65536", resolve + "address 65536: invalid port"),
        Bad("master://h:99999999999999999999999", resolve + "address 99999999999999999999999: invalid port"),
        Bad("master://::1:8080", resolve + "address ::1:8080: too many colons in address"),
        Bad("master://a]:80", resolve + "address a]:80: unexpected ']' in address"),
        Bad("master://h!x:80", resolve + "lookup h!x: no such host"),
        Bad("master://256.1.1.1:80", resolve + "lookup 256.1.1.1: no such host"),
        Bad("master://127.000.0.1:80", resolve + "lookup 127.000.0.1: no such host"),
        Bad("master://-h:80", resolve + "lookup -h: no such host"),
        Bad("master://a..b:80", resolve + "lookup a..b: no such host"),
        Bad("master://%C3%BC:80", resolve + "lookup ü: no such host"),
        // tls (§2.3)
        Bad("master://h:1?tls=01", tlsMode),
        Bad("master://h:1?tls= 1", tlsMode),
        Bad("master://h:1?tls=+1", tlsMode),
        Bad("master://h:1?tls=true", tlsMode),
        Bad("master://h:1?tls=3", tlsMode),
        Bad("master://h:1?tls=%FF&tls=1", tlsMode),
        // API prefix (§2.2 our rule), shown as written
        Bad("master://h:1/a b", prefix + "/a b"),
        Bad("master://h:1/{x}/", prefix + "/{x}"),
        Bad("master://h:1/%7Bx%7D", prefix + "/%7Bx%7D"),
        Bad("master://h:1/%61pi", prefix + "/%61pi"),
        Bad("master://h:1/a%2Fb", prefix + "/a%2Fb"),
        Bad("master://h:1/.", prefix + "/."),
        Bad("master://h:1/a/../b", prefix + "/a/../b"),
        Bad("master://h:1/a//b", prefix + "/a//b"),
        Bad("master://h:1//a", prefix + "//a"),
        Bad("master://h:1/ü", prefix + "/ü"),
        Bad("master://h:1/a:b", prefix + "/a:b"),
        Bad("master://h:1/a+b", prefix + "/a+b"),
        // Order: address, then tls, then prefix.
        Bad("master://h?tls=9", resolve + "address h: missing port in address"),
        Bad("master://h:1/{x}?tls=9", tlsMode),
    ]

    @Test(arguments: bad)
    func failsWithTheStartupMessage(_ c: Bad) {
        let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1)
        let error = #expect(throws: MasterURLError.self, sourceLocation: location) { try MasterURL.parse(c.argument) }
        #expect(error?.message == c.message, sourceLocation: location)
        #expect(error?.description == c.message, sourceLocation: location)
    }
}
