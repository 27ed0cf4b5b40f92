import Glibc

/// The command line of CONTRACT §1: only the first argument counts.
public enum OpenCtrlMain {
    public static func run(_ arguments: [String]) -> Int32 {
        let startedAt = ContinuousClock.now
        guard arguments.count >= 2 else {
            StartupFailure.report("Main.start: missing configuration URL argument")
            return 1
        }
        switch arguments[1] {
        case "help", "--help", "-h":
            Log.writeAll(1, "openctrl <configuration URL>\n")
            return 0
        case "version", "--version", "-v":
            Log.writeAll(1, BuildInfo.banner + "\n")
            return 0
        default:
            break
        }
        let config: MasterURL
        do throws(MasterURLError) {
            config = try MasterURL.parse(arguments[1])
        } catch {
            StartupFailure.report(error.message)
            return 1
        }
        return Master.run(config, startedAt: startedAt)
    }
}
