import Testing

@testable import OpenCtrlServer

/// Formula tests for the CPU, memory and uptime parsers (CONTRACT §15). Fixtures named `real…` are verbatim copies of
/// this development host's files (x86_64, kernel 6.x); the rest are crafted edge cases.
struct HostMetricsTests {
    // MARK: - Fixtures

    static let realProcStat = """
        cpu  4550 0 1787 132745 363 0 119 8 0 0
        cpu0 1678 0 854 67174 11 0 57 3 0 0
        cpu1 2871 0 933 65571 351 0 62 5 0 0
        intr 140562 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 9 0 0 0 0 139 57 0 23 1 27207
        """ + String(repeating: " 0", count: 480) + """

        ctxt 234605
        btime 1795606427
        processes 5163
        procs_running 2
        procs_blocked 0
        softirq 89379 0 12483 4 665 27207 0 3 31916 0 17101

        """

    /// The same host a few minutes earlier, for a two-sample percentage.
    static let realProcStatEarlier = "cpu  2667 0 1282 97993 283 0 103 6 0 0\ncpu0 1031 0 651 49422 6 0 46 2 0 0\n"

    static let realMeminfo = """
        MemTotal:       24683656 kB
        MemFree:        23792092 kB
        MemAvailable:   24320172 kB
        Buffers:            3932 kB
        Cached:           710912 kB
        SwapCached:            0 kB
        Active:           431940 kB
        Inactive:         282576 kB
        Active(anon):       1544 kB
        Inactive(anon):     7140 kB
        Active(file):     430396 kB
        Inactive(file):   275436 kB
        Unevictable:       12188 kB
        Mlocked:           10576 kB
        SwapTotal:             0 kB
        SwapFree:              0 kB
        Zswap:                 0 kB
        Zswapped:              0 kB
        Dirty:             12928 kB
        Writeback:             0 kB
        AnonPages:         11920 kB
        Mapped:            10224 kB
        Shmem:              8952 kB
        KReclaimable:      56652 kB
        Slab:              77140 kB
        SReclaimable:      56652 kB
        SUnreclaim:        20488 kB
        KernelStack:        1396 kB
        PageTables:         1796 kB
        SecPageTables:         0 kB
        NFS_Unstable:          0 kB
        Bounce:                0 kB
        WritebackTmp:          0 kB
        CommitLimit:    12341828 kB
        Committed_AS:      53836 kB
        VmallocTotal:   34359738367 kB
        VmallocUsed:        5636 kB
        VmallocChunk:          0 kB
        Percpu:              664 kB
        AnonHugePages:         0 kB
        ShmemHugePages:        0 kB
        ShmemPmdMapped:        0 kB
        FileHugePages:         0 kB
        FilePmdMapped:         0 kB
        Balloon:               0 kB
        HugePages_Total:       0
        HugePages_Free:        0
        HugePages_Rsvd:        0
        HugePages_Surp:        0
        Hugepagesize:       2048 kB
        Hugetlb:               0 kB
        DirectMap4k:       20480 kB
        DirectMap2M:     2076672 kB
        DirectMap1G:    25165824 kB

        """

    static let max = UInt64.max

    // MARK: - cpuTimes

    struct CPUCase: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: CPUTimes?
        var line: UInt

        init(input: String, expected: CPUTimes?, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let cpuCases: [CPUCase] = [
        CPUCase(input: realProcStat, expected: CPUTimes(total: 4550 + 1787 + 132745 + 363 + 119 + 8, idle: 132745)),
        // guest and guest_nice are summed too, as the original does.
        CPUCase(input: "cpu  10 20 30 40 50 60 70 80 90 100\n", expected: CPUTimes(total: 550, idle: 40)),
        CPUCase(input: "cpu 1 2 3 4\n", expected: CPUTimes(total: 10, idle: 4)),
        CPUCase(input: "cpu\t5\t0\t5\t90\t0", expected: CPUTimes(total: 100, idle: 90)),
        CPUCase(input: "intr 1 2\ncpu 1 1 1 7\r\n", expected: CPUTimes(total: 10, idle: 7)),
        CPUCase(input: "cpu 18446744073709551615 1 0 5\n", expected: CPUTimes(total: max, idle: 5)),
        CPUCase(input: "cpu 1 0 0 99999999999999999999999\n", expected: CPUTimes(total: max, idle: max)),
        // Bad input: no aggregate line, too few counters, non-numbers.
        CPUCase(input: "", expected: nil),
        CPUCase(input: "\n\n", expected: nil),
        CPUCase(input: "cpu0 1 2 3 4\ncpu1 1 2 3 4\n", expected: nil),
        CPUCase(input: "cpux 1 2 3 4\n", expected: nil),
        CPUCase(input: "CPU 1 2 3 4\n", expected: nil),
        CPUCase(input: "cpu\n", expected: nil),
        CPUCase(input: "cpu 1 2 3\n", expected: nil),
        CPUCase(input: "cpu 1 2 x 4\n", expected: nil),
        CPUCase(input: "cpu -1 2 3 4\n", expected: nil),
        CPUCase(input: "cpu 1 2 3 4.5\n", expected: nil),
        CPUCase(input: "cpu 1 2\ncpu 1 2 3 4\n", expected: nil),
    ]

    @Test(arguments: cpuCases)
    func cpuTimes(_ c: CPUCase) {
        #expect(ProcParsers.cpuTimes(procStat: c.input) == c.expected, sourceLocation: c.location)
    }

    // MARK: - cpuPercent

    struct PercentCase: Sendable, CustomTestStringConvertible {
        var previous: CPUTimes
        var current: CPUTimes
        var expected: Int
        var line: UInt

        init(previous: CPUTimes, current: CPUTimes, expected: Int, line: UInt = #line) {
            self.previous = previous
            self.current = current
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static func times(_ total: UInt64, _ idle: UInt64) -> CPUTimes { CPUTimes(total: total, idle: idle) }

    static let percentCases: [PercentCase] = [
        PercentCase(previous: times(1000, 500), current: times(1100, 600), expected: 0),
        PercentCase(previous: times(1000, 500), current: times(1100, 500), expected: 100),
        PercentCase(previous: times(1000, 500), current: times(1200, 600), expected: 50),
        PercentCase(previous: times(0, 0), current: times(3, 2), expected: 33),
        PercentCase(previous: times(0, 0), current: times(1000, 1), expected: 99),
        PercentCase(previous: times(0, 0), current: times(max, 0), expected: 100),
        PercentCase(previous: times(max - 10, 0), current: times(max, 5), expected: 50),
        PercentCase(previous: times(0, 0), current: times(max, max / 4), expected: 75),
        // Bad pairs: no time passed, counters went backwards, idle grew more than total.
        PercentCase(previous: times(1000, 500), current: times(1000, 500), expected: -1),
        PercentCase(previous: times(0, 0), current: times(0, 0), expected: -1),
        PercentCase(previous: times(1000, 500), current: times(900, 450), expected: -1),
        PercentCase(previous: times(1000, 500), current: times(1100, 499), expected: -1),
        PercentCase(previous: times(max, max), current: times(0, 0), expected: -1),
        PercentCase(previous: times(1000, 500), current: times(1100, 700), expected: 0),
    ]

    @Test(arguments: percentCases)
    func cpuPercent(_ c: PercentCase) {
        #expect(ProcParsers.cpuPercent(previous: c.previous, current: c.current) == c.expected, sourceLocation: c.location)
    }

    @Test func cpuPercentFromTwoRealSamples() throws {
        let earlier = try #require(ProcParsers.cpuTimes(procStat: Self.realProcStatEarlier))
        let later = try #require(ProcParsers.cpuTimes(procStat: Self.realProcStat))
        // dt = 139572 − 102334 = 37238, di = 132745 − 97993 = 34752, busy 2486 → 6.67 %.
        #expect(ProcParsers.cpuPercent(previous: earlier, current: later) == 6)
        #expect(ProcParsers.cpuPercent(previous: later, current: earlier) == -1)
    }

    // MARK: - memory

    struct MemoryCase: Sendable, CustomTestStringConvertible {
        var input: String
        var total: UInt64, used: UInt64, swapTotal: UInt64, swapUsed: UInt64
        var line: UInt

        init(input: String, total: UInt64, used: UInt64, swapTotal: UInt64, swapUsed: UInt64, line: UInt = #line) {
            self.input = input
            self.total = total
            self.used = used
            self.swapTotal = swapTotal
            self.swapUsed = swapUsed
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let swapMeminfo = """
        MemTotal:        8029604 kB
        MemFree:          312456 kB
        MemAvailable:    2817260 kB
        Buffers:          201340 kB
        SwapCached:        91236 kB
        SwapTotal:       2097148 kB
        SwapFree:        1048572 kB

        """

    static let memoryCases: [MemoryCase] = [
        MemoryCase(input: realMeminfo, total: 24683656 * 1024, used: (24683656 - 24320172) * 1024, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: swapMeminfo, total: 8029604 * 1024, used: (8029604 - 2817260) * 1024, swapTotal: 2097148 * 1024, swapUsed: (2097148 - 1048572) * 1024),
        // Kernels before 3.14 have no MemAvailable: used = total. A missing SwapFree likewise.
        MemoryCase(input: "MemTotal: 1000 kB\nMemFree: 600 kB\n", total: 1_024_000, used: 1_024_000, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "SwapTotal: 10 kB\n", total: 0, used: 0, swapTotal: 10240, swapUsed: 10240),
        MemoryCase(input: "MemTotal:\t100\tkB\nMemAvailable:\t40\tkB", total: 102_400, used: 61_440, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemAvailable: 1 kB\nMemTotal: 3 kB\n", total: 3072, used: 2048, swapTotal: 0, swapUsed: 0),
        // Available above total clamps used at 0 rather than wrapping.
        MemoryCase(input: "MemTotal: 100 kB\nMemAvailable: 200 kB\nSwapTotal: 5 kB\nSwapFree: 9 kB\n", total: 102_400, used: 0, swapTotal: 5120, swapUsed: 0),
        MemoryCase(input: "MemTotal: 18446744073709551615 kB\nMemAvailable: 0 kB\n", total: max, used: max, swapTotal: 0, swapUsed: 0),
        // Bad input: empty, short lines, garbage and near-miss keys read as absent.
        MemoryCase(input: "", total: 0, used: 0, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemTotal:\nMemAvailable:\n", total: 0, used: 0, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemTotal: abc kB\n", total: 0, used: 0, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemTotal: -5 kB\n", total: 0, used: 0, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemTotal 100 kB\nmemtotal: 100 kB\nMemTotalX: 100 kB\n", total: 0, used: 0, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "MemTotal: 100 kB\nMemAvailable: 4x kB\n", total: 102_400, used: 102_400, swapTotal: 0, swapUsed: 0),
        MemoryCase(input: "SwapTotal: 8 kB\nSwapFree: ? kB\n", total: 0, used: 0, swapTotal: 8192, swapUsed: 8192),
    ]

    @Test(arguments: memoryCases)
    func memory(_ c: MemoryCase) {
        let m = ProcParsers.memory(meminfo: c.input)
        #expect(m.memTotal == c.total, sourceLocation: c.location)
        #expect(m.memUsed == c.used, sourceLocation: c.location)
        #expect(m.swapTotal == c.swapTotal, sourceLocation: c.location)
        #expect(m.swapUsed == c.swapUsed, sourceLocation: c.location)
    }

    // MARK: - uptime

    struct UptimeCase: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: UInt64
        var line: UInt

        init(input: String, expected: UInt64, line: UInt = #line) {
            self.input = input
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let uptimeCases: [UptimeCase] = [
        UptimeCase(input: "701.94 1333.07\n", expected: 701),
        UptimeCase(input: "0.99 1.00\n", expected: 0),
        UptimeCase(input: "86400.00 170000.10\n", expected: 86400),
        UptimeCase(input: "12345 6789", expected: 12345),
        UptimeCase(input: "12345.", expected: 12345),
        UptimeCase(input: "  42.5\t10\n", expected: 42),
        UptimeCase(input: "99999999999999999999999.5 1\n", expected: max),
        // Bad input reads as 0.
        UptimeCase(input: "", expected: 0),
        UptimeCase(input: "\n42.0 1\n", expected: 0),
        UptimeCase(input: "abc 1\n", expected: 0),
        UptimeCase(input: "-5.00 1\n", expected: 0),
        UptimeCase(input: "1.2.3 1\n", expected: 0),
        UptimeCase(input: ".5 1\n", expected: 0),
        UptimeCase(input: "1e3 5\n", expected: 0),
    ]

    @Test(arguments: uptimeCases)
    func uptime(_ c: UptimeCase) {
        #expect(ProcParsers.uptime(c.input) == c.expected, sourceLocation: c.location)
    }
}
