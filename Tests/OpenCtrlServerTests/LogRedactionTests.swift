import Testing
@testable import OpenCtrlServer

struct LogRedactionTests {
    @Test(arguments: [
        ("portal://user:secret@host:1?key=abc", "portal://user:***@host:1?key=***"),
        ("managed://edge-a", "managed://edge-a"),
        ("managed:edge", "managed:edge"),
        ("x://user@host/p?a=1&b=&c", "x://user@host/p?a=***&b=***&c"),
        ("x://u:p@h/path@x?k=v#frag", "x://u:***@h/path@x?k=***#frag"),
        ("x://h/p#f?x=1", "x://h/p#f?x=1"),
        ("x://a:b:c@h", "x://a:***@h"),
        ("x://h?", "x://h?"),
    ])
    func redacts(_ input: String, _ expected: String) {
        #expect(LogRedaction.url(input) == expected)
    }
}
