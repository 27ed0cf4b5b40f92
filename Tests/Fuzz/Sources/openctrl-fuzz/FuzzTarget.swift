import Glibc

/// One parser under test. `run` gets one input from libFuzzer and traps (via `require`) when an
/// invariant fails, so libFuzzer records the input as a crash artifact.
protocol FuzzTarget: SendableMetatype {
    static var name: String { get }
    static var summary: String { get }
    static func run(_ data: [UInt8])
}

enum FuzzTargets {
    static let all: [any FuzzTarget.Type] = [
        MasterURLTarget.self,
        InstanceURLTarget.self,
        RequestBodyTarget.self,
        CheckpointTarget.self,
        LineSplitterTarget.self,
        StateCodecTarget.self,
        ChangeLogTarget.self,
        TCPingParseTarget.self,
    ]

    static let environmentKey = "OPENCTRL_FUZZ_TARGET"

    static func named(_ name: String) -> (any FuzzTarget.Type)? {
        all.first { $0.name == name }
    }

    /// Read once, on the first input, after main has set the environment.
    static let selected: (any FuzzTarget.Type)? = getenv(environmentKey).flatMap { named(String(cString: $0)) }

    /// libFuzzer's callback: one input to the selected target.
    static func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        selected?.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}

/// Traps with a message naming the broken invariant; the stack and the input are libFuzzer's.
func require(
    _ condition: Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition {
        fail(message(), file: file, line: line)
    }
}

func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("invariant violated: \(message)", file: file, line: line)
}

/// Bytes for a failure message: printable ASCII as is, the rest as `\xNN`, cut at 300 bytes.
func show<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for byte in bytes.prefix(300) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "\"") {
            out.append(byte)
        } else {
            out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        }
    }
    out.append(UInt8(ascii: "\""))
    if bytes.count > 300 {
        out += Array("… (\(bytes.count) bytes)".utf8)
    }
    return String(decoding: out, as: UTF8.self)
}

func show(_ text: String) -> String {
    show(Array(text.utf8))
}

func sameBytes(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case let (a?, b?): a.utf8.elementsEqual(b.utf8)
    default: false
    }
}
