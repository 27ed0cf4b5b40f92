import Testing
@testable import OpenCtrlServer

/// `LogCut` keeps the longest text that fits, also where characters are multi-byte or bytes are
/// stray (regressions of two cuts that once came out short).
struct EventFrameClosenessTests {
    private static func here(_ line: UInt = #line) -> SourceLocation {
        SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1)
    }

    /// A prefix ending inside a character is longer (each of its bytes is `\ufffd`, 6 bytes) than
    /// the prefix holding the whole character, so a search probing inside characters could settle
    /// below the best cut.
    @Test(arguments: ["é", "日", "😀", "\u{2028}", "é日😀", "a😀"])
    func multiByteCutIsTheClosest(_ char: String) {
        for shift in 0..<4 {
            for extra in [1, 2, 1_000] {
                let (shape, logs) = EventFrameTruncationTests.line(of: char, after: shift, over: extra)
                checkFrameCut(shape.encode(logs), logs: logs, shape: shape, closest: true, at: Self.here())
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var char: String
        var shift: Int
        var over: Int
        var cut: Int
        var line: UInt
        var testDescription: String { "line \(line)" }
        init(_ char: String, shift: Int, over: Int, cut: Int, line: UInt = #line) {
            (self.char, self.shift, self.over, self.cut, self.line) = (char, shift, over, cut, line)
        }
    }

    /// Default shape (no id, instance `{"id":"d34db33f"}`, budget 64,880 for the quoted line);
    /// a search that probed inside characters once cut these 3 to 16 bytes short.
    static let concrete: [Case] = [
        // "a" + 21,627 × "日" (64,882 bytes): n = 27 gives 64,998.
        Case("日", shift: 1, over: 2, cut: 27),
        // 10,814 × U+2028 (32,442 bytes): n = 15 gives 64,997.
        Case("\u{2028}", shift: 0, over: 1, cut: 15),
        // 16,220 × "😀" (64,880 bytes): n = 24 gives 64,999.
        Case("😀", shift: 0, over: 1, cut: 24),
        // "a" + 32,439 × "é" (64,879 bytes): n = 22 gives 65,000.
        Case("é", shift: 1, over: 1, cut: 22),
    ]

    @Test(arguments: concrete)
    func concreteLinesKeepEveryCharacterThatFits(_ c: Case) {
        let (shape, logs) = EventFrameTruncationTests.line(of: c.char, after: c.shift, over: c.over)
        let n = checkFrameCut(shape.encode(logs), logs: logs, shape: shape, closest: true, at: Self.here(c.line))
        #expect(n == c.cut, sourceLocation: Self.here(c.line))
        #expect(Self.closestCut(logs, shape: shape) == c.cut, "the table disagrees with the reference", sourceLocation: Self.here(c.line))
    }

    /// A stray continuation byte right after the cut is a unit of its own, not the tail of the
    /// character before it: the default shape and a line of budget - 1 "x" (one byte over) whose
    /// byte at count - 22, the first one cut, is 0x80 keeps 22 bytes cut and a 65,000-byte frame.
    @Test func strayContinuationByteAfterTheCutCostsNothing() {
        let shape = FrameShape()
        var logs = [UInt8](repeating: UInt8(ascii: "x"), count: shape.budget - 1)
        logs[logs.count - 22] = 0x80
        let frame = shape.encode(logs)
        #expect(frame.count == EventFrame.maxBytes)
        #expect(checkFrameCut(frame, logs: logs, shape: shape, closest: true, at: Self.here()) == 22)
    }

    /// Random lines whose cut once came out short (the character after the cut is U+1D11E for
    /// seed 47 and U+2028 for seed 155).
    @Test(arguments: [47, 155])
    func randomLineCutIsTheClosest(_ seed: Int) {
        let shape = EventFrameRandomLineTests.shape(seed: UInt64(seed))
        let logs = EventFrameRandomLineTests.line(seed: UInt64(seed), budget: shape.budget)
        guard ReferenceJSON.quote(logs).count > shape.budget else { return }
        checkFrameCut(shape.encode(logs), logs: logs, shape: shape, closest: true, at: Self.here())
    }

    /// The smallest count of bytes cut at a character boundary that leaves a frame within the limit.
    private static func closestCut(_ logs: [UInt8], shape: FrameShape) -> Int {
        var kept = 0
        var quoted = 2
        var best = logs.count
        for unit in ReferenceJSON.unitLengths(logs).dropLast() {
            quoted += ReferenceJSON.quote(Array(logs[kept..<kept + unit])).count - 2
            kept += unit
            if quoted + FrameShape.marker(logs.count - kept).count > shape.budget { break }
            best = logs.count - kept
        }
        return best
    }
}
