import Glibc

/// The startup error envelope of CONTRACT §1, written to stderr before exit status 1.
public enum StartupFailure {
    public static func report(_ message: String) {
        Log.writeAll(2, "\(BuildInfo.banner) pid=\(getpid()) error=\(message)\n")
    }
}
