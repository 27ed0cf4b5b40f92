/// `GET <P>/metrics` (CONTRACT §22.4): the Prometheus text exposition, rendered at scrape time
/// from counters kept where things happen (the dispatcher, the event hub, the state store, the
/// `/tcping` service, each lifecycle). Nothing is reconstructed from logs; the only I/O is
/// reading `/proc` for the running children and the master itself.
extension Master {
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    func metricsResponse() -> Response {
        let instances = Array(registry.listed)
        // About 1.5 KB of text per instance; one allocation for the whole scrape.
        var w = PromText(reservingCapacity: 4096 + instances.count * 1600)
        writeMasterFamilies(&w)
        writeInstanceFamilies(&w, instances)
        writeActivityFamilies(&w)
        writeProcessFamilies(&w)
        return Response(status: 200, headers: HTTPConventions.cors + [(name: "Content-Type", value: Self.metricsContentType)], body: w.bytes)
    }

    private func writeMasterFamilies(_ w: inout PromText) {
        w.family("openctrl_build_info", .gauge, help: "Build of this master; the value is always 1.")
        w.sample("openctrl_build_info", "version", escaped: PromText.escape(BuildInfo.version), UInt64(1))
        w.family("openctrl_start_time_seconds", .gauge, help: "Start time of the master since the Unix epoch in seconds.")
        w.sample("openctrl_start_time_seconds", startedAtUnixSeconds)
    }

    /// Open streams, events, HTTP answers, state writes and `/tcping` answers.
    private func writeActivityFamilies(_ w: inout PromText) {
        w.family("openctrl_event_watchers", .gauge, help: "Open /events streams.")
        w.sample("openctrl_event_watchers", UInt64(events.watcherCount))
        let counters = events.counters
        w.family("openctrl_events_published_total", .counter, help: "Events published, by type (initial: snapshot frames sent to new watchers).")
        for type in EventCounters.types {
            w.sample("openctrl_events_published_total", "type", escaped: Array(type.rawValue.utf8), counters.published(type))
        }
        w.family("openctrl_event_logs_skipped_total", .counter, help: "Log events skipped for watchers whose pending output was over 256 KiB.")
        w.sample("openctrl_event_logs_skipped_total", counters.logsSkipped)
        w.family("openctrl_event_watchers_dropped_total", .counter, help: "Watchers disconnected for pending output over the cap or no progress, by reason.")
        for reason in EventCounters.DropReason.allCases {
            w.sample("openctrl_event_watchers_dropped_total", "reason", escaped: Array(reason.name.utf8), counters.dropped(reason))
        }

        w.family("openctrl_http_requests_total", .counter, help: "Answered HTTP requests, by route and status code.")
        for series in httpRequests.series {
            w.sample("openctrl_http_requests_total",
                     [("route", Array(series.route.name.utf8)), ("code", Array(String(series.code).utf8))],
                     Double(series.count))
        }

        let writes = store.writeCounters
        w.family("openctrl_state_writes_total", .counter, help: "State-file write procedures (change-log appends and folds), by result.")
        w.sample("openctrl_state_writes_total", "result", escaped: Array("ok".utf8), writes.ok)
        w.sample("openctrl_state_writes_total", "result", escaped: Array("failed".utf8), writes.failed)
        w.family("openctrl_state_write_duration_seconds", .histogram, help: "Duration of each state-file write procedure on the writer thread.")
        w.histogram("openctrl_state_write_duration_seconds", writes.durations)

        let probes = tcpingServiceIfMade?.answers ?? TCPingCounts()
        w.family("openctrl_tcping_probes_total", .counter, help: "Answered /tcping probes, by result.")
        w.sample("openctrl_tcping_probes_total", "result", escaped: Array("connected".utf8), probes.connected)
        w.sample("openctrl_tcping_probes_total", "result", escaped: Array("failed".utf8), probes.failed)
        w.sample("openctrl_tcping_probes_total", "result", escaped: Array("busy".utf8), probes.busy)
    }

    /// The master process, named and measured as Prometheus's client libraries do.
    private func writeProcessFamilies(_ w: inout PromText) {
        let stat = ProcessStat.readSelf() ?? ProcessStat()
        w.family("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.")
        w.sample("process_cpu_seconds_total", Double(stat.cpuTicks) / ProcessStat.ticksPerSecond)
        w.family("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.")
        w.sample("process_resident_memory_bytes", stat.residentPages &* ProcessStat.pageSize)
        w.family("process_virtual_memory_bytes", .gauge, help: "Virtual memory size in bytes.")
        w.sample("process_virtual_memory_bytes", stat.virtualBytes)
        w.family("process_open_fds", .gauge, help: "Number of open file descriptors.")
        w.sample("process_open_fds", UInt64(ProcessDescriptors.openCount() ?? 0))
        w.family("process_max_fds", .gauge, help: "Maximum number of open file descriptors.")
        w.sample("process_max_fds", ProcessDescriptors.limit() ?? 0)
        w.family("process_start_time_seconds", .gauge, help: "Start time of the process since unix epoch in seconds.")
        w.sample("process_start_time_seconds", processStartSeconds(stat))
    }

    /// Boot time plus the start ticks, as client_golang computes it; our own clock reading
    /// when `/proc/stat` has no `btime`.
    private func processStartSeconds(_ stat: ProcessStat) -> Double {
        guard let text = ProcReader.read("/proc/stat"), let boot = ProcessStat.bootTime(procStat: text) else {
            return startedAtUnixSeconds
        }
        return Double(boot) + Double(stat.startTicks) / ProcessStat.ticksPerSecond
    }
}
