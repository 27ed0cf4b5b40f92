import Testing
@testable import OpenCtrlServer

/// Choosing the certificate chain and the key out of PEM files, with Go's `tls.X509KeyPair` texts.
struct TLSPEMSelectionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let input: String
        /// Labels of the blocks picked (in order), or the error text.
        let expected: Result<[String], TLSError>
        let line: UInt

        init(_ name: String, _ input: String, _ expected: Result<[String], TLSError>, line: UInt = #line) {
            self.name = name
            self.input = input
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { name }
    }

    static func block(_ label: String, _ body: String = "QUJD") -> String {
        "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
    }

    static let blockCases: [Case] = [
        Case("one block", block("CERTIFICATE"), .success(["CERTIFICATE"])),
        Case("text around blocks", "intro\n" + block("A") + "between\n" + block("B") + "outro", .success(["A", "B"])),
        Case("CRLF and trailing blanks", "-----BEGIN X-----  \r\nQUJD\r\n-----END X-----\t\r\n", .success(["X"])),
        Case("label with spaces", block("EC PRIVATE KEY"), .success(["EC PRIVATE KEY"])),
        Case("no final newline", "-----BEGIN X-----\nQUJD\n-----END X-----", .success(["X"])),
        Case("unterminated block skipped", "-----BEGIN A-----\nQUJD\n" + block("B"), .success(["B"])),
        Case("mismatched END", "-----BEGIN A-----\nQUJD\n-----END B-----\n", .success([])),
        Case("BEGIN not at line start", "  -----BEGIN A-----\nQUJD\n-----END A-----\n", .success([])),
        Case("empty label", "-----BEGIN -----\nQUJD\n-----END -----\n", .success([])),
        Case("no dashes after label", "-----BEGIN A\nQUJD\n-----END A\n", .success([])),
        Case("empty input", "", .success([])),
    ]

    @Test(arguments: blockCases)
    func blocks(_ c: Case) {
        let labels = PEMSelection.blocks(in: Array(c.input.utf8)).map(\.label)
        #expect(Result<[String], TLSError>.success(labels) == c.expected, sourceLocation: c.location)
    }

    @Test func blockTextIsTheArmoredBlockWithNewlineEnds() {
        let found = PEMSelection.blocks(in: Array("junk\r\n-----BEGIN A-----\r\nQUJD\r\n-----END A-----".utf8))
        #expect(found == [PEMBlock(label: "A", text: Array("-----BEGIN A-----\nQUJD\n-----END A-----\n".utf8))])
    }

    static let certificateCases: [Case] = [
        Case("one certificate", block("CERTIFICATE"), .success(["CERTIFICATE"])),
        Case("chain in order", block("CERTIFICATE", "TEFG") + block("CERTIFICATE", "Q0E="), .success(["CERTIFICATE", "CERTIFICATE"])),
        Case("other blocks skipped", block("EC PARAMETERS") + block("CERTIFICATE"), .success(["CERTIFICATE"])),
        Case("empty file", "", .failure(TLSError("tls: failed to find any PEM data in certificate input"))),
        Case("no PEM at all", "hello\n", .failure(TLSError("tls: failed to find any PEM data in certificate input"))),
        Case("only a key", block("PRIVATE KEY"), .failure(TLSError("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"))),
        Case("only an RSA key", block("RSA PRIVATE KEY"), .failure(TLSError("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"))),
        Case("other blocks", block("X509 CRL") + block("PUBLIC KEY"), .failure(TLSError(#"tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [X509 CRL PUBLIC KEY]"#))),
        Case("key and parameters", block("EC PARAMETERS") + block("EC PRIVATE KEY"), .failure(TLSError(#"tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [EC PARAMETERS EC PRIVATE KEY]"#))),
        Case("lowercase label", block("certificate"), .failure(TLSError(#"tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [certificate]"#))),
    ]

    @Test(arguments: certificateCases)
    func certificates(_ c: Case) {
        let result: Result<[String], TLSError>
        do throws(TLSError) {
            result = .success(try PEMSelection.certificates(in: Array(c.input.utf8)).map(\.label))
        } catch {
            result = .failure(error)
        }
        #expect(result == c.expected, sourceLocation: c.location)
    }

    static let keyCases: [Case] = [
        Case("PKCS#8", block("PRIVATE KEY"), .success(["PRIVATE KEY"])),
        Case("PKCS#1", block("RSA PRIVATE KEY"), .success(["RSA PRIVATE KEY"])),
        Case("SEC1 after its parameters", block("EC PARAMETERS") + block("EC PRIVATE KEY"), .success(["EC PRIVATE KEY"])),
        Case("first key wins", block("EC PRIVATE KEY", "QQ==") + block("PRIVATE KEY"), .success(["EC PRIVATE KEY"])),
        Case("encrypted PKCS#8 is picked (and fails to parse later)", block("ENCRYPTED PRIVATE KEY"), .success(["ENCRYPTED PRIVATE KEY"])),
        Case("empty file", "", .failure(TLSError("tls: failed to find any PEM data in key input"))),
        Case("no PEM at all", "key\n", .failure(TLSError("tls: failed to find any PEM data in key input"))),
        Case("a certificate", block("CERTIFICATE"), .failure(TLSError("tls: found a certificate rather than a key in the PEM for the private key"))),
        Case("two certificates", block("CERTIFICATE") + block("CERTIFICATE"), .failure(TLSError(#"tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [CERTIFICATE CERTIFICATE]"#))),
        Case("public key only", block("PUBLIC KEY"), .failure(TLSError(#"tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [PUBLIC KEY]"#))),
        Case("suffix without a space", block("XPRIVATE KEY"), .failure(TLSError(#"tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [XPRIVATE KEY]"#))),
    ]

    @Test(arguments: keyCases)
    func privateKey(_ c: Case) {
        let result: Result<[String], TLSError>
        do throws(TLSError) {
            result = .success([try PEMSelection.privateKey(in: Array(c.input.utf8)).label])
        } catch {
            result = .failure(error)
        }
        #expect(result == c.expected, sourceLocation: c.location)
    }
}
