import Glibc
import Testing

@testable import OpenCtrlServer

/// Version, OS and architecture names (CONTRACT §1).
struct BuildInfoTests {
    struct ArchCase: Sendable, CustomTestStringConvertible {
        var machine: String
        var arch: String
        var line: UInt

        init(machine: String, arch: String, line: UInt = #line) {
            self.machine = machine
            self.arch = arch
            self.line = line
        }

        var testDescription: String { machine }
        var location: SourceLocation { SourceLocation(fileID: #fileID, filePath: #filePath, line: Int(line), column: 1) }
    }

    static let archCases: [ArchCase] = [
        ArchCase(machine: "x86_64", arch: "amd64"),
        ArchCase(machine: "aarch64", arch: "arm64"),
        ArchCase(machine: "i686", arch: "386"),
        ArchCase(machine: "i386", arch: "386"),
        ArchCase(machine: "armv7l", arch: "arm"),
        ArchCase(machine: "armv6l", arch: "arm"),
        ArchCase(machine: "riscv64", arch: "riscv64"),
        ArchCase(machine: "ppc64le", arch: "ppc64le"),
        ArchCase(machine: "s390x", arch: "s390x"),
        ArchCase(machine: "loongarch64", arch: "loong64"),
        // Unlisted machines pass through as the kernel names them; matching is exact.
        ArchCase(machine: "mips64", arch: "mips64"),
        ArchCase(machine: "ppc64", arch: "ppc64"),
        ArchCase(machine: "armv8l", arch: "armv8l"),
        ArchCase(machine: "i586", arch: "i586"),
        ArchCase(machine: "X86_64", arch: "X86_64"),
        ArchCase(machine: "x86_64 ", arch: "x86_64 "),
        ArchCase(machine: "amd64", arch: "amd64"),
        ArchCase(machine: "", arch: ""),
    ]

    @Test(arguments: archCases)
    func archName(_ c: ArchCase) {
        #expect(BuildInfo.archName(machine: c.machine) == c.arch, sourceLocation: c.location)
    }

    @Test func archComesFromThisMachine() {
        var name = utsname()
        #expect(uname(&name) == 0)
        let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(!machine.isEmpty)
        #expect(BuildInfo.arch == BuildInfo.archName(machine: machine))
    }

    @Test func banner() {
        #expect(BuildInfo.os == "linux")
        #expect(BuildInfo.banner == "openctrl-" + BuildInfo.version + " linux/" + BuildInfo.arch)
        #expect(!BuildInfo.banner.contains("\n"))
    }

    /// Dashboards parse `ver` and disable features below 1.10.0, so it must be plain
    /// `MAJOR.MINOR.PATCH` (no `v`, no `dev`) and at least that.
    @Test func versionIsSemantic() throws {
        let parts = BuildInfo.version.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3, "\(BuildInfo.version)")
        for part in parts {
            #expect(!part.isEmpty && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "\(part)")
            #expect(part == "0" || !part.hasPrefix("0"), "leading zero in \(part)")
        }
        let numbers = parts.compactMap { Int($0) }
        #expect(numbers.lexicographicallyPrecedes([1, 10, 0]) == false)
        #expect(BuildInfo.version != "dev")
    }
}
