import Testing
@testable import OpenCtrlServer

struct EventBatchTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var length: Int
        var header: String
        var line: UInt
        var testDescription: String { "\(length), line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
        init(_ length: Int, _ header: String, line: UInt = #line) { (self.length, self.header, self.line) = (length, header, line) }
    }

    /// HTTP/1.1 chunk sizes are hex; lowercase, no leading zeros, no extensions.
    static let headers: [Case] = [
        Case(1, "1\r\n"), Case(9, "9\r\n"), Case(10, "a\r\n"), Case(15, "f\r\n"), Case(16, "10\r\n"),
        Case(255, "ff\r\n"), Case(256, "100\r\n"), Case(4096, "1000\r\n"), Case(65_000, "fde8\r\n"), Case(1 << 20, "100000\r\n"),
    ]

    @Test(arguments: headers)
    func chunkHeader(_ c: Case) {
        #expect(String(decoding: EventBatch.chunkHeader(c.length), as: UTF8.self) == c.header, sourceLocation: c.location)
    }

    @Test func singleChunk() {
        let frame = Array("event: instance\ndata: {}\n\n".utf8)
        #expect(String(decoding: EventBatch.chunk(frame), as: UTF8.self) == "1a\r\nevent: instance\ndata: {}\n\n\r\n")
        #expect(String(decoding: EventBatch.chunk(EventFrame.retry), as: UTF8.self) == "d\r\nretry: 3000\n\n\r\n")
    }

    static let frames: [(text: String, isLog: Bool)] = [
        ("update one\n\n", false),
        ("log one\n\n", true),
        ("log two, a little longer than sixteen bytes\n\n", true),
        ("delete\n\n", false),
        ("log three\n\n", true),
    ]

    static func filled() -> EventBatch {
        var batch = EventBatch()
        for f in frames { batch.append(frame: Array(f.text.utf8), isLog: f.isLog) }
        return batch
    }

    @Test func bytesAreTheChunksInOrder() {
        let batch = Self.filled()
        let expected = "c\r\nupdate one\n\n\r\n" + "9\r\nlog one\n\n\r\n" + "2d\r\nlog two, a little longer than sixteen bytes\n\n\r\n"
            + "8\r\ndelete\n\n\r\n" + "b\r\nlog three\n\n\r\n"
        #expect(String(decoding: batch.bytes, as: UTF8.self) == expected)
    }

    @Test func segmentsLocateEachChunkAndFrame() {
        let batch = Self.filled()
        #expect(batch.segments.count == Self.frames.count)
        var offset = 0
        for (segment, f) in zip(batch.segments, Self.frames) {
            let chunk = EventBatch.chunk(Array(f.text.utf8))
            #expect(segment.offset == offset && segment.length == chunk.count)
            #expect(segment.headerLength == EventBatch.chunkHeader(f.text.utf8.count).count)
            #expect(segment.isLog == f.isLog)
            #expect(Array(batch.bytes[segment.range]) == chunk)
            #expect(String(decoding: batch.bytes[segment.frameRange], as: UTF8.self) == f.text)
            offset += chunk.count
        }
        #expect(offset == batch.bytes.count)
    }

    @Test func stateSegmentsAndLogCount() {
        let batch = Self.filled()
        #expect(batch.stateSegments == [0, 3])
        #expect(batch.logCount == 3)
        #expect(batch.stateSegments.allSatisfy { !batch.segments[$0].isLog })
        #expect(batch.segments.indices.filter { batch.segments[$0].isLog }.count == batch.logCount)
    }

    @Test func removeAllStartsOver() {
        var batch = Self.filled()
        #expect(!batch.isEmpty)
        batch.removeAll()
        #expect(batch.isEmpty && batch.bytes.isEmpty && batch.segments.isEmpty)
        #expect(batch.stateSegments.isEmpty && batch.logCount == 0)
        batch.append(frame: Array("log again\n\n".utf8), isLog: true)
        #expect(batch.segments.count == 1 && batch.segments[0].offset == 0 && batch.logCount == 1)
        #expect(batch.stateSegments.isEmpty)
        #expect(String(decoding: batch.bytes, as: UTF8.self) == "b\r\nlog again\n\n\r\n")
    }

    @Test func freshBatchIsEmpty() {
        let batch = EventBatch()
        #expect(batch.isEmpty && batch.bytes.isEmpty && batch.logCount == 0 && batch.stateSegments.isEmpty)
    }

    /// A full-size frame (65,000 bytes) gets a four-digit header and its frame range is exact.
    @Test func maximumFrameSegment() {
        var batch = EventBatch()
        let frame = [UInt8](repeating: UInt8(ascii: "x"), count: EventFrame.maxBytes)
        batch.append(frame: [UInt8(ascii: "y")], isLog: true)
        batch.append(frame: frame, isLog: false)
        let segment = batch.segments[1]
        #expect(segment.offset == 6 && segment.headerLength == 6 && segment.length == 65_008)
        #expect(segment.frameRange == 12..<65_012)
        #expect(batch.bytes[segment.frameRange].elementsEqual(frame))
        #expect(batch.stateSegments == [1])
    }
}
