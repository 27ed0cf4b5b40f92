import Glibc

/// Reassembles a child's output into lines across pipe reads (CONTRACT §12.3, "Our rule").
///
/// The original split each 32 KiB read on its own, so a line (often a checkpoint) that straddled
/// two reads became two broken lines. Here a line is the bytes between two `\n`, whatever the reads
/// looked like, with one `\r` removed when it sits right before the `\n`.
///
/// A line longer than `maxLineBytes` is emitted as consecutive `maxLineBytes` pieces followed by
/// the remainder. A piece is emitted only once the byte after it proves the line goes on, so a line
/// of exactly `maxLineBytes` (with `\n` or `\r\n`) stays one line instead of being followed by a
/// spurious empty one. That look-ahead costs at most one extra byte (a possible `\r` of a `\r\n`),
/// so memory stays bounded to one line: `maxLineBytes + 1`.
///
/// Emitted buffers are borrowed: they are valid only during the `emit` call. When the splitter holds
/// no partial line, lines that lie inside the chunk are passed straight from the chunk, uncopied.
public struct LineSplitter: Sendable {
    public static let maxLineBytes = 65_536

    private static let newline: UInt8 = 0x0A
    private static let carriageReturn: UInt8 = 0x0D

    /// The unterminated start of the current line. Holds at most `maxLineBytes` bytes, or
    /// `maxLineBytes + 1` when the last one is a `\r` that may belong to a `\r\n`.
    private var pending: [UInt8] = []

    public init() {}

    /// Splits `chunk`, emitting every line it completes and keeping the unterminated tail.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) -> Void) {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        let end = chunk.count
        while start < end {
            guard let found = memchr(base + start, Int32(Self.newline), end - start) else {
                consume(base + start, end - start, terminated: false, emit)
                return
            }
            let stop = base.distance(to: UnsafeRawPointer(found))
            consume(base + start, stop - start, terminated: true, emit)
            start = stop + 1
        }
    }

    /// End of input: emits the unterminated tail, if any. A `\r` ending the tail is kept, since
    /// only a `\r` before `\n` is part of a line terminator.
    public mutating func finish(_ emit: (UnsafeRawBufferPointer) -> Void) {
        if pending.count > Self.maxLineBytes {
            emitPending(count: Self.maxLineBytes, emit)
            pending = [Self.carriageReturn]
        }
        if !pending.isEmpty {
            emitPending(count: pending.count, emit)
        }
        pending = []
    }

    /// Handles `count` bytes without a newline, followed by `\n` when `terminated`. `feed` never
    /// passes zero bytes without a `\n`, so every call brings news about the pending line.
    private mutating func consume(
        _ start: UnsafeRawPointer, _ count: Int, terminated: Bool,
        _ emit: (UnsafeRawBufferPointer) -> Void
    ) {
        var start = start
        var count = count
        if !pending.isEmpty {
            guard let rest = joinPending(start, count, terminated: terminated, emit) else { return }
            start += count - rest
            count = rest
        }
        let limit = Self.maxLineBytes
        if terminated {
            if count > 0 && start.load(fromByteOffset: count - 1, as: UInt8.self) == Self.carriageReturn {
                count -= 1
            }
            while count > limit {
                emit(UnsafeRawBufferPointer(start: start, count: limit))
                start += limit
                count -= limit
            }
            emit(UnsafeRawBufferPointer(start: start, count: count))
        } else {
            while count > limit {
                // A `\r` right after a full piece may be the start of its `\r\n` in the next read.
                let last = start.load(fromByteOffset: count - 1, as: UInt8.self)
                if count == limit + 1 && last == Self.carriageReturn { break }
                emit(UnsafeRawBufferPointer(start: start, count: limit))
                start += limit
                count -= limit
            }
            append(start, count)
        }
    }

    /// Continues the pending line with the given bytes. Returns how many bytes at the end of them
    /// still need handling with `pending` empty, or nil when everything was handled.
    private mutating func joinPending(
        _ start: UnsafeRawPointer, _ count: Int, terminated: Bool,
        _ emit: (UnsafeRawBufferPointer) -> Void
    ) -> Int? {
        let limit = Self.maxLineBytes
        if pending.count > limit {
            // A full line plus a `\r`: an immediate `\n` makes that `\r` a terminator, anything
            // else makes it the first byte of the next piece.
            emitPending(count: limit, emit)
            pending.removeAll(keepingCapacity: true)
            if count == 0 { return nil }
            pending.append(Self.carriageReturn)
        }
        let room = limit - pending.count
        if count <= room {
            append(start, count)
            if terminated {
                let length = pending.last == Self.carriageReturn ? pending.count - 1 : pending.count
                emitPending(count: length, emit)
                pending.removeAll(keepingCapacity: true)
            }
            return nil
        }
        append(start, room)
        let rest = count - room
        let restIsCR = rest == 1 && start.load(fromByteOffset: room, as: UInt8.self) == Self.carriageReturn
        if restIsCR && !terminated {
            pending.append(Self.carriageReturn)
            return nil
        }
        emitPending(count: limit, emit)
        pending.removeAll(keepingCapacity: true)
        return restIsCR ? nil : rest
    }

    private func emitPending(count: Int, _ emit: (UnsafeRawBufferPointer) -> Void) {
        pending.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
    }

    /// Appends without letting the array's doubling growth overshoot the one-line bound.
    private mutating func append(_ start: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        let needed = pending.count + count
        if needed > pending.capacity {
            pending.reserveCapacity(min(Self.maxLineBytes + 1, max(needed, pending.capacity * 2)))
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(start: start, count: count))
    }
}
