import Foundation
@testable import OpenCtrlServer

/// Shared setup for the state file tests.
enum Fixture {
    static let posix = PosixFileSystem()
    static let bootTime = 1_700_000_000

    /// A fresh directory under the system temp directory, removed when `body` returns; the
    /// state directory is `<root>/gob`, as beside the master executable.
    static func withStateDirectory<T>(_ body: (_ root: String, _ files: StateFiles) throws -> T) throws -> T {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("openctrl-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try body(root, StateFiles(directory: root + "/gob"))
    }

    /// A registry as it would be after `n` saves: the key record plus one instance whose alias
    /// names the generation, so tests can tell which save a file holds.
    static func generation(_ n: Int) -> [InstanceRecord] {
        var key = InstanceRecord(id: InstanceRecord.keyRecordID)
        key.url = "0123456789abcdef0123456789abcdef"
        key.config = "0123456789abcdef"
        var instance = InstanceRecord(id: "a1b2c3d4")
        instance.alias = "generation \(n)"
        instance.tags = [Tag(key: "gen", value: String(n))]
        instance.tcprx = UInt64(n)
        return [key, instance]
    }

    /// The generation a file holds, or nil if it is missing or does not decode.
    static func generationIn(_ path: String) -> Int? {
        guard let bytes = Disk.read(path), let records = try? StateCodec.decode(bytes) else { return nil }
        return (0..<100).first { generation($0) == records }
    }
}

/// Direct file access for setting up and inspecting state directories, bypassing the code under test.
enum Disk {
    static func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    static func write(_ bytes: [UInt8], at path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }
}
