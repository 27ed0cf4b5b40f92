import CEvent
import Glibc

/// Child output mirrored to the master's stdout as `<line> [<id>]` (CONTRACT §12.4) without
/// ever blocking the loop: stdout is written non-blocking from a queue of at most 1 MiB; when
/// it is full lines are dropped and counted per instance, and once space frees up a line
/// `openctrl: dropped <n> output lines [<id>]` says so.
@LoopActor
public final class StdoutMirror {
    public static let capacity = 1 << 20
    private let loop: Loop
    private var queue: [UInt8] = []
    private var head = 0
    private var dropped: [(id: String, count: Int)] = []
    private var writable: LoopEvent?
    private let fd: Int32
    /// Lines are gathered and written once per loop iteration: a flooding child costs one
    /// write(2) per read of its pipe, not one per line.
    private var flusher: Wakeup?
    private var flushScheduled = false

    public init(loop: Loop) {
        self.loop = loop
        fd = Self.nonBlockingStdout()
        flusher = Wakeup(loop: loop) { [unowned self] in
            self.flushScheduled = false
            self.flush()
        }
    }

    /// A descriptor for stdout that never blocks. O_NONBLOCK belongs to the open file
    /// description, which a terminal or pipe shares with whoever started us, so it is set on a
    /// fresh description (re-opened through /proc), not on fd 1. Regular files never block.
    private static func nonBlockingStdout() -> Int32 {
        var info = stat()
        guard fstat(1, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG else { return 1 }
        let reopened = open("/proc/self/fd/1", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC)
        return reopened >= 0 ? reopened : 1
    }

    private var pending: Int { queue.count - head }
    private static let compactAfter = 64 * 1024

    public func mirror(_ line: UnsafeRawBufferPointer, id: String) {
        let suffixLength = id.utf8.count + 4
        guard pending + line.count + suffixLength <= Self.capacity else {
            if let i = dropped.firstIndex(where: { $0.id == id }) {
                dropped[i].count += 1
            } else {
                dropped.append((id, 1))
            }
            return
        }
        queue.append(contentsOf: line)
        queue.append(contentsOf: " [".utf8)
        queue.append(contentsOf: id.utf8)
        queue.append(contentsOf: "]\n".utf8)
        if !flushScheduled, writable == nil {
            flushScheduled = true
            flusher?.activate()
        }
    }

    private func flush() {
        while pending > 0 {
            let n = queue.withUnsafeBytes { write(fd, $0.baseAddress! + head, pending) }
            if n > 0 {
                head += n
                continue
            }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                // Written bytes leave the queue here too, not only once it drains: a stdout
                // that never quite catches up would otherwise keep them all.
                if head >= Self.compactAfter {
                    queue.removeFirst(head)
                    head = 0
                }
                waitForWritable()
                return
            }
            // stdout is gone (closed or broken): nothing more can be shown there.
            queue.removeAll()
            head = 0
            return
        }
        queue.removeAll(keepingCapacity: queue.capacity <= 64 * 1024)
        head = 0
        reportDrops()
    }

    private func reportDrops() {
        guard !dropped.isEmpty else { return }
        let notices = dropped
        dropped.removeAll()
        for notice in notices {
            queue.append(contentsOf: "openctrl: dropped \(notice.count) output lines [\(notice.id)]\n".utf8)
        }
        flush()
    }

    private func waitForWritable() {
        guard writable == nil else { return }
        let event = LoopEvent(loop: loop, fd: fd, flags: Int16(EV_WRITE)) { [unowned self] _ in
            self.writable = nil
            self.flush()
        }
        writable = event
        event.add()
    }
}
