import Glibc

/// An immutable byte buffer with a stable address, so many responses can hand the same body to
/// their connections by reference (`evbuffer_add_reference`) instead of copying it: the instance
/// listing is written once per change and then sent as it is until the next one.
public final class SharedBytes: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int

    /// `fill` writes exactly `count` bytes into the new buffer.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        fill(UnsafeMutableRawBufferPointer(rebasing: memory[0..<count]))
        base = UnsafeRawPointer(memory.baseAddress!)
        self.count = count
    }

    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { out in out.copyBytes(from: bytes) }
    }

    deinit { UnsafeMutableRawPointer(mutating: base).deallocate() }

    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: count)) }

    /// `[a,b,…]` and Go's trailing newline (CONTRACT §6), from already encoded JSON values.
    public static func jsonArray(_ elements: [[UInt8]]) -> SharedBytes {
        let count = elements.reduce(2 + max(elements.count - 1, 0)) { $0 + $1.count } + 1
        return SharedBytes(count: count) { out in
            var at = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + bytes.count)]).copyMemory(from: bytes)
                at += bytes.count
            }
            out[at] = UInt8(ascii: "[")
            at += 1
            for (index, element) in elements.enumerated() {
                if index > 0 {
                    out[at] = UInt8(ascii: ",")
                    at += 1
                }
                element.withUnsafeBytes(put)
            }
            out[at] = UInt8(ascii: "]")
            out[at + 1] = 0x0A
        }
    }
}
