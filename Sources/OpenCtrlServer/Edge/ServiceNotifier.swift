import CEvent
import Glibc

/// systemd's readiness and watchdog protocol (CONTRACT §22.6), without libsystemd: each message
/// is one datagram of `KEY=value` lines to the socket named by `NOTIFY_SOCKET` (a path, or
/// `@name` in the abstract namespace). A service manager that went away must not take the
/// master with it, so a failed send is ignored.
@LoopActor
final class ServiceNotifier {
    /// The variables that let a process speak for the service: taken from the environment at
    /// startup so that no child (which inherits it) can ever send in the master's name.
    nonisolated static let variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    private let fd: Int32
    private var address = sockaddr_un()
    private let addressLength: socklen_t
    private var watchdog: Timer?

    /// What the environment asked for, read once; the variables are then removed.
    struct Settings {
        var socket: String?
        /// Half the watchdog period systemd expects, when the watchdog is meant for this process.
        var watchdogInterval: Double?
    }

    nonisolated static func takeSettings() -> Settings {
        let value = { (name: String) in getenv(name).map { String(cString: $0) } }
        var settings = Settings(socket: value("NOTIFY_SOCKET").flatMap { $0.isEmpty ? nil : $0 })
        if let usec = value("WATCHDOG_USEC").flatMap({ UInt64($0) }), usec > 0,
           value("WATCHDOG_PID").map({ Int32($0) == getpid() }) ?? true {
            settings.watchdogInterval = Double(usec) / 2_000_000
        }
        for name in variables { unsetenv(name) }
        return settings
    }

    /// Nil when no socket is configured or its name cannot be a socket address.
    init?(socket path: String) {
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity || (bytes[0] == 0 && bytes.count <= capacity) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
    }

    isolated deinit {
        watchdog?.cancel()
        close(fd)
    }

    func send(_ message: String) {
        var message = message
        message.withUTF8 { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = sendto(fd, text.baseAddress, text.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), $0, addressLength)
                }
            }
        }
    }

    /// `WATCHDOG=1` from a loop timer: a loop that stops turning stops the pings, and systemd
    /// restarts the service.
    func startWatchdog(loop: Loop, every interval: Double) {
        send("WATCHDOG=1")
        let timer = Timer(loop: loop) { [unowned self] in
            self.send("WATCHDOG=1")
            self.watchdog?.schedule(after: interval)
        }
        watchdog = timer
        timer.schedule(after: interval)
    }
}
