import Glibc

/// The HTTP server's handshake-failure line (CONTRACT §3.4), in the original's words:
/// `http: TLS handshake error from <addr>: <reason>`.
enum TLSHandshakeLog {
    static func failure(socket fd: Int32, reason: String) {
        Log.info("http: TLS handshake error from \(peerAddress(of: fd)): \(reason)")
    }

    private static func peerAddress(of fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard fd >= 0, rc == 0 else { return "unknown address" }
        return addressText(storage) ?? "unknown address"
    }

    /// `<ip>:<port>` as Go prints a remote address: IPv6 in brackets, and an IPv4-mapped IPv6
    /// address (a dual-stack listener's IPv4 peer) as plain IPv4.
    static func addressText(_ storage: sockaddr_storage) -> String? {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw -> String? in
            switch Int32(storage.ss_family) {
            case AF_INET:
                let sin = raw.load(as: sockaddr_in.self)
                return ntop(AF_INET, sin.sin_addr) + ":\(UInt16(bigEndian: sin.sin_port))"
            case AF_INET6:
                let sin6 = raw.load(as: sockaddr_in6.self)
                let port = UInt16(bigEndian: sin6.sin6_port)
                let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
                if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                    return bytes[12...].map(String.init).joined(separator: ".") + ":\(port)"
                }
                return "[" + ntop(AF_INET6, sin6.sin6_addr) + "]:\(port)"
            default:
                return nil
            }
        }
    }

    private static func ntop(_ family: Int32, _ address: in_addr) -> String {
        var address = address
        return withUnsafeBytes(of: &address) { ntop(family, $0) }
    }

    private static func ntop(_ family: Int32, _ address: in6_addr) -> String {
        var address = address
        return withUnsafeBytes(of: &address) { ntop(family, $0) }
    }

    private static func ntop(_ family: Int32, _ address: UnsafeRawBufferPointer) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(family, address.baseAddress, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
