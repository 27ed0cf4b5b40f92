/// Server-side ALPN selection (CONTRACT §3.4 "Our rule"): HTTP/1.1 only.
enum TLSALPN {
    static let http11: [UInt8] = Array("http/1.1".utf8)

    /// Where the name `http/1.1` starts in a client's protocol list (RFC 7301 wire format: each
    /// name preceded by its one-byte length), or nil when it is not offered or the list is
    /// malformed (a zero length, or a name running past the end).
    static func offsetOfHTTP11(in list: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        while index < list.count {
            let length = Int(list[index])
            let start = index + 1
            guard length > 0, start + length <= list.count else { return nil }
            if length == http11.count, list[start..<(start + length)].elementsEqual(http11) { return start }
            index = start + length
        }
        return nil
    }
}
