/// One reading of the aggregate `cpu ` line of `/proc/stat` (CONTRACT §15).
public struct CPUTimes: Equatable, Sendable {
    /// Sum of every counter on the line. `guest` and `guest_nice` are already part of
    /// `user` and `nice`, so they count twice; the original does the same and we keep parity.
    public var total: UInt64
    /// The 4th counter only, so iowait counts as busy time.
    public var idle: UInt64

    public init(total: UInt64, idle: UInt64) {
        self.total = total
        self.idle = idle
    }
}

/// The host figures behind `/info` (§8.1). A field whose source is missing or unreadable stays 0,
/// which is what the original reports in that case.
public struct HostMetrics: Equatable, Sendable {
    public var memTotal, memUsed, swapTotal, swapUsed: UInt64
    public var netRx, netTx, diskRead, diskWrite: UInt64
    /// Host uptime in whole seconds (`sysup`).
    public var uptime: UInt64

    public init(
        memTotal: UInt64 = 0, memUsed: UInt64 = 0, swapTotal: UInt64 = 0, swapUsed: UInt64 = 0,
        netRx: UInt64 = 0, netTx: UInt64 = 0, diskRead: UInt64 = 0, diskWrite: UInt64 = 0,
        uptime: UInt64 = 0
    ) {
        self.memTotal = memTotal
        self.memUsed = memUsed
        self.swapTotal = swapTotal
        self.swapUsed = swapUsed
        self.netRx = netRx
        self.netTx = netTx
        self.diskRead = diskRead
        self.diskWrite = diskWrite
        self.uptime = uptime
    }
}

/// Parsers for the `/proc` files of §15, kept free of I/O so every formula is a table test.
///
/// The files come from the kernel, but a container runtime can bind-mount anything over them, so
/// every number is parsed strictly and every sum and product saturates at `UInt64.max` instead of
/// trapping. A line that is too short or whose needed fields are not decimal numbers is skipped.
public enum ProcParsers {
    /// Reads the aggregate `cpu` line (the first line whose first field is exactly `cpu`).
    /// Returns nil when that line is missing, has fewer than four counters or holds a non-number:
    /// a half-parsed sample would turn into a wild percentage at the next reading.
    public static func cpuTimes(procStat: String) -> CPUTimes? {
        withProcText(procStat) { text in
            var fields: [Range<Int>] = []
            var result: CPUTimes?
            text.forEachLine { line in
                text.split(line, into: &fields)
                guard let name = fields.first, text.equals(name, "cpu") else { return true }
                result = cpuTimes(text, counters: fields.dropFirst())
                return false
            }
            return result
        }
    }

    private static func cpuTimes(_ text: ProcText, counters: ArraySlice<Range<Int>>) -> CPUTimes? {
        guard counters.count >= 4 else { return nil }
        var total: UInt64 = 0
        var idle: UInt64 = 0
        for (position, field) in counters.enumerated() {
            guard let value = text.number(field) else { return nil }
            total = total.saturatingAdd(value)
            if position == 3 { idle = value }
        }
        return CPUTimes(total: total, idle: idle)
    }

    /// Utilisation between two samples: `min(100, floor((dt − di) × 100 / dt))`, or -1 when the
    /// pair says nothing about load. That covers `dt == 0` (as in the original) and also counters
    /// that went backwards (a CPU taken offline drops its share from the aggregate line), where
    /// the original's unsigned arithmetic wraps and reports garbage.
    public static func cpuPercent(previous: CPUTimes, current: CPUTimes) -> Int {
        guard current.total > previous.total, current.idle >= previous.idle else { return -1 }
        let dt = current.total - previous.total
        let di = min(current.idle - previous.idle, dt)
        // busy ≤ dt, so the quotient is at most 100 and the full-width division cannot overflow.
        let busy = dt - di
        let percent = dt.dividingFullWidth(busy.multipliedFullWidth(by: 100)).quotient
        return Int(min(percent, 100))
    }

    /// `/proc/meminfo` values are in kB. Missing `MemAvailable` makes used equal total (and
    /// missing `SwapFree` likewise for swap), as in the original, where an absent key reads as 0.
    /// A value larger than its total clamps used at 0.
    public static func memory(
        meminfo: String
    ) -> (memTotal: UInt64, memUsed: UInt64, swapTotal: UInt64, swapUsed: UInt64) {
        var memTotal: UInt64 = 0
        var memAvailable: UInt64 = 0
        var swapTotal: UInt64 = 0
        var swapFree: UInt64 = 0
        withProcText(meminfo) { text in
            var fields: [Range<Int>] = []
            text.forEachLine { line in
                text.split(line, into: &fields)
                guard fields.count >= 2, let value = text.number(fields[1]) else { return true }
                let key = fields[0]
                if text.equals(key, "MemTotal:") {
                    memTotal = value
                } else if text.equals(key, "MemAvailable:") {
                    memAvailable = value
                } else if text.equals(key, "SwapTotal:") {
                    swapTotal = value
                } else if text.equals(key, "SwapFree:") {
                    swapFree = value
                }
                return true
            }
        }
        let memUsed = memTotal - min(memAvailable, memTotal)
        let swapUsed = swapTotal - min(swapFree, swapTotal)
        return (
            memTotal.saturatingMultiply(1024), memUsed.saturatingMultiply(1024),
            swapTotal.saturatingMultiply(1024), swapUsed.saturatingMultiply(1024)
        )
    }

    /// Sums receive bytes and transmit bytes over the interfaces of `/proc/net/dev`, skipping its
    /// two header lines and the virtual interfaces the original skips. Our rule: the name ends
    /// at the first `:`, because older kernels print `eth0:123` with no space after the colon.
    public static func network(netDev: String) -> (rx: UInt64, tx: UInt64) {
        var rx: UInt64 = 0
        var tx: UInt64 = 0
        withProcText(netDev) { text in
            var fields: [Range<Int>] = []
            var lineNumber = 0
            text.forEachLine { line in
                lineNumber += 1
                guard lineNumber > 2, let colon = text.firstIndex(of: UInt8(ascii: ":"), in: line)
                else { return true }
                let name = text.trimmed(line.lowerBound..<colon)
                text.split(colon + 1..<line.upperBound, into: &fields)
                // Name plus at least nine counters makes the ten fields the contract requires.
                guard !name.isEmpty, fields.count >= 9, !isVirtualInterface(text, name),
                    let received = text.number(fields[0]), let sent = text.number(fields[8])
                else { return true }
                rx = rx.saturatingAdd(received)
                tx = tx.saturatingAdd(sent)
                return true
            }
        }
        return (rx, tx)
    }

    /// Bytes read and written on whole disks: sectors × 512 from `/proc/diskstats`. Partitions,
    /// loop devices, RAM disks, device-mapper and md devices are skipped so that no I/O is counted
    /// twice (once on the partition or mapping, once on the disk beneath).
    public static func disks(diskstats: String) -> (read: UInt64, write: UInt64) {
        var read: UInt64 = 0
        var write: UInt64 = 0
        withProcText(diskstats) { text in
            var fields: [Range<Int>] = []
            text.forEachLine { line in
                text.split(line, into: &fields)
                guard fields.count >= 14, !isSkippedDisk(text, fields[2]),
                    let sectorsRead = text.number(fields[5]),
                    let sectorsWritten = text.number(fields[9])
                else { return true }
                read = read.saturatingAdd(sectorsRead.saturatingMultiply(512))
                write = write.saturatingAdd(sectorsWritten.saturatingMultiply(512))
                return true
            }
        }
        return (read, write)
    }

    /// The first number of `/proc/uptime` (`<seconds>.<fraction>`), truncated; 0 when malformed.
    public static func uptime(_ procUptime: String) -> UInt64 {
        withProcText(procUptime) { text in
            var fields: [Range<Int>] = []
            var seconds: UInt64 = 0
            text.forEachLine { line in
                text.split(line, into: &fields)
                guard let first = fields.first else { return false }
                let dot = text.firstIndex(of: UInt8(ascii: "."), in: first) ?? first.upperBound
                let fraction = min(dot + 1, first.upperBound)..<first.upperBound
                if let whole = text.number(first.lowerBound..<dot),
                    fraction.isEmpty || text.number(fraction) != nil
                {
                    seconds = whole
                }
                return false
            }
            return seconds
        }
    }

    private static let virtualInterfacePrefixes: [StaticString] = [
        "lo", "veth", "docker", "podman", "br-", "virbr",
    ]

    private static func isVirtualInterface(_ text: ProcText, _ name: Range<Int>) -> Bool {
        virtualInterfacePrefixes.contains { text.hasPrefix(name, $0) }
    }

    private static let skippedDiskPrefixes: [StaticString] = ["loop", "ram", "dm-", "md"]
    private static let partitionedDiskPrefixes: [StaticString] = ["sd", "vd", "xvd", "hd"]

    private static func isSkippedDisk(_ text: ProcText, _ name: Range<Int>) -> Bool {
        if skippedDiskPrefixes.contains(where: { text.hasPrefix(name, $0) }) { return true }
        let bytes = text.slice(name)
        // (sd|vd|xvd|hd)[a-z]+[0-9]+, e.g. sda1, xvdb12: a partition, its disk is counted.
        for prefix in partitionedDiskPrefixes {
            var name = NameCursor(bytes)
            if name.literal(prefix), name.oneOrMore(isLetter), name.oneOrMore(isDigit), name.atEnd {
                return true
            }
        }
        // nvme<d>n<d>p<d>: a partition of namespace n of controller nvme<d>.
        var nvme = NameCursor(bytes)
        if nvme.literal("nvme"), nvme.oneOrMore(isDigit), nvme.literal("n"), nvme.oneOrMore(isDigit),
            nvme.literal("p"), nvme.oneOrMore(isDigit), nvme.atEnd
        {
            return true
        }
        // mmcblk<d>p<d>: a partition of an SD card or eMMC.
        var mmc = NameCursor(bytes)
        return mmc.literal("mmcblk") && mmc.oneOrMore(isDigit) && mmc.literal("p")
            && mmc.oneOrMore(isDigit) && mmc.atEnd
    }
}

private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

private func isLetter(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
}

/// ASCII whitespace as Go's `strings.Fields` sees it; `\n` never reaches here (lines are cut first).
private func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
}

/// Runs `body` over the UTF-8 bytes of `string` without copying a native string.
private func withProcText<R>(_ string: String, _ body: (ProcText) -> R) -> R {
    var string = string
    return string.withUTF8 { body(ProcText(bytes: $0)) }
}

/// A view of a `/proc` file's bytes that hands out lines and fields as index ranges, so parsing
/// allocates nothing per line.
private struct ProcText {
    let bytes: UnsafeBufferPointer<UInt8>

    /// Calls `body` with each line (without its `\n`) until it returns false.
    func forEachLine(_ body: (Range<Int>) -> Bool) {
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            guard body(start..<end) else { return }
            start = end + 1
        }
    }

    /// Replaces `fields` with the whitespace-separated fields of `range`, reusing its storage.
    func split(_ range: Range<Int>, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        while index < range.upperBound {
            while index < range.upperBound, isSpace(bytes[index]) { index += 1 }
            let start = index
            while index < range.upperBound, !isSpace(bytes[index]) { index += 1 }
            if index > start { fields.append(start..<index) }
        }
    }

    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        range.first { bytes[$0] == byte }
    }

    func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[range])
    }

    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && hasPrefix(range, literal)
    }

    func hasPrefix(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { slice(range).starts(with: $0) }
    }

    /// A plain decimal (digits only, no sign), saturating at `UInt64.max` like Go's `ParseUint`
    /// does on a range error; nil when empty or not all digits.
    func number(_ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for index in range {
            let byte = bytes[index]
            guard isDigit(byte) else { return nil }
            value = value.saturatingMultiply(10).saturatingAdd(UInt64(byte - UInt8(ascii: "0")))
        }
        return value
    }
}

/// Matches a device name piece by piece against the partition patterns of §15.
private struct NameCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func literal(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in
            guard bytes.count - index >= expected.count,
                bytes[index..<index + expected.count].elementsEqual(expected)
            else { return false }
            index += expected.count
            return true
        }
    }

    mutating func oneOrMore(_ matches: (UInt8) -> Bool) -> Bool {
        let start = index
        while index < bytes.count, matches(bytes[index]) { index += 1 }
        return index > start
    }
}

extension UInt64 {
    fileprivate func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    fileprivate func saturatingMultiply(_ other: UInt64) -> UInt64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
