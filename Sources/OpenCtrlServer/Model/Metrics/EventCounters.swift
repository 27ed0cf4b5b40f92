/// What the event hub counts for `/metrics` (CONTRACT §22.4, §13.5), where it happens.
public struct EventCounters: Sendable, Equatable {
    public enum DropReason: CaseIterable, Sendable {
        /// Pending output over the hard cap.
        case cap
        /// No progress for the stall limit.
        case stall

        public var name: String {
            switch self {
            case .cap: "cap"
            case .stall: "stall"
            }
        }
    }

    /// The six types in the order the exposition lists them.
    public static let types: [EventType] = [.initial, .create, .update, .delete, .log, .shutdown]

    private var published: [UInt64] = Array(repeating: 0, count: EventCounters.types.count)
    public private(set) var logsSkipped: UInt64 = 0
    public private(set) var droppedCap: UInt64 = 0
    public private(set) var droppedStall: UInt64 = 0

    public init() {}

    /// `initial` counts the snapshot frames written to new watchers, one per record each.
    public mutating func recordPublished(_ type: EventType, count: Int = 1) {
        published[Self.index(type)] += UInt64(count)
    }

    public func published(_ type: EventType) -> UInt64 {
        published[Self.index(type)]
    }

    public mutating func recordSkippedLogs(_ n: Int) {
        logsSkipped += UInt64(n)
    }

    public mutating func recordDrop(_ reason: DropReason) {
        switch reason {
        case .cap: droppedCap += 1
        case .stall: droppedStall += 1
        }
    }

    public func dropped(_ reason: DropReason) -> UInt64 {
        switch reason {
        case .cap: droppedCap
        case .stall: droppedStall
        }
    }

    private static func index(_ type: EventType) -> Int {
        switch type {
        case .initial: 0
        case .create: 1
        case .update: 2
        case .delete: 3
        case .log: 4
        case .shutdown: 5
        }
    }
}
