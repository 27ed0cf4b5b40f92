import Testing

@testable import OpenCtrlServer

/// Tests for the `/proc/net/dev` and `/proc/diskstats` parsers (CONTRACT §15): which interfaces
/// and devices count, and how malformed lines are skipped.
struct NetworkDiskMetricsTests {
    // MARK: - Fixtures

    static let realNetDev = """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
            lo:    3245      30    0    0    0     0          0         0     3245      30    0    0    0     0       0          0
          ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
          ifb1:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
          eth0: 11108264     434    0    0    0     0          0         0    26903     336    0    0    0     0       0          0

        """

    static let realDiskstats = """
           7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       1 loop1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       2 loop2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       3 loop3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       4 loop4 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       5 loop5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       6 loop6 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
           7       7 loop7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
         254       0 vda 27450 6613 3667482 10343 4079 11456 645096 2691 0 4540 13455 629 0 134744 161 522 258
         253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0

        """

    /// A container host: virtual interfaces the original skips next to ones it keeps (wg0, tun0).
    static let serverNetDev = """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
            lo: 9876543   12345    0    0    0     0          0         0  9876543   12345    0    0    0     0       0          0
          ens3: 5000000000 4000000    0   12    0     0          0      1000 700000000 3000000    0    0    0     0       0          0
        docker0:     111       1    0    0    0     0          0         0      222       2    0    0    0     0       0          0
        veth12ab34c:     333       3    0    0    0     0          0         0      444       4    0    0    0     0       0          0
        br-5f3a9c1e2d7b:     555       5    0    0    0     0          0         0      666       6    0    0    0     0       0          0
        virbr0:     777       7    0    0    0     0          0         0      888       8    0    0    0     0       0          0
        podman0:     999       9    0    0    0     0          0         0     1111      11    0    0    0     0       0          0
           wg0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
          tun0:   30000     300    0    0    0     0          0         0    40000     400    0    0    0     0       0          0

        """

    /// A bare-metal host with NVMe, SATA, SD card, LVM and RAID, in the 20-field format of 5.5+.
    static let serverDiskstats = """
         259       0 nvme0n1 421337 102 53317432 91234 876543 2345 98765432 456789 0 512345 548023 0 0 0 0 3456 789
         259       1 nvme0n1p1 1234 0 56789 123 5 0 16 1 0 100 124 0 0 0 0 0 0
         259       2 nvme0n1p2 420000 102 53260000 91000 876538 2345 98765416 456788 0 512000 547788 0 0 0 0 0 0
           8       0 sda 1000 10 200000 500 2000 20 400000 900 0 1200 1400 0 0 0 0 0 0
           8       1 sda1 999 10 199000 499 1999 20 399000 899 0 1199 1398 0 0 0 0 0 0
         179       0 mmcblk0 50 0 3000 10 60 0 5000 20 0 30 30 0 0 0 0 0 0
         179       1 mmcblk0p1 49 0 2900 9 59 0 4900 19 0 29 28 0 0 0 0 0 0
         253       0 dm-0 410000 0 53000000 90000 870000 0 98000000 450000 0 510000 540000 0 0 0 0 0 0
           9     127 md127 300 0 40000 0 400 0 80000 0 0 0 0 0 0 0 0 0 0
           7       0 loop0 88 0 3000 5 0 0 0 0 0 10 5 0 0 0 0 0 0
           1       0 ram0 7 0 70 0 7 0 70 0 0 0 0 0 0 0 0 0 0

        """

    static let max = UInt64.max

    /// Two header lines and one interface line; receive bytes 7, transmit bytes 11.
    static func netDev(_ line: String) -> String {
        "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n" + line + "\n"
    }

    static func interfaceLine(_ name: String) -> String {
        "\(name): 7 1 0 0 0 0 0 0 11 1 0 0 0 0 0 0"
    }

    /// One diskstats line; sectors read 3 (field 6), sectors written 5 (field 10).
    static func diskLine(_ name: String) -> String {
        "   8       0 \(name) 1 2 3 4 9 9 5 9 0 9 9 0 0 0 0 0 0"
    }

    // MARK: - network

    struct NetCase: Sendable, CustomTestStringConvertible {
        var input: String
        var rx: UInt64
        var tx: UInt64
        var line: UInt

        init(input: String, rx: UInt64, tx: UInt64, line: UInt = #line) {
            self.input = input
            self.rx = rx
            self.tx = tx
            self.line = line
        }

        var testDescription: String { "line \(line)" }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let netCases: [NetCase] = [
        NetCase(input: realNetDev, rx: 11108264, tx: 26903),
        NetCase(input: serverNetDev, rx: 5000000000 + 1000 + 30000, tx: 700000000 + 2000 + 40000),
        // Our rule: older kernels print no space after the colon; the name still ends there.
        NetCase(input: netDev("  eth0:1234567 8910 0 0 0 0 0 0 98765 4321 0 0 0 0 0 0"), rx: 1234567, tx: 98765),
        NetCase(input: netDev("    lo:100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0"), rx: 0, tx: 0),
        // Exactly ten fields (name plus nine counters) is enough.
        NetCase(input: netDev("eth0: 7 0 0 0 0 0 0 0 11"), rx: 7, tx: 11),
        NetCase(input: netDev("eth0:\t7\t0\t0\t0\t0\t0\t0\t0\t11\t0\r"), rx: 7, tx: 11),
        NetCase(input: netDev(interfaceLine("a") + "\n" + interfaceLine("b")), rx: 14, tx: 22),
        NetCase(input: netDev("e0: \(max) 0 0 0 0 0 0 0 \(max) 0\ne1: 5 0 0 0 0 0 0 0 5 0"), rx: max, tx: max),
        NetCase(input: netDev("e0: 99999999999999999999999 0 0 0 0 0 0 0 1 0"), rx: max, tx: 1),
        // Bad input: the two header lines are skipped whatever they hold, and short, nameless,
        // colon-less or non-numeric lines are skipped.
        NetCase(input: "", rx: 0, tx: 0),
        NetCase(input: "Inter-|   Receive |  Transmit\n", rx: 0, tx: 0),
        NetCase(input: interfaceLine("eth0") + "\n" + interfaceLine("eth1"), rx: 0, tx: 0),
        NetCase(input: interfaceLine("eth0") + "\n" + interfaceLine("eth1") + "\n" + interfaceLine("eth2"), rx: 7, tx: 11),
        NetCase(input: netDev("eth0: 7 0 0 0 0 0 0 0"), rx: 0, tx: 0),
        NetCase(input: netDev("eth0: x 0 0 0 0 0 0 0 11 0"), rx: 0, tx: 0),
        NetCase(input: netDev("eth0: 7 0 0 0 0 0 0 0 -11 0"), rx: 0, tx: 0),
        NetCase(input: netDev("eth0 7 0 0 0 0 0 0 0 11 0 0"), rx: 0, tx: 0),
        NetCase(input: netDev("   : 7 0 0 0 0 0 0 0 11 0"), rx: 0, tx: 0),
        NetCase(input: netDev("\n\n"), rx: 0, tx: 0),
    ]

    @Test(arguments: netCases)
    func network(_ c: NetCase) {
        let result = ProcParsers.network(netDev: c.input)
        #expect(result.rx == c.rx, sourceLocation: c.location)
        #expect(result.tx == c.tx, sourceLocation: c.location)
    }

    struct NameCase: Sendable, CustomTestStringConvertible {
        var name: String
        var counted: Bool
        var line: UInt

        init(name: String, counted: Bool, line: UInt = #line) {
            self.name = name
            self.counted = counted
            self.line = line
        }

        var testDescription: String { name }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let interfaceNames: [NameCase] = [
        NameCase(name: "eth0", counted: true),
        NameCase(name: "ens3", counted: true),
        NameCase(name: "enp0s31f6", counted: true),
        NameCase(name: "wlan0", counted: true),
        NameCase(name: "bond0", counted: true),
        // Virtual devices the original misses; kept for parity (§15).
        NameCase(name: "wg0", counted: true),
        NameCase(name: "tun0", counted: true),
        NameCase(name: "cni0", counted: true),
        NameCase(name: "flannel.1", counted: true),
        NameCase(name: "cali1a2b3c", counted: true),
        NameCase(name: "br0", counted: true),
        NameCase(name: "Lo", counted: true),
        NameCase(name: "lo", counted: false),
        NameCase(name: "lowpan0", counted: false),
        NameCase(name: "veth1a2b3c", counted: false),
        NameCase(name: "docker0", counted: false),
        NameCase(name: "docker_gwbridge", counted: false),
        NameCase(name: "podman1", counted: false),
        NameCase(name: "br-5f3a9c1e2d7b", counted: false),
        NameCase(name: "virbr0", counted: false),
        NameCase(name: "virbr0-nic", counted: false),
    ]

    @Test(arguments: interfaceNames)
    func interfaceFilter(_ c: NameCase) {
        let result = ProcParsers.network(netDev: Self.netDev(Self.interfaceLine(c.name)))
        let expected: (UInt64, UInt64) = c.counted ? (7, 11) : (0, 0)
        #expect(result == expected, sourceLocation: c.location)
    }

    // MARK: - disks

    static let diskCases: [NetCase] = [
        NetCase(input: realDiskstats, rx: 3667482 * 512, tx: 645096 * 512),
        NetCase(input: serverDiskstats, rx: (53317432 + 200000 + 3000) * 512, tx: (98765432 + 400000 + 5000) * 512),
        // Kernels before 4.18 print exactly 14 fields.
        NetCase(input: "   8       0 sda 1 2 3 4 9 9 5 9 0 9 9\n", rx: 3 * 512, tx: 5 * 512),
        NetCase(input: diskLine("sda") + "\n" + diskLine("sdb"), rx: 6 * 512, tx: 10 * 512),
        NetCase(input: "8 0 sda 0 0 \(max) 0 0 0 \(max / 512 + 1) 0 0 0 0\n", rx: max, tx: max),
        NetCase(input: "8 0 sda 0 0 \(max / 512) 0 0 0 0 0 0 0 0\n8 0 sdb 0 0 \(max / 512) 0 0 0 0 0 0 0 0", rx: max, tx: 0),
        NetCase(input: "8\t0\tsda\t0\t0\t2\t0\t0\t0\t4\t0\t0\t0\t0\r\n", rx: 1024, tx: 2048),
        // Bad input: short lines and non-numeric sector counts are skipped.
        NetCase(input: "", rx: 0, tx: 0),
        NetCase(input: "\n\n\n", rx: 0, tx: 0),
        NetCase(input: "   8       0 sda 1 2 3 4 9 9 5 9 0 9\n", rx: 0, tx: 0),
        NetCase(input: "   8       0 sda 1 2 x 4 9 9 5 9 0 9 9\n", rx: 0, tx: 0),
        NetCase(input: "   8       0 sda 1 2 3 4 9 9 5.0 9 0 9 9\n", rx: 0, tx: 0),
        NetCase(input: "   8       0 sda 1 2 -3 4 9 9 5 9 0 9 9\n" + diskLine("sdb"), rx: 3 * 512, tx: 5 * 512),
    ]

    @Test(arguments: diskCases)
    func disks(_ c: NetCase) {
        let result = ProcParsers.disks(diskstats: c.input)
        #expect(result.read == c.rx, sourceLocation: c.location)
        #expect(result.write == c.tx, sourceLocation: c.location)
    }

    static let diskNames: [NameCase] = [
        NameCase(name: "sda", counted: true),
        NameCase(name: "sdaa", counted: true),
        NameCase(name: "vda", counted: true),
        NameCase(name: "xvdb", counted: true),
        NameCase(name: "hdc", counted: true),
        NameCase(name: "nvme0n1", counted: true),
        NameCase(name: "nvme12n3", counted: true),
        NameCase(name: "mmcblk0", counted: true),
        NameCase(name: "mmcblk0boot0", counted: true),
        NameCase(name: "sr0", counted: true),
        NameCase(name: "zram0", counted: true),
        NameCase(name: "nbd0", counted: true),
        // Near misses of the partition patterns are whole devices.
        NameCase(name: "sd1", counted: true),
        NameCase(name: "sda1x", counted: true),
        NameCase(name: "sdA1", counted: true),
        NameCase(name: "nvme0n1p", counted: true),
        NameCase(name: "nvmen1p1", counted: true),
        NameCase(name: "nvme0n1p1x", counted: true),
        NameCase(name: "mmcblk0p1x", counted: true),
        NameCase(name: "mmcblkp1", counted: true),
        NameCase(name: "xsda1", counted: true),
        NameCase(name: "sda1", counted: false),
        NameCase(name: "sdb12", counted: false),
        NameCase(name: "sdaa3", counted: false),
        NameCase(name: "vda1", counted: false),
        NameCase(name: "xvda1", counted: false),
        NameCase(name: "hda2", counted: false),
        NameCase(name: "nvme0n1p1", counted: false),
        NameCase(name: "nvme10n12p3", counted: false),
        NameCase(name: "mmcblk0p1", counted: false),
        NameCase(name: "mmcblk1p10", counted: false),
        NameCase(name: "loop0", counted: false),
        NameCase(name: "loop12", counted: false),
        NameCase(name: "ram0", counted: false),
        NameCase(name: "dm-0", counted: false),
        NameCase(name: "dm-12", counted: false),
        NameCase(name: "md0", counted: false),
        NameCase(name: "md127", counted: false),
    ]

    @Test(arguments: diskNames)
    func diskFilter(_ c: NameCase) {
        let result = ProcParsers.disks(diskstats: Self.diskLine(c.name))
        let expected: (UInt64, UInt64) = c.counted ? (3 * 512, 5 * 512) : (0, 0)
        #expect(result == expected, sourceLocation: c.location)
    }
}
