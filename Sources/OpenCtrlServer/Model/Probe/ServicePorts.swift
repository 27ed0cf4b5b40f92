/// TCP service names as Go's own resolver knows them (`net.lookupPortMap`): a few built-in
/// names, overridden and extended by `/etc/services`. `example.com:https` dials port 443 in the
/// original, so it does here.
public struct ServicePorts: Sendable, Equatable {
    private var tcp: [[UInt8]: Int]

    /// Go's built-in table, used alone when `/etc/services` cannot be read.
    public static let builtIn = ServicePorts(tcp: Dictionary(uniqueKeysWithValues: [
        ("ftp", 21), ("ftps", 990), ("gopher", 70), ("http", 80), ("https", 443), ("imap2", 143),
        ("imap3", 220), ("imaps", 993), ("pop3", 110), ("pop3s", 995), ("smtp", 25),
        ("submissions", 465), ("ssh", 22), ("telnet", 23),
    ].map { (Array($0.utf8), $1) }))

    /// Go's `maxPortBufSize`: longer names never match.
    static let maxNameBytes = "mobility-header".utf8.count + 10

    /// The built-in table plus the `tcp` lines of an `/etc/services` text, read as Go's
    /// `readServices` reads it: `#` starts a comment, fields split on blanks, a line counts when
    /// its second field is `<decimal>/tcp` with a value in 1...0xFFFFFE, and its name and every
    /// alias map to that port (a later line wins).
    public static func parse(etcServices text: [UInt8]) -> ServicePorts {
        var table = builtIn
        for rawLine in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let line = rawLine.prefix { $0 != UInt8(ascii: "#") }
            let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A })
            guard fields.count >= 2, let (port, network) = portAndNetwork(fields[1]), network.elementsEqual("tcp".utf8) else {
                continue
            }
            for (index, field) in fields.enumerated() where index != 1 {
                table.tcp[Array(field)] = port
            }
        }
        return table
    }

    /// Go's `dtoi` on `80/tcp`, then the `/`: nil for lines Go skips.
    private static func portAndNetwork(_ field: ArraySlice<UInt8>) -> (Int, ArraySlice<UInt8>)? {
        let big = 0xFFFFFF
        var n = 0
        var i = field.startIndex
        while i < field.endIndex, field[i] >= UInt8(ascii: "0"), field[i] <= UInt8(ascii: "9") {
            n = n * 10 + Int(field[i] - UInt8(ascii: "0"))
            if n >= big { return nil }
            i += 1
        }
        guard i > field.startIndex, n > 0, i < field.endIndex, field[i] == UInt8(ascii: "/") else { return nil }
        return (n, field[(i + 1)...])
    }

    /// The port for a service name, matched ASCII-case-insensitively against the table's keys as
    /// written (Go lowercases only the query), or nil: Go's `unknown port`.
    public func port(for service: [UInt8]) -> Int? {
        guard service.count <= Self.maxNameBytes else { return nil }
        return tcp[service.map(asciiLower)]
    }
}
