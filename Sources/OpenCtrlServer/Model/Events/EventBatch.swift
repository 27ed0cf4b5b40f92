/// Live events published during one turn of the loop, encoded once as HTTP/1.1 chunks
/// (`<hex length>\r\n<frame>\r\n`) in one contiguous buffer, so a watcher that takes
/// everything costs one write of the whole batch.
public struct EventBatch: Sendable {
    public struct Segment: Sendable {
        /// Where the chunk starts in `bytes`, and its length with its framing.
        public let offset: Int
        public let length: Int
        /// Length of the `<hex>\r\n` prefix; the frame is followed by `\r\n`.
        public let headerLength: Int
        public let isLog: Bool

        /// The frame without chunk framing (for HTTP/1.0 watchers, whose replies are not chunked).
        public var frameRange: Range<Int> { (offset + headerLength)..<(offset + length - 2) }
        public var range: Range<Int> { offset..<(offset + length) }
    }

    public private(set) var bytes: [UInt8] = []
    public private(set) var segments: [Segment] = []
    /// Indexes into `segments` of the state (non-log) events, for watchers skipping logs.
    public private(set) var stateSegments: [Int] = []
    public private(set) var logCount = 0

    public init() {}

    public var isEmpty: Bool { segments.isEmpty }

    public mutating func append(frame: [UInt8], isLog: Bool) {
        let offset = bytes.count
        Self.appendChunkHeader(frame.count, to: &bytes)
        let headerLength = bytes.count - offset
        bytes.append(contentsOf: frame)
        bytes.append(13)
        bytes.append(10)
        if isLog { logCount += 1 } else { stateSegments.append(segments.count) }
        segments.append(Segment(offset: offset, length: bytes.count - offset, headerLength: headerLength, isLog: isLog))
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 20)
        segments.removeAll(keepingCapacity: true)
        stateSegments.removeAll(keepingCapacity: true)
        logCount = 0
    }

    /// `<hex>\r\n` for a chunk of `length` bytes.
    public static func chunkHeader(_ length: Int) -> [UInt8] {
        var header: [UInt8] = []
        appendChunkHeader(length, to: &header)
        return header
    }

    private static func appendChunkHeader(_ length: Int, to bytes: inout [UInt8]) {
        precondition(length >= 0)
        var digits = 1
        while length >> (4 * digits) > 0 { digits += 1 }
        for i in stride(from: digits - 1, through: 0, by: -1) { bytes.append(hexDigits[(length >> (4 * i)) & 15]) }
        bytes.append(13)
        bytes.append(10)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `frame` as one chunk, for control frames sent to a single watcher.
    public static func chunk(_ frame: [UInt8]) -> [UInt8] {
        chunkHeader(frame.count) + frame + [13, 10]
    }
}
