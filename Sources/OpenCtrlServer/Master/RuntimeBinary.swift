import Glibc

/// Where `bin` points, with `PATH` lookup for a bare name (CONTRACT §12.1).
enum RuntimeBinary {
    static func resolve(_ bin: String) -> String? {
        if bin.contains("/") { return isExecutableFile(bin) ? bin : nil }
        guard let path = getenv("PATH").map({ String(cString: $0) }) else { return nil }
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(bin)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// Why `path` cannot be executed, as Go's `fork/exec` error text ends.
    static func failureText(_ path: String) -> String {
        if access(path, X_OK) != 0 { return errnoText() }
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return errnoText(EACCES) }
        return errnoText(ENOEXEC)
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
