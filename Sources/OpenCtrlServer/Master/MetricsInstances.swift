/// The per-instance families of `/metrics` (CONTRACT §22.4), from the registry's live instances
/// (never the `********` record) in listing order.
extension Master {
    /// One instance's figures, copied once per scrape: each family then walks plain values
    /// instead of copying a whole record (and retaining its strings) per sample.
    private struct InstanceRow {
        /// The ID escaped once and reused by every family.
        var id: [UInt8]
        var status: InstanceStatus
        var restarts: UInt64
        var ping, pool, tcps, udps: Int32
        var tcprx, tcptx, udprx, udptx: UInt64
        /// The child's figures when it is running and still readable.
        var stat: ProcessStat?
    }

    func writeInstanceFamilies(_ w: inout PromText, _ instances: [ManagedInstance]) {
        let rows = instances.map { instance in
            let record = instance.record
            let status = instance.lifecycle.status
            return InstanceRow(
                id: PromText.escape(record.id), status: status, restarts: UInt64(instance.lifecycle.automaticRestarts),
                ping: record.ping, pool: record.pool, tcps: record.tcps, udps: record.udps,
                tcprx: record.tcprx, tcptx: record.tcptx, udprx: record.udprx, udptx: record.udptx,
                stat: status == .running ? instance.child.flatMap { ProcessStat.read(pid: $0.pid) } : nil)
        }

        w.family("openctrl_instances", .gauge, help: "Instances by status.")
        for status in [InstanceStatus.running, .stopped, .error] {
            let count = rows.lazy.filter { $0.status == status }.count
            w.sample("openctrl_instances", "status", escaped: Array(status.rawValue.utf8), UInt64(count))
        }
        w.family("openctrl_instance_info", .gauge, help: "One series per instance with its alias, type and status; the value is always 1.")
        for (row, instance) in zip(rows, instances) {
            w.sample("openctrl_instance_info", [
                ("id", row.id), ("alias", PromText.escape(instance.record.alias)), ("type", PromText.escape(instance.record.type)),
                ("status", Array(row.status.rawValue.utf8)),
            ], 1)
        }
        gauge(&w, rows, "openctrl_instance_up", "1 when the instance is running, else 0.") { $0.status == .running ? 1 : 0 }
        counter(&w, rows, "openctrl_instance_restarts_total", "Automatic restarts since the master started.") { $0.restarts }
        gauge(&w, rows, "openctrl_instance_ping_seconds", "Latest ping reported by the instance, in seconds.") { Double($0.ping) / 1000 }
        gauge(&w, rows, "openctrl_instance_pool", "Latest pool size reported by the instance.") { Double($0.pool) }
        gauge(&w, rows, "openctrl_instance_tcp_connections", "Latest TCP connection count reported by the instance.") { Double($0.tcps) }
        gauge(&w, rows, "openctrl_instance_udp_connections", "Latest UDP connection count reported by the instance.") { Double($0.udps) }
        counter(&w, rows, "openctrl_instance_tcp_received_bytes_total", "TCP bytes received (tcprx).") { $0.tcprx }
        counter(&w, rows, "openctrl_instance_tcp_sent_bytes_total", "TCP bytes sent (tcptx).") { $0.tcptx }
        counter(&w, rows, "openctrl_instance_udp_received_bytes_total", "UDP bytes received (udprx).") { $0.udprx }
        counter(&w, rows, "openctrl_instance_udp_sent_bytes_total", "UDP bytes sent (udptx).") { $0.udptx }

        w.family("openctrl_instance_cpu_seconds_total", .counter, help: "User and system CPU time of the running child in seconds.")
        for row in rows {
            guard let stat = row.stat else { continue }
            w.sample("openctrl_instance_cpu_seconds_total", "id", escaped: row.id, Double(stat.cpuTicks) / ProcessStat.ticksPerSecond)
        }
        w.family("openctrl_instance_resident_memory_bytes", .gauge, help: "Resident set of the running child in bytes.")
        for row in rows {
            guard let stat = row.stat else { continue }
            w.sample("openctrl_instance_resident_memory_bytes", "id", escaped: row.id, stat.residentPages &* ProcessStat.pageSize)
        }
    }

    private func gauge(_ w: inout PromText, _ rows: [InstanceRow], _ name: StaticString, _ help: StaticString, _ value: (InstanceRow) -> Double) {
        w.family(name, .gauge, help: help)
        for row in rows { w.sample(name, "id", escaped: row.id, value(row)) }
    }

    private func counter(_ w: inout PromText, _ rows: [InstanceRow], _ name: StaticString, _ help: StaticString, _ value: (InstanceRow) -> UInt64) {
        w.family(name, .counter, help: help)
        for row in rows { w.sample(name, "id", escaped: row.id, value(row)) }
    }
}
