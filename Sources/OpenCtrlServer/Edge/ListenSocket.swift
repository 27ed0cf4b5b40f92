import CEvent
import Glibc

/// Why the listening socket could not be made: resolution failures are configuration errors,
/// bind/listen failures are `Master.run: listen failed` (CONTRACT §1, §2.1).
public enum ListenError: Error {
    case resolve(String)
    case listen(String)
}

/// A bound, listening, non-blocking, close-on-exec TCP socket with TCP_NODELAY set, which
/// accepted sockets inherit on Linux (TLS streams stall on Nagle without it).
public struct ListenSocket: Sendable {
    public let fd: Int32
    /// `<ip>:<port>` actually bound (IPv6 in brackets; `:<port>` for all interfaces).
    public let boundAddress: String

    /// Resolves and binds at startup, before the loop runs, so a blocking resolver is fine here.
    public static func open(host: String, port: UInt16) throws(ListenError) -> ListenSocket {
        if host.isEmpty {
            // Dual-stack on all interfaces; IPv4 only where the kernel has no IPv6 at all. Any
            // other IPv6 failure (the port taken, say) is reported, not papered over.
            let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard probe >= 0 else {
                return try bind(address: makeIPv4(in_addr(s_addr: 0), port), display: nil, port: port, v6Only: false)
            }
            close(probe)
            return try bind(address: makeIPv6(in6addr_any, port), display: nil, port: port, v6Only: false)
        }
        let address = try resolve(host: host, port: port)
        return try bind(address: address, display: address.ipText, port: port, v6Only: true)
    }

    private static func resolve(host: String, port: UInt16) throws(ListenError) -> SocketAddress {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return makeIPv4(v4, port) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return makeIPv6(v6, port) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &list)
        guard rc == 0, let first = list else {
            throw .resolve("lookup \(host): \(lowercasedFirst(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(list) }
        var chosen: SocketAddress?
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let e = entry {
            if e.pointee.ai_family == AF_INET {
                let sin = UnsafeRawPointer(e.pointee.ai_addr!).load(as: sockaddr_in.self)
                chosen = makeIPv4(sin.sin_addr, port)
                break
            }
            if chosen == nil, e.pointee.ai_family == AF_INET6 {
                let sin6 = UnsafeRawPointer(e.pointee.ai_addr!).load(as: sockaddr_in6.self)
                chosen = makeIPv6(sin6.sin6_addr, port)
            }
            entry = e.pointee.ai_next
        }
        guard let chosen else { throw .resolve("lookup \(host): no such host") }
        return chosen
    }

    private static func bind(address: SocketAddress, display: String?, port: UInt16, v6Only: Bool) throws(ListenError) -> ListenSocket {
        let family = address.family
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let shown = display.map { family == AF_INET6 ? "[\($0)]:\(port)" : "\($0):\(port)" } ?? ":\(port)"
        guard fd >= 0 else { throw .listen("listen tcp \(shown): socket: \(errnoText())") }
        var one: Int32 = 1
        var v6OnlyFlag: Int32 = v6Only ? 1 : 0
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6OnlyFlag, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0 else {
            let text = errnoText()
            close(fd)
            throw .listen("listen tcp \(shown): bind: \(text)")
        }
        guard Glibc.listen(fd, 4096) == 0 else {
            let text = errnoText()
            close(fd)
            throw .listen("listen tcp \(shown): listen: \(text)")
        }
        let actualPort = boundPort(fd)
        let boundAddress: String
        if let display {
            boundAddress = family == AF_INET6 ? "[\(display)]:\(actualPort)" : "\(display):\(actualPort)"
        } else {
            boundAddress = ":\(actualPort)"
        }
        return ListenSocket(fd: fd, boundAddress: boundAddress)
    }

    private static func boundPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return 0 }
        return withUnsafeBytes(of: &storage) { raw in
            // sin_port and sin6_port sit at the same offset, in network byte order.
            UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        }
    }
}

/// An IPv4 or IPv6 socket address.
enum SocketAddress {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// The numeric address, as the `started` line prints it.
    var ipText: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(var sin): inet_ntop(AF_INET, &sin.sin_addr, &buffer, socklen_t(buffer.count))
        case .v6(var sin6): inet_ntop(AF_INET6, &sin6.sin6_addr, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .v4(var sin):
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(var sin6):
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

private func makeIPv4(_ address: in_addr, _ port: UInt16) -> SocketAddress {
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr = address
    return .v4(sin)
}

private func makeIPv6(_ address: in6_addr, _ port: UInt16) -> SocketAddress {
    var sin6 = sockaddr_in6()
    sin6.sin6_family = sa_family_t(AF_INET6)
    sin6.sin6_port = port.bigEndian
    sin6.sin6_addr = address
    return .v6(sin6)
}

/// `strerror(errno)` with a lowercase first letter, the way Go prints syscall errors.
func errnoText(_ code: Int32 = errno) -> String {
    lowercasedFirst(String(cString: strerror(code)))
}

func lowercasedFirst(_ s: String) -> String {
    guard let first = s.first else { return s }
    return first.lowercased() + s.dropFirst()
}
