import Testing

@testable import OpenCtrlServer

/// Line reassembly across pipe reads (CONTRACT §12.3, "Our rule").
struct LineSplitterTests {
    static let limit = LineSplitter.maxLineBytes

    /// Feeds `chunks` in order, then signals EOF, collecting copies of the emitted lines.
    static func split(_ chunks: [[UInt8]]) -> [[UInt8]] {
        var splitter = LineSplitter()
        var lines: [[UInt8]] = []
        for chunk in chunks {
            chunk.withUnsafeBytes { splitter.feed($0) { lines.append(Array($0)) } }
        }
        splitter.finish { lines.append(Array($0)) }
        return lines
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `count` letters that differ from their neighbours, so a misplaced cut changes the content.
    static func run(_ count: Int, from offset: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(0x61 + (offset + $0) % 26) }
    }

    /// Every way to cut the input into 2 or 3 reads gives the same lines as a single read.
    @Test func everyCutPositionOfASmallInput() {
        let input = Self.bytes("ab\r\ncd\n\nef\rgh\r\n\r\n\r\r\nij")
        let expected = ["ab", "cd", "", "ef\rgh", "", "\r", "ij"].map(Self.bytes)
        #expect(Self.split([input]) == expected)
        #expect(Self.split(input.map { [$0] }) == expected)
        for i in 0...input.count {
            for j in i...input.count {
                let chunks = [Array(input[..<i]), Array(input[i..<j]), Array(input[j...])]
                #expect(Self.split(chunks) == expected, "cuts at \(i), \(j)")
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var chunks: [[UInt8]]
        var lines: [[UInt8]]
        var line: UInt

        init(_ name: String, _ chunks: [[UInt8]], _ lines: [[UInt8]], line: UInt = #line) {
            self.name = name
            self.chunks = chunks
            self.lines = lines
            self.line = line
        }

        init(_ name: String, _ chunks: [String], _ lines: [String], line: UInt = #line) {
            self.init(name, chunks.map(LineSplitterTests.bytes), lines.map(LineSplitterTests.bytes), line: line)
        }

        var testDescription: String { name }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let shortCases: [Case] = [
        Case("nothing", [String](), [String]()),
        Case("empty reads", ["", ""], []),
        Case("one line", ["hello\n"], ["hello"]),
        Case("no trailing empty line after a final newline", ["a\nb\n"], ["a", "b"]),
        Case("EOF tail", ["a\nbc"], ["a", "bc"]),
        Case("tail only", ["bc"], ["bc"]),
        Case("empty lines are lines", ["\n\n\n"], ["", "", ""]),
        Case("empty line between lines", ["a\n\nb\n"], ["a", "", "b"]),
        Case("CRLF", ["a\r\nb\r\n"], ["a", "b"]),
        Case("CRLF split between reads", ["a\r", "\nb\n"], ["a", "b"]),
        Case("CR and LF in separate reads with empty reads between", ["a\r", "", "", "\n"], ["a"]),
        Case("empty CRLF line", ["\r\n"], [""]),
        Case("only one CR removed", ["a\r\r\n"], ["a\r"]),
        Case("lone CR kept in the middle", ["a\rb\n"], ["a\rb"]),
        Case("lone CR at the start", ["\rb\n"], ["\rb"]),
        Case("CR at a read boundary followed by text", ["a\r", "b\n"], ["a\rb"]),
        Case("CR ending the EOF tail is kept", ["a\r"], ["a\r"]),
        Case("lone CR as the EOF tail", ["x\n\r"], ["x", "\r"]),
        Case("LF CR is not a terminator", ["a\n\rb\n"], ["a", "\rb"]),
        Case("line reassembled over three reads", ["CHECK_PO", "INT|MODE=1|", "PING=2ms\n"], ["CHECK_POINT|MODE=1|PING=2ms"]),
        Case("NUL and invalid UTF-8 pass through", [[0x61, 0x00, 0xFF], [0xFE, 0x0A]], [[0x61, 0x00, 0xFF, 0xFE]]),
    ]

    @Test(arguments: shortCases)
    func shortInputs(_ c: Case) {
        #expect(Self.split(c.chunks) == c.lines, sourceLocation: c.location)
    }

    static let longCases: [Case] = [
        Case("exactly 64 KiB without newline", [run(limit)], [run(limit)]),
        Case("64 KiB + 1 without newline", [run(limit + 1)], [run(limit), run(1, from: limit)]),
        Case("3 × 64 KiB without newline", [run(3 * limit)],
             [run(limit), run(limit, from: limit), run(limit, from: 2 * limit)]),
        Case("3 × 64 KiB + 5 without newline", [run(3 * limit + 5)],
             [run(limit), run(limit, from: limit), run(limit, from: 2 * limit), run(5, from: 3 * limit)]),
        Case("exactly 64 KiB then newline: no extra empty line", [run(limit) + [0x0A]], [run(limit)]),
        Case("exactly 64 KiB then CRLF", [run(limit) + bytes("\r\n")], [run(limit)]),
        Case("3 × 64 KiB then newline", [run(3 * limit) + [0x0A]],
             [run(limit), run(limit, from: limit), run(limit, from: 2 * limit)]),
        Case("64 KiB − 1 then CRLF", [run(limit - 1) + bytes("\r\n")], [run(limit - 1)]),
        Case("64 KiB + 1 then newline", [run(limit + 1) + [0x0A]], [run(limit), run(1, from: limit)]),
        Case("64 KiB then CR then text: CR starts the next piece", [run(limit) + bytes("\rx\n")],
             [run(limit), bytes("\rx")]),
        Case("64 KiB then CR at EOF", [run(limit) + bytes("\r")], [run(limit), bytes("\r")]),
        Case("64 KiB then CR CR LF", [run(limit) + bytes("\r\r\n")], [run(limit), bytes("\r")]),
        Case("64 KiB − 1 then CR then text: CR is content", [run(limit - 1) + bytes("\rx\n")],
             [run(limit - 1) + bytes("\r"), bytes("x")]),
        Case("long line between short ones", [bytes("a\n") + run(limit + 2) + bytes("\nb\n")],
             [bytes("a"), run(limit), run(2, from: limit), bytes("b")]),
    ]

    /// Long lines give the same result whatever the read sizes, including reads that end right
    /// at, before or after the 64 KiB mark and reads that end between `\r` and `\n`.
    @Test(arguments: longCases)
    func longLines(_ c: Case) {
        let input = c.chunks.flatMap { $0 }
        for size in [1, 2, 7, 4096, Self.limit - 1, Self.limit, Self.limit + 1, Self.limit + 2, input.count] {
            let chunks = stride(from: 0, to: input.count, by: max(size, 1)).map {
                Array(input[$0..<min($0 + size, input.count)])
            }
            #expect(Self.split(chunks) == c.lines, "read size \(size)", sourceLocation: c.location)
        }
    }

    /// Memory stays bounded: full pieces leave during `feed`, before any newline or EOF.
    @Test func piecesAreEmittedWhileReading() {
        var splitter = LineSplitter()
        var sizes: [Int] = []
        for _ in 0..<10 {
            Self.run(Self.limit / 2).withUnsafeBytes { splitter.feed($0) { sizes.append($0.count) } }
        }
        #expect(sizes == [Int](repeating: Self.limit, count: 4))
        splitter.finish { sizes.append($0.count) }
        #expect(sizes == [Int](repeating: Self.limit, count: 5))
    }

    @Test func finishClearsTheTail() {
        var splitter = LineSplitter()
        var lines: [[UInt8]] = []
        Self.bytes("abc").withUnsafeBytes { splitter.feed($0) { lines.append(Array($0)) } }
        splitter.finish { lines.append(Array($0)) }
        splitter.finish { lines.append(Array($0)) }
        Self.bytes("d\n").withUnsafeBytes { splitter.feed($0) { lines.append(Array($0)) } }
        #expect(lines == [Self.bytes("abc"), Self.bytes("d")])
    }

    /// The splitter against the rule stated plainly on the whole input: split at `\n`, drop one
    /// `\r` before each `\n`, cut what is left into 64 KiB pieces, emit a non-empty tail. Inputs
    /// are pseudo-random with long runs so that 64 KiB boundaries meet `\r` and `\n`.
    @Test func matchesTheRuleOnRandomInputs() {
        var rng = SplitMix(seed: 0x0C7A_11CE)
        for round in 0..<12 {
            var input: [UInt8] = []
            while input.count < 3 * Self.limit {
                let runLength = rng.next() % 4 == 0 ? Self.limit - 2 + Int(rng.next() % 5) : Int(rng.next() % 40)
                input += Self.run(runLength)
                input += [[0x0A], [0x0D, 0x0A], [0x0D], [0x0D, 0x0D, 0x0A], [0x0A, 0x0A]][Int(rng.next() % 5)]
            }
            if round % 2 == 0 { input += Self.run(Int(rng.next() % 3)) }
            var chunks: [[UInt8]] = []
            var at = 0
            while at < input.count {
                let size = [1, 3, 4096, Self.limit - 1, Self.limit + 1][Int(rng.next() % 5)] + Int(rng.next() % 3)
                chunks.append(Array(input[at..<min(at + size, input.count)]))
                at += size
            }
            #expect(Self.split(chunks) == Self.reference(input), "round \(round)")
        }
    }

    static func reference(_ input: [UInt8]) -> [[UInt8]] {
        var segments = input.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let tail = segments.removeLast()
        var lines: [[UInt8]] = []
        func cut(_ line: [UInt8]) {
            var rest = line[...]
            while rest.count > limit {
                lines.append(Array(rest.prefix(limit)))
                rest = rest.dropFirst(limit)
            }
            lines.append(Array(rest))
        }
        for var segment in segments {
            if segment.last == 0x0D { segment.removeLast() }
            cut(segment)
        }
        if !tail.isEmpty { cut(tail) }
        return lines
    }

    /// A small deterministic generator so random-input tests replay identically.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
