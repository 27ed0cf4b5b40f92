import Glibc
import Testing
@testable import OpenCtrlServer

/// Go's dial error texts and its per-address share of the dial budget.
struct DialErrorsTests {
    struct ErrnoCase: Sendable, CustomTestStringConvertible {
        let code: Int32
        let expected: String
        let line: UInt

        init(_ code: Int32, _ expected: String, line: UInt = #line) {
            self.code = code
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { expected }
    }

    /// The texts of Go's `zerrors_linux_*.go` table.
    static let errnos: [ErrnoCase] = [
        ErrnoCase(ECONNREFUSED, "connection refused"),
        ErrnoCase(EHOSTUNREACH, "no route to host"),
        ErrnoCase(ENETUNREACH, "network is unreachable"),
        ErrnoCase(EACCES, "permission denied"),
        ErrnoCase(EPERM, "operation not permitted"),
        ErrnoCase(ETIMEDOUT, "connection timed out"),
        ErrnoCase(ECONNRESET, "connection reset by peer"),
        ErrnoCase(EADDRNOTAVAIL, "cannot assign requested address"),
        ErrnoCase(EMFILE, "too many open files"),
        ErrnoCase(EAFNOSUPPORT, "address family not supported by protocol"),
    ]

    @Test(arguments: errnos)
    func errnoTexts(_ c: ErrnoCase) {
        #expect(DialErrors.errnoText(c.code) == c.expected, sourceLocation: c.location)
    }

    struct MessageCase: Sendable, CustomTestStringConvertible {
        let actual: [UInt8]
        let expected: String
        let line: UInt

        init(_ actual: [UInt8], _ expected: String, line: UInt = #line) {
            self.actual = actual
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { expected }
    }

    static let v4 = DialAddress(ip: ProbeIP(bytes: [127, 0, 0, 1])!, port: 9)
    static let v6 = DialAddress(ip: ProbeIP(literal: Array("fe80::1%eth0".utf8))!, port: 443)
    static let host = Array("nonexistent.invalid".utf8)

    static let messages: [MessageCase] = [
        MessageCase(DialErrors.syscall("connect", v4, errno: ECONNREFUSED), "dial tcp 127.0.0.1:9: connect: connection refused"),
        MessageCase(DialErrors.syscall("connect", v6, errno: ENETUNREACH), "dial tcp [fe80::1%eth0]:443: connect: network is unreachable"),
        MessageCase(DialErrors.syscall("socket", v4, errno: EMFILE), "dial tcp 127.0.0.1:9: socket: too many open files"),
        MessageCase(DialErrors.syscall("connect", .unspecified(port: 7), errno: ECONNREFUSED), "dial tcp :7: connect: connection refused"),
        MessageCase(DialErrors.timeout(v4), "dial tcp 127.0.0.1:9: i/o timeout"),
        MessageCase(DialErrors.lookup(host: host, server: "10.0.0.53:53", .noSuchHost), "dial tcp: lookup nonexistent.invalid on 10.0.0.53:53: no such host"),
        MessageCase(DialErrors.lookup(host: host, server: nil, .noSuchHost), "dial tcp: lookup nonexistent.invalid: no such host"),
        MessageCase(DialErrors.lookup(host: host, server: "[::1]:53", .serverMisbehaving), "dial tcp: lookup nonexistent.invalid on [::1]:53: server misbehaving"),
        MessageCase(DialErrors.lookup(host: host, server: "10.0.0.53:53", .timeout), "dial tcp: lookup nonexistent.invalid: i/o timeout"),
        MessageCase(DialErrors.lookup(host: host, server: nil, .noSuitableAddress), "dial tcp: address nonexistent.invalid: no suitable address found"),
        MessageCase(DialErrors.lookup(host: host, server: nil, .other("unknown error")), "dial tcp: lookup nonexistent.invalid: unknown error"),
        MessageCase(DialErrors.missingAddress, "dial tcp: missing address"),
    ]

    @Test(arguments: messages)
    func messageShapes(_ c: MessageCase) {
        #expect(String(decoding: c.actual, as: UTF8.self) == c.expected, sourceLocation: c.location)
    }

    struct BudgetCase: Sendable, CustomTestStringConvertible {
        let remainingMilliseconds: Int
        let addresses: Int
        /// The attempt's share in milliseconds, or nil when the budget is spent.
        let expected: Int?
        let line: UInt

        init(_ remaining: Int, _ addresses: Int, _ expected: Int?, line: UInt = #line) {
            remainingMilliseconds = remaining
            self.addresses = addresses
            self.expected = expected
            self.line = line
        }

        var location: SourceLocation {
            SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
        }

        var testDescription: String { "\(remainingMilliseconds) ms / \(addresses)" }
    }

    static let shares: [BudgetCase] = [
        BudgetCase(5000, 1, 5000),
        BudgetCase(5000, 2, 2500),
        BudgetCase(5000, 3, 2000),
        BudgetCase(5000, 10, 2000),
        BudgetCase(9000, 3, 3000),
        BudgetCase(1500, 3, 1500),
        BudgetCase(1, 1, 1),
        BudgetCase(0, 1, nil),
        BudgetCase(-1, 1, nil),
        BudgetCase(-5000, 4, nil),
    ]

    @Test(arguments: shares)
    func partialDeadline(_ c: BudgetCase) {
        let now = ContinuousClock.now
        let deadline = now + .milliseconds(c.remainingMilliseconds)
        let attempt = DialBudget.attemptDeadline(now: now, deadline: deadline, remainingAddresses: c.addresses)
        #expect(attempt.map { $0 - now } == c.expected.map { .milliseconds($0) }, sourceLocation: c.location)
    }
}
