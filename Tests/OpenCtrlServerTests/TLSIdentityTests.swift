import Glibc
import Testing
@testable import OpenCtrlServer

/// Key/certificate pairing and file reading of `TLSIdentity`, on in-memory self-signed pairs.
struct TLSIdentityTests {
    @Test func selfSignedIdentitiesPairTheirOwnKeyOnly() throws {
        let first = try TLSSelfSigned.generate()
        let second = try TLSSelfSigned.generate()
        #expect(throws: Never.self) { try TLSIdentity(leaf: first.leaf, intermediates: [], key: first.key) }
        #expect(throws: TLSError("tls: private key does not match public key")) {
            try TLSIdentity(leaf: first.leaf, intermediates: [], key: second.key)
        }
        #expect(throws: TLSError("tls: private key does not match public key")) {
            try TLSIdentity(leaf: second.leaf, intermediates: [first.leaf], key: first.key)
        }
    }

    struct ReadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let path: String
        let expected: Result<[UInt8], TLSError>
        let line: UInt

        init(_ name: String, _ path: String, _ expected: Result<[UInt8], TLSError>, line: UInt = #line) {
            self.name = name
            self.path = path
            self.expected = expected
            self.line = line
        }

        var testDescription: String { name }
    }

    static let readCases: [ReadCase] = [
        ReadCase("empty path", "", .failure(TLSError("open : no such file or directory"))),
        ReadCase("missing file", "/nonexistent/openctrl.crt", .failure(TLSError("open /nonexistent/openctrl.crt: no such file or directory"))),
        ReadCase("a directory", "/", .failure(TLSError("read /: is a directory"))),
        ReadCase("below a file", "/dev/null/x.pem", .failure(TLSError("open /dev/null/x.pem: not a directory"))),
        ReadCase("an empty file", "/dev/null", .success([])),
    ]

    @Test(arguments: readCases)
    func readFile(_ c: ReadCase) {
        let result: Result<[UInt8], TLSError>
        do throws(TLSError) {
            result = .success(try TLSIdentity.readFile(c.path))
        } catch {
            result = .failure(error)
        }
        #expect(result == c.expected, sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(c.line), column: 1))
    }

    @Test func readFileReturnsEveryByteOfALargeFile() throws {
        var template = Array("/tmp/openctrl-tls-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try #require(written == bytes.count)
        #expect(try TLSIdentity.readFile(path) == bytes)
    }
}
