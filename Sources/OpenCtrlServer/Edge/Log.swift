import Glibc

/// The master's operator log on stderr: `YYYY/MM/DD HH:MM:SS <message>` (CONTRACT §17).
/// Written with one `write(2)` per line so lines from a crash-time stderr never interleave.
public enum Log {
    public static func info(_ message: String) {
        writeAll(2, RFC3339.logStamp() + " " + message + "\n")
    }

    static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }
}
