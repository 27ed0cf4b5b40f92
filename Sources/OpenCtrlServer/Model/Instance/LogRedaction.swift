/// URLs in log lines lose their password and query values (CONTRACT §17 "Our rule"):
/// `portal://user:secret@host:1?key=abc` is logged as `portal://user:***@host:1?key=***`.
/// Instance URLs routinely carry credentials, and logs end up in collectors.
public enum LogRedaction {
    public static func url(_ raw: String) -> String {
        var text = Substring(raw)
        var fragment: Substring = ""
        if let hash = text.firstIndex(of: "#") {
            fragment = text[hash...]
            text = text[..<hash]
        }
        var query: Substring?
        if let mark = text.firstIndex(of: "?") {
            query = text[text.index(after: mark)...]
            text = text[..<mark]
        }
        var out = redactUserinfo(text)
        if let query {
            out += "?" + query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
                guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
                return String(pair[...eq]) + "***"
            }.joined(separator: "&")
        }
        return out + fragment
    }

    private static func redactUserinfo(_ text: Substring) -> String {
        guard let colonSlash = text.firstIndex(of: ":"), text[colonSlash...].hasPrefix("://") else { return String(text) }
        let authorityStart = text.index(colonSlash, offsetBy: 3)
        let authorityEnd = text[authorityStart...].firstIndex(of: "/") ?? text.endIndex
        let authority = text[authorityStart..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else {
            return String(text)
        }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}
