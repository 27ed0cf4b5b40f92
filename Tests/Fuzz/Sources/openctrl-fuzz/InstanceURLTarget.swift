import OpenCtrlServer

/// (2) Instance URL validation and normalisation (CONTRACT §9.3).
///
/// Invariants: normalising is idempotent; the normalised URL means what the input meant (same
/// scheme, user-info, host, decoded path, raw query with its `?`, and decoded fragment under
/// `url.Parse`; an opaque URL stays opaque); the instance type is the scheme; every refusal
/// carries a message.
enum InstanceURLTarget: FuzzTarget {
    static let name = "instance-url"
    static let summary = "InstanceURL.normalize: idempotent, meaning-preserving, type = scheme"

    static func run(_ data: [UInt8]) {
        // Instance URLs arrive as JSON strings, which are always valid UTF-8.
        let text = String(decoding: data, as: UTF8.self)
        let normalized: String
        do {
            normalized = try InstanceURL.normalize(text)
        } catch {
            require(!error.message.isEmpty, "empty error for \(show(text))")
            return
        }
        let twice: String
        do {
            twice = try InstanceURL.normalize(normalized)
        } catch {
            fail("\(show(text)) normalizes to \(show(normalized)), which is refused: \(error.message)")
        }
        require(sameBytes(twice, normalized),
                "not idempotent: \(show(text)) -> \(show(normalized)) -> \(show(twice))")

        guard let before = try? GoURL.parse(text) else { fail("accepted \(show(text)) does not parse") }
        guard let after = try? GoURL.parse(normalized) else { fail("\(show(normalized)) does not parse") }
        let type = InstanceRequests.instanceType(ofURL: normalized)
        require(type.utf8.elementsEqual(before.scheme), "type \(show(type)) of \(show(text))")
        require(after.scheme == before.scheme, "scheme changed: \(show(text)) -> \(show(normalized))")
        // An opaque part is re-encoded but never decoded by url.Parse, so only its presence counts.
        require(after.opaque.isEmpty == before.opaque.isEmpty, "opaque changed: \(show(text)) -> \(show(normalized))")
        guard before.opaque.isEmpty else { return }
        require(after.user == before.user && after.host == before.host && after.path == before.path
                    && after.rawQuery == before.rawQuery && after.forceQuery == before.forceQuery
                    && after.fragment == before.fragment,
                "meaning changed: \(show(text)) -> \(show(normalized))")
    }
}
