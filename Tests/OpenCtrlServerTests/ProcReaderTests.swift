import Foundation
import Testing

@testable import OpenCtrlServer

/// `ProcReader` against fixture directories and against this host's real `/proc`.
struct ProcReaderTests {
    /// A fresh directory holding `files` (relative path → contents), removed by the caller.
    static func fixtureDirectory(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("procreader-\(UUID().uuidString)")
        for (path, contents) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    struct LimitCase: Sendable, CustomTestStringConvertible {
        var contents: String
        var limit: Int
        var expected: String
        var line: UInt

        init(contents: String, limit: Int, expected: String, line: UInt = #line) {
            self.contents = contents
            self.limit = limit
            self.expected = expected
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let limitCases: [LimitCase] = [
        LimitCase(contents: "a 1\nb 2\nc 3\n", limit: 1 << 20, expected: "a 1\nb 2\nc 3\n"),
        LimitCase(contents: "a 1\nb 2\nc 3\n", limit: 12, expected: "a 1\nb 2\nc 3\n"),
        LimitCase(contents: "a 1\nb 2\nc 3", limit: 11, expected: "a 1\nb 2\nc 3"),
        LimitCase(contents: "a 1\nb 2", limit: .max, expected: "a 1\nb 2"),
        LimitCase(contents: "", limit: 0, expected: ""),
        LimitCase(contents: "", limit: 10, expected: ""),
        // Over the limit: cut back to the last complete line, so no number is read half-way.
        LimitCase(contents: "a 1\nb 2\nc 3\n", limit: 11, expected: "a 1\nb 2\n"),
        LimitCase(contents: "a 1\nb 2\nc 345\n", limit: 10, expected: "a 1\nb 2\n"),
        LimitCase(contents: "a 1\nb 2\nc 3\n", limit: 8, expected: "a 1\nb 2\n"),
        LimitCase(contents: "123456789", limit: 5, expected: ""),
        LimitCase(contents: "a\n", limit: 0, expected: ""),
        LimitCase(contents: "a\n", limit: -1, expected: ""),
    ]

    @Test(arguments: limitCases)
    func readHonoursLimit(_ c: LimitCase) throws {
        let root = try Self.fixtureDirectory(["file": c.contents])
        defer { try? FileManager.default.removeItem(at: root) }
        let text = ProcReader.read(root.appendingPathComponent("file").path, limit: c.limit)
        #expect(text == c.expected, sourceLocation: c.location)
    }

    @Test func readsFilesLongerThanOneChunk() throws {
        let contents = (0..<20_000).map { "line \($0)\n" }.joined()
        let root = try Self.fixtureDirectory(["big": contents])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(ProcReader.read(root.appendingPathComponent("big").path) == contents)
    }

    @Test func unreadablePathsGiveNil() throws {
        let root = try Self.fixtureDirectory([:])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(ProcReader.read(root.appendingPathComponent("missing").path) == nil)
        #expect(ProcReader.read(root.path) == nil)
        #expect(ProcReader.read("") == nil)
    }

    @Test func missingFilesLeaveTheirFieldsAtZero() throws {
        let root = try Self.fixtureDirectory([
            "meminfo": "MemTotal: 1000 kB\nMemAvailable: 250 kB\nSwapTotal: 8 kB\nSwapFree: 2 kB\n",
            "uptime": "3600.50 7000.00\n",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let metrics = ProcReader.hostMetrics(procRoot: root.path)
        #expect(metrics == HostMetrics(memTotal: 1_024_000, memUsed: 768_000, swapTotal: 8192, swapUsed: 6144, uptime: 3600))
        #expect(ProcReader.cpuTimes(procRoot: root.path) == nil)
    }

    @Test func everySourceFeedsItsFields() throws {
        let root = try Self.fixtureDirectory([
            "stat": "cpu 1 2 3 4 5\ncpu0 1 2 3 4 5\n",
            "meminfo": "MemTotal: 4 kB\nMemAvailable: 1 kB\n",
            "net/dev": "h1\nh2\neth0: 10 0 0 0 0 0 0 0 20 0\n",
            "diskstats": "8 0 sda 0 0 3 0 0 0 5 0 0 0 0\n",
            "uptime": "9.9 1\n",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let metrics = ProcReader.hostMetrics(procRoot: root.path)
        #expect(metrics == HostMetrics(memTotal: 4096, memUsed: 3072, netRx: 10, netTx: 20, diskRead: 1536, diskWrite: 2560, uptime: 9))
        #expect(ProcReader.cpuTimes(procRoot: root.path) == CPUTimes(total: 15, idle: 4))
    }

    @Test func emptyDirectoryGivesZeros() throws {
        let root = try Self.fixtureDirectory([:])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(ProcReader.hostMetrics(procRoot: root.path) == HostMetrics())
    }

    @Test func readsThisHost() throws {
        let metrics = ProcReader.hostMetrics()
        #expect(metrics.memTotal > 0)
        #expect(metrics.memUsed <= metrics.memTotal)
        #expect(metrics.swapUsed <= metrics.swapTotal)
        #expect(metrics.uptime > 0)
        let cpu = try #require(ProcReader.cpuTimes())
        #expect(cpu.idle > 0 && cpu.idle <= cpu.total)
        let stat = try #require(ProcReader.read("/proc/stat"))
        #expect(stat.hasPrefix("cpu "))
    }
}
