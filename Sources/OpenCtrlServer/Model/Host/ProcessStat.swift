import Glibc

/// The figures of one process that `/metrics` (and `/process`, CONTRACT §22.3) report, from
/// `/proc/<pid>/stat`: its own user + system time (not its children's), its resident set, its
/// address space and when it started.
public struct ProcessStat: Equatable, Sendable {
    /// utime + stime, in clock ticks.
    public var cpuTicks: UInt64
    /// Resident pages; the same figure `/proc/<pid>/statm` gives as its second field.
    public var residentPages: UInt64
    public var virtualBytes: UInt64
    /// Clock ticks after boot.
    public var startTicks: UInt64

    public init(cpuTicks: UInt64 = 0, residentPages: UInt64 = 0, virtualBytes: UInt64 = 0, startTicks: UInt64 = 0) {
        self.cpuTicks = cpuTicks
        self.residentPages = residentPages
        self.virtualBytes = virtualBytes
        self.startTicks = startTicks
    }

    /// Parses the text of `/proc/<pid>/stat`. The command name sits in parentheses and may hold
    /// spaces and parentheses itself, so the fields are counted from the last `)`.
    public static func parse<C: BidirectionalCollection>(_ text: C) -> ProcessStat? where C.Element == UInt8, C.Index == Int {
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the name, from `state` (field 3 in proc(5)) on.
        var fields: [UInt64] = []
        fields.reserveCapacity(22)
        var current: UInt64?
        var index = close + 1
        while index < text.endIndex, fields.count < 22 {
            let byte = text[index]
            if byte == 0x20 || byte == 0x0A {
                if let value = current { fields.append(value) }
                current = nil
            } else if byte >= 0x30, byte <= 0x39 {
                let (times10, o1) = (current ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - 0x30))
                current = o1 || o2 ? UInt64.max : sum
            } else {
                // The state letter and negative numbers (priority, nice) hold a place as 0.
                current = 0
            }
            index += 1
        }
        if fields.count < 22, let value = current { fields.append(value) }
        guard fields.count >= 22 else { return nil }
        return ProcessStat(cpuTicks: fields[11] &+ fields[12], residentPages: fields[21],
                           virtualBytes: fields[20], startTicks: fields[19])
    }

    /// Reads `/proc/<pid>/stat` into a stack buffer: a scrape reads one per running child, so it
    /// allocates nothing per file. Nil when the process is gone.
    public static func read(pid: Int32) -> ProcessStat? {
        read(path: "/proc/\(pid)/stat")
    }

    public static func readSelf() -> ProcessStat? {
        read(path: "/proc/self/stat")
    }

    private static func read(path: String) -> ProcessStat? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A stat line is a few hundred bytes; the name is at most 64.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            var count: Int
            repeat { count = Glibc.read(fd, buffer.baseAddress, buffer.count) } while count < 0 && errno == EINTR
            guard count > 0 else { return nil }
            return parse(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// `btime` of `/proc/stat`: the boot time in Unix seconds, which turns a process's start
    /// ticks into a wall-clock time.
    public static func bootTime(procStat: String) -> UInt64? {
        for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6).drop { $0 == " " })
        }
        return nil
    }

    public static let ticksPerSecond = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
    public static let pageSize = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
}

/// The master's own descriptor figures for `process_open_fds` / `process_max_fds`, as
/// Prometheus's client libraries read them.
public enum ProcessDescriptors {
    /// Entries of `/proc/self/fd`, minus the one the listing itself opened.
    public static func openCount() -> Int? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            // One byte through the pointer: `entry.pointee.d_name` would copy all 256 bytes of
            // the name field, past the end of a short record at the end of readdir's buffer.
            let isDot = UnsafeRawPointer(entry).load(fromByteOffset: Self.nameOffset, as: UInt8.self) == UInt8(ascii: ".")
            if !isDot { count += 1 }
        }
        return Swift.max(count - 1, 0)
    }

    private static let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// The soft `RLIMIT_NOFILE`.
    public static func limit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return UInt64(limit.rlim_cur)
    }
}
