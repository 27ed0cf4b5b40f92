import Glibc

/// Reads the `/proc` files behind `/info` (CONTRACT §15) with plain syscalls and hands their
/// text to `ProcParsers`. A file that cannot be read leaves its fields at 0, as in the original.
public enum ProcReader {
    /// The whole file as text, or nil when it cannot be opened or read.
    ///
    /// `/proc` files report size 0, so this reads until EOF rather than trusting `fstat`. A file
    /// longer than `limit` bytes is cut back to its last complete line, so a number is never
    /// parsed half-read; with no newline in the first `limit` bytes the result is empty.
    public static func read(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = openReadOnly(path)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let limit = max(limit, 0)
        var bytes: [UInt8] = []
        // Reading one byte past the limit tells a file of exactly `limit` bytes from a longer one.
        while bytes.count <= limit {
            let wanted = min(chunkSize - 1, limit - bytes.count) + 1
            let count = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: wanted) { chunk in
                let count = Glibc.read(fd, chunk.baseAddress, wanted)
                if count > 0 { bytes.append(contentsOf: chunk[..<count]) }
                return count
            }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            if count < 0, errno != EINTR { return nil }
        }
        let lastNewline = bytes[..<limit].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return String(decoding: bytes[..<lastNewline], as: UTF8.self)
    }

    /// Memory, network, disk and uptime figures read now; the CPU figure needs two samples taken
    /// apart in time, so it comes from `cpuTimes()` instead.
    public static func hostMetrics() -> HostMetrics {
        hostMetrics(procRoot: "/proc")
    }

    /// One sample of the aggregate CPU counters, or nil when `/proc/stat` is unreadable.
    public static func cpuTimes() -> CPUTimes? {
        cpuTimes(procRoot: "/proc")
    }

    /// `procRoot` lets tests point the reader at a directory of fixture files.
    static func hostMetrics(procRoot: String) -> HostMetrics {
        var metrics = HostMetrics()
        if let text = read(procRoot + "/meminfo") {
            let memory = ProcParsers.memory(meminfo: text)
            metrics.memTotal = memory.memTotal
            metrics.memUsed = memory.memUsed
            metrics.swapTotal = memory.swapTotal
            metrics.swapUsed = memory.swapUsed
        }
        if let text = read(procRoot + "/net/dev") {
            (metrics.netRx, metrics.netTx) = ProcParsers.network(netDev: text)
        }
        if let text = read(procRoot + "/diskstats") {
            (metrics.diskRead, metrics.diskWrite) = ProcParsers.disks(diskstats: text)
        }
        if let text = read(procRoot + "/uptime") {
            metrics.uptime = ProcParsers.uptime(text)
        }
        return metrics
    }

    static func cpuTimes(procRoot: String) -> CPUTimes? {
        read(procRoot + "/stat").flatMap { ProcParsers.cpuTimes(procStat: $0) }
    }

    /// Large enough for `/proc/stat` on a many-core host in a few reads, small enough for the stack.
    private static let chunkSize = 16 * 1024

    private static func openReadOnly(_ path: String) -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 || errno != EINTR { return fd }
        }
    }
}
