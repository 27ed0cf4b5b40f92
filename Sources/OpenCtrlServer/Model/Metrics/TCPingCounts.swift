/// `/tcping` answers by result (CONTRACT §22.4): `busy` is the answer of a probe that got no
/// slot in time, `failed` every other failure (a malformed target included).
public struct TCPingCounts: Sendable, Equatable {
    public private(set) var connected: UInt64 = 0
    public private(set) var failed: UInt64 = 0
    public private(set) var busy: UInt64 = 0

    public init() {}

    public mutating func count(_ result: TCPingResult) {
        if result.connected {
            connected += 1
        } else if result.error == DialErrors.tooManyRequests {
            busy += 1
        } else {
            failed += 1
        }
    }
}
