import Glibc

/// What `openctrl version`, the error envelope (§1) and `/info` (`ver`, `os`, `arch`, §8.1) report.
public enum BuildInfo {
    /// Always a semantic version, never the original's `dev`: dashboards parse `ver` and disable
    /// features for anything below `1.10.0`.
    public static let version = "2.0.0"

    public static let os = "linux"

    /// Go's name for the machine we run on, read once from `uname(2)`.
    public static let arch: String = archName(machine: unameMachine())

    /// `openctrl-<version> <os>/<arch>`, e.g. `openctrl-2.0.0 linux/amd64`.
    public static var banner: String { "openctrl-\(version) \(os)/\(arch)" }

    /// Maps a `uname -m` machine name to Go's `GOARCH` spelling (§1); an unlisted machine is
    /// reported as the kernel names it, which is more useful to an operator than a guess.
    public static func archName(machine: String) -> String {
        switch machine {
        case "x86_64": "amd64"
        case "aarch64": "arm64"
        case "i686", "i386": "386"
        case "armv7l", "armv6l": "arm"
        case "loongarch64": "loong64"
        default: machine
        }
    }

    private static func unameMachine() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "" }
        return withUnsafeBytes(of: &name.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
