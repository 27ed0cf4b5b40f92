import Glibc
import OpenCtrlServer

/// (5) `LineSplitter` (CONTRACT §12.3) fed a stream in fuzz-chosen chunks.
///
/// The input is a small program, so short inputs reach the 64 KiB line cap and chunk boundaries
/// land where they matter:
/// - `0xFE` ends the current chunk (two in a row feed an empty one);
/// - `0xFD n b k` appends a run of byte `b`, `maxLineBytes - 64 + (n & 0x7F)` long (with
///   `2 * maxLineBytes` in place of `maxLineBytes` when `n & 0x80`); a nonzero `k` also ends a
///   chunk `k` bytes before the run's end;
/// - `0xFC b` appends `b` itself (so `0xFC`–`0xFE` can occur in the stream);
/// - any other byte is appended as is.
///
/// Invariant: whatever the chunking, the emitted lines are exactly those of a plain reference
/// split: bytes between `\n`s, one `\r` before a `\n` dropped, a line longer than the cap cut
/// into cap-sized pieces plus a non-empty rest, an unterminated tail emitted at `finish` with its
/// `\r` kept. When no line reaches the cap, joining the lines with their terminators gives back
/// the stream. No emitted buffer exceeds the cap.
enum LineSplitterTarget: FuzzTarget {
    static let name = "line-splitter"
    static let summary = "LineSplitter under random chunking vs a reference split; reassembly"

    static let cap = LineSplitter.maxLineBytes
    /// Runs cost ~64 KiB each; more than a few only slows the fuzzer down.
    static let maxRuns = 3

    static func run(_ data: [UInt8]) {
        let (stream, chunks) = program(data)
        var splitter = LineSplitter()
        var lines: [[UInt8]] = []
        let collect: (UnsafeRawBufferPointer) -> Void = { line in
            require(line.count <= cap, "emitted \(line.count) bytes, over the cap")
            lines.append(Array(line))
        }
        var start = 0
        for end in chunks + [stream.count] {
            stream[start..<end].withUnsafeBytes { splitter.feed($0, collect) }
            start = end
        }
        splitter.finish(collect)

        let expected = reference(stream)
        let differs = lines.count != expected.count || zip(lines, expected).contains { !same($0, $1) }
        guard differs else {
            checkReassembly(stream, lines)
            return
        }
        let common = min(lines.count, expected.count)
        let firstDifference = (0..<common).first { !same(lines[$0], expected[$0]) } ?? common
        fail("stream \(show(stream)) in chunks ending at \(chunks): \(lines.count) lines, expected \(expected.count); "
             + "first difference at line \(firstDifference)")
    }

    private static func program(_ data: [UInt8]) -> (stream: [UInt8], chunks: [Int]) {
        var stream: [UInt8] = []
        var chunks: [Int] = []
        var runs = 0
        var i = 0
        while i < data.count {
            let op = data[i]
            i += 1
            switch op {
            case 0xFE:
                chunks.append(stream.count)
            case 0xFD where runs < maxRuns && i + 3 <= data.count:
                let (n, byte, cut) = (data[i], data[i + 1], Int(data[i + 2]))
                i += 3
                runs += 1
                let length = (n & 0x80 != 0 ? 2 * cap : cap) - 64 + Int(n & 0x7F)
                // memset and memchr (below) are not instrumented: byte loops over 64 KiB compiled
                // with -sanitize=fuzzer would dominate the run time.
                stream += [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                    _ = memset(buffer.baseAddress!, Int32(byte), length)
                    count = length
                }
                if cut > 0 { chunks.append(stream.count - cut) }
            case 0xFC where i < data.count:
                stream.append(data[i])
                i += 1
            default:
                stream.append(op)
            }
        }
        return (stream, chunks.sorted())
    }

    private static func reference(_ stream: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        func pieces(_ line: ArraySlice<UInt8>) {
            var rest = line
            while rest.count > cap {
                lines.append(Array(rest.prefix(cap)))
                rest = rest.dropFirst(cap)
            }
            lines.append(Array(rest))
        }
        func nextNewline(from start: Int) -> Int? {
            stream.withUnsafeBytes { bytes in
                memchr(bytes.baseAddress! + start, 0x0A, bytes.count - start).map { bytes.baseAddress!.distance(to: $0) }
            }
        }
        var start = 0
        while start < stream.count, let newline = nextNewline(from: start) {
            var end = newline
            if end > start && stream[end - 1] == 0x0D { end -= 1 }
            pieces(stream[start..<end])
            start = newline + 1
        }
        if start < stream.count { pieces(stream[start...]) }
        return lines
    }

    /// The property the issue states, checked directly (not via the reference): when no line
    /// reaches the cap, lines plus their terminators are the stream.
    private static func checkReassembly(_ stream: [UInt8], _ lines: [[UInt8]]) {
        guard lines.allSatisfy({ $0.count < cap }) else { return }
        var rebuilt: [UInt8] = []
        var at = 0
        for line in lines {
            rebuilt += line
            at += line.count
            if at < stream.count && stream[at] == 0x0D && at + 1 < stream.count && stream[at + 1] == 0x0A {
                rebuilt += [0x0D, 0x0A]
                at += 2
            } else if at < stream.count && stream[at] == 0x0A {
                rebuilt.append(0x0A)
                at += 1
            }
        }
        require(same(rebuilt, stream), "lines of \(show(stream)) do not reassemble to it")
    }

    /// `==` on byte arrays compiles to an instrumented loop here; memcmp is not instrumented.
    private static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
    }
}
