/// A Prometheus histogram with fixed upper bounds: one count per bucket (not cumulative; the
/// writer accumulates), plus the sum and count of every observation.
public struct Histogram: Sendable, Equatable {
    public let bounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bounds must increase")
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    /// A value equal to a bound belongs to that bucket (`le` is "less than or equal").
    public mutating func observe(_ value: Double) {
        sum += value
        count += 1
        if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
    }
}
