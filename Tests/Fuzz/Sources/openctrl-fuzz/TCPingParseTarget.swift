import OpenCtrlServer

/// (7) The `/tcping` target parser (CONTRACT §8.10): Go's `SplitHostPort` and `LookupPort`
/// before any lookup.
///
/// Invariants: every refusal reads `dial tcp: …` and names the target, port or service it is
/// about; an accepted target written back as `host:port` (an IP as its dial label) parses to
/// the same target.
///
/// Not built yet (see `exclude:` in Package.swift): the parser is being written on another
/// branch. Written against its API as of this branch: `TCPingTarget.parse(_:services:)`,
/// `TCPingTarget.Host`, `ProbeIP`, `DialAddress(ip:port:).label`, `TCPingTargetError.message`.
enum TCPingParseTarget: FuzzTarget {
    static let name = "tcping"
    static let summary = "TCPingTarget.parse: error texts, host:port rebuild round trip"

    static func run(_ data: [UInt8]) {
        let target: TCPingTarget
        do {
            target = try TCPingTarget.parse(data)
        } catch {
            let message = error.message
            require(message.starts(with: "dial tcp: ".utf8), "error text \(show(message))")
            require(error.subject.isEmpty || message.firstRange(of: error.subject) != nil,
                    "error \(show(message)) does not name \(show(error.subject))")
            return
        }
        let rebuilt: [UInt8]
        switch target.host {
        case .unspecified:
            rebuilt = Array(":\(target.port)".utf8)
        case .ip(let ip):
            // A zone on an IPv4-mapped address has no IPv4 spelling Go would read back.
            guard !(ip.isIPv4 && !ip.zone.isEmpty) else { return }
            rebuilt = DialAddress(ip: ip, port: target.port).label
        case .name(let name):
            let host = name.contains(UInt8(ascii: ":")) ? [UInt8(ascii: "[")] + name + [UInt8(ascii: "]")] : name
            rebuilt = host + Array(":\(target.port)".utf8)
        }
        let again: TCPingTarget
        do {
            again = try TCPingTarget.parse(rebuilt)
        } catch {
            fail("\(show(data)) rebuilt as \(show(rebuilt)) is refused: \(show(error.message))")
        }
        require(again == target, "\(show(data)) rebuilt as \(show(rebuilt)) parses to \(again), not \(target)")
    }
}
