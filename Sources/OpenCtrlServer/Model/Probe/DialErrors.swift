import Glibc

/// Why a name lookup gave no address, in Go's resolver words.
public enum LookupFailure: Sendable, Equatable {
    /// NXDOMAIN, no records, or a name that is not valid DNS syntax.
    case noSuchHost
    /// The probe's budget ran out while resolving.
    case timeout
    /// SERVFAIL, refusals and other failures the server reported.
    case serverMisbehaving
    /// The resolver answered with addresses, none of them TCP-usable.
    case noSuitableAddress
    /// Anything else, already worded.
    case other(String)
}

/// The `error` strings of a failed probe, in the shapes Go's `net.Dial` prints (CONTRACT §8.10).
/// All of them are bytes because the target, and so every host and zone in them, may hold
/// invalid UTF-8 that the JSON encoder must escape as Go does.
public enum DialErrors {
    /// `strerror` with its first letter lowercased: Go's `syscall.Errno` texts are glibc's
    /// messages written that way (`connection refused`, `no route to host`).
    public static func errnoText(_ code: Int32) -> String {
        lowercasedFirst(String(cString: strerror(code)))
    }

    static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }

    /// `dial tcp <address>: <syscall>: <errno text>`, e.g. `dial tcp 127.0.0.1:1: connect:
    /// connection refused`.
    public static func syscall(_ name: String, _ address: DialAddress, errno code: Int32) -> [UInt8] {
        dial(address, "\(name): \(errnoText(code))")
    }

    /// `dial tcp <address>: i/o timeout`: the address's share of the budget ran out.
    public static func timeout(_ address: DialAddress) -> [UInt8] {
        dial(address, "i/o timeout")
    }

    /// `dial tcp: lookup <host>[ on <server>]: <reason>`. Go's resolver names the DNS server that
    /// answered; a timeout of our own budget names none, as Go's context deadline does.
    public static func lookup(host: [UInt8], server: String?, _ failure: LookupFailure) -> [UInt8] {
        let reason: String
        switch failure {
        case .noSuchHost: reason = "no such host"
        case .timeout: reason = "i/o timeout"
        case .serverMisbehaving: reason = "server misbehaving"
        case .noSuitableAddress:
            return Array("dial tcp: address ".utf8) + host + Array(": no suitable address found".utf8)
        case .other(let text): reason = text
        }
        var out = Array("dial tcp: lookup ".utf8) + host
        if let server, failure != .timeout { out += Array(" on \(server)".utf8) }
        return out + Array(": \(reason)".utf8)
    }

    /// Go's `errMissingAddress`, for an empty address list.
    public static let missingAddress = Array("dial tcp: missing address".utf8)

    /// The client went away mid-probe; nobody reads this, but the request still needs an answer
    /// for evhttp to release it.
    public static let canceled = Array("dial tcp: operation was canceled".utf8)

    public static let tooManyRequests = Array("too many requests".utf8)

    private static func dial(_ address: DialAddress, _ tail: String) -> [UInt8] {
        Array("dial tcp ".utf8) + address.label + Array(": \(tail)".utf8)
    }
}

/// The 5 s dial budget, shared out among addresses as Go's `dialSerial` does.
public enum DialBudget {
    public static let overall: Duration = .seconds(5)
    /// Go's `saneMinimum`: an address gets at least this much unless less remains.
    static let minimumShare: Duration = .seconds(2)

    /// Go's `partialDeadline`: an equal share of what remains for each remaining address, at
    /// least 2 s but never past `deadline`. Nil when the budget is spent (Go's `errTimeout`).
    public static func attemptDeadline(now: ContinuousClock.Instant, deadline: ContinuousClock.Instant, remainingAddresses: Int) -> ContinuousClock.Instant? {
        let remaining = deadline - now
        guard remaining > .zero else { return nil }
        var share = remaining / max(1, remainingAddresses)
        if share < minimumShare { share = remaining < minimumShare ? remaining : minimumShare }
        return now + share
    }
}
