import Glibc

/// TLS serving is not part of this build yet. Rather than serve plain HTTP to a client that
/// asked for HTTPS, the master refuses TLS modes at startup, after the same certificate-file
/// checks the full implementation makes first (CONTRACT §1).
enum TLSAvailability {
    static func startupFailure(_ config: MasterURL) -> String? {
        let prefix = "Main.start: create core failed: Master.new: Master.newServerTLSConfig: "
        switch config.tls {
        case .off:
            return nil
        case .files:
            for path in [config.crt, config.key] {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { return prefix + "load certificate failed: open \(path): \(errnoText())" }
                close(fd)
            }
            return prefix + "TLS is not available in this build"
        case .selfSigned:
            return prefix + "create self-signed config failed: TLS is not available in this build"
        }
    }
}
