import CSSL

/// A TLS setup or certificate failure, carrying the reason text that ends the startup error
/// envelope or the reload log line (CONTRACT §1, §3.3).
public struct TLSError: Error, CustomStringConvertible, Equatable {
    public var description: String

    init(_ description: String) {
        self.description = description
    }

    /// `<what>: <OpenSSL reasons>`, emptying this thread's OpenSSL error queue so that no
    /// stale entry surfaces on a later connection.
    static func openSSL(_ what: String) -> TLSError {
        TLSError(what + ": " + OpenSSLErrorQueue.drain())
    }
}

/// OpenSSL's per-thread error queue. Every failure path drains it; every OpenSSL call made on
/// the loop outside libevent starts from an empty queue (libevent reads it after its own calls).
enum OpenSSLErrorQueue {
    static func clear() {
        ERR_clear_error()
    }

    /// The reasons queued since the last clear, oldest first and without repeats.
    static func drain() -> String {
        var reasons: [String] = []
        var code = ERR_get_error()
        while code != 0 {
            let text = reason(code)
            if !reasons.contains(text) { reasons.append(text) }
            code = ERR_get_error()
        }
        return reasons.isEmpty ? "unknown error" : reasons.joined(separator: ": ")
    }

    /// The short reason text (`unsupported protocol`), or the full code line when OpenSSL
    /// has no string for it.
    static func reason(_ code: UInt) -> String {
        if let text = ERR_reason_error_string(code) { return String(cString: text) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
