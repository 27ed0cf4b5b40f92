/// A child's CPU time and resident set from its `/proc/<pid>/stat` and `/proc/<pid>/statm`.
public enum ChildUsage {
    /// `utime + stime` (fields 14 and 15, counted after the parenthesised command name, which
    /// may itself hold spaces and parentheses) and the resident page count; zeros for anything
    /// unreadable.
    public static func parse(stat: String, statm: String, ticksPerSecond: Double, pageSize: UInt64) -> (cpu: Double, rss: UInt64) {
        var cpu = 0.0
        if let close = stat.utf8.lastIndex(of: UInt8(ascii: ")")) {
            let fields = stat.utf8[stat.utf8.index(after: close)...].split(separator: UInt8(ascii: " "))
            if fields.count > 12, let user = UInt64(Substring(fields[11])), let system = UInt64(Substring(fields[12])), ticksPerSecond > 0 {
                cpu = Double(user + system) / ticksPerSecond
            }
        }
        let pages = statm.utf8.split(separator: UInt8(ascii: " ")).dropFirst().first.flatMap { UInt64(Substring($0)) } ?? 0
        return (cpu, pages * pageSize)
    }
}
