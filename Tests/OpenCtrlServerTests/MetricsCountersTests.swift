import Testing
@testable import OpenCtrlServer

struct MetricsCountersTests {
    @Test func routeLabelsFollowTheRouter() {
        #expect(HTTPRouteLabel(.matched(.info)) == .info)
        #expect(HTTPRouteLabel(.matched(.instance(id: "x"))) == .instance)
        #expect(HTTPRouteLabel(.matched(.logs(id: "x"))) == .logs)
        #expect(HTTPRouteLabel(.matched(.metrics)) == .metrics)
        #expect(HTTPRouteLabel(.console) == .console)
        #expect(HTTPRouteLabel(.notFound) == .other)
        #expect(HTTPRouteLabel(.redirect(location: "/")) == .other)
        #expect(HTTPRouteLabel(.badRequest) == .other)
        #expect(HTTPRouteLabel.allCases.map(\.name) ==
                ["info", "instances", "instance", "logs", "process", "events", "tcping", "metrics", "health", "console", "other"])
    }

    @Test func requestsByRouteAndCode() {
        var c = HTTPRequestCounts()
        c.count(.info, status: 200)
        c.count(.other, status: 404)
        c.count(.info, status: 401)
        c.count(.info, status: 200)
        let series = c.series.map { "\($0.route.name) \($0.code) \($0.count)" }
        #expect(series == ["info 200 2", "info 401 1", "other 404 1"])
    }

    @Test func eventCounters() {
        var e = EventCounters()
        e.recordPublished(.log)
        e.recordPublished(.initial, count: 3)
        e.recordSkippedLogs(5)
        e.recordDrop(.cap)
        e.recordDrop(.stall)
        e.recordDrop(.stall)
        #expect(EventCounters.types.map { e.published($0) } == [3, 0, 0, 0, 1, 0])
        #expect(e.logsSkipped == 5)
        #expect(e.dropped(.cap) == 1 && e.dropped(.stall) == 2)
    }

    @Test func stateWrites() {
        var s = StateWriteCounters()
        s.record(succeeded: true, seconds: 0.0004)
        s.record(succeeded: false, seconds: 3)
        #expect(s.ok == 1 && s.failed == 1)
        #expect(s.durations.count == 2)
        #expect(s.durations.counts.first == 1 && s.durations.counts.reduce(0, +) == 1, "3 s lands only in +Inf")
    }

    @Test func tcpingResults() {
        var t = TCPingCounts()
        t.count(.connected(target: [], after: .milliseconds(1)))
        t.count(.tooManyRequests(target: []))
        t.count(.failed(target: [], error: Array("dial tcp: refused".utf8)))
        t.count(.failed(target: [], error: Array("dial tcp: refused".utf8)))
        #expect(t.connected == 1 && t.busy == 1 && t.failed == 2)
    }

    @Test func processStatParsesFromTheLastParenthesis() {
        let line = "4242 (odd) name (x)) S 1 4242 4242 0 -1 4194560 120 0 0 0 37 5 0 0 20 0 1 0 98765 12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
        let stat = ProcessStat.parse(Array(line.utf8))
        #expect(stat == ProcessStat(cpuTicks: 42, residentPages: 321, virtualBytes: 12_345_678, startTicks: 98765))
        #expect(ProcessStat.parse(Array("12 (x) S 1 2".utf8)) == nil)
        #expect(ProcessStat.parse(Array("garbage".utf8)) == nil)
    }

    @Test func processStatOfThisProcess() throws {
        let stat = try #require(ProcessStat.readSelf())
        #expect(stat.residentPages > 0 && stat.virtualBytes > 0 && stat.startTicks > 0)
        #expect(ProcessStat.read(pid: Int32.max) == nil)
        #expect((ProcessDescriptors.openCount() ?? 0) >= 3)
        #expect(ProcessStat.bootTime(procStat: "cpu 1 2\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
    }
}
