/// The in-memory registry of records, keyed by ID, including the reserved `********` record
/// that carries the API key, the master ID and the master alias (CONTRACT §4.1).
@LoopActor
public final class Registry {
    private(set) var records: [String: InstanceRecord] = [:]

    public init(records: [InstanceRecord]) {
        for record in records { self.records[record.id] = record }
    }

    public var keyRecord: InstanceRecord {
        get { records[InstanceRecord.keyRecordID] ?? Self.emptyKeyRecord }
        set { records[InstanceRecord.keyRecordID] = newValue }
    }

    /// The current API key; read on every request, so a rotation applies at once.
    public var apiKey: String { keyRecord.url }

    public subscript(id: String) -> InstanceRecord? {
        records[id]
    }

    /// Every record in byte order of ID, which puts `********` first (CONTRACT §8.3).
    public var sorted: [InstanceRecord] {
        records.values.sorted { bytesLess($0.id, $1.id) }
    }

    public var instanceCount: Int {
        records.count - (records[InstanceRecord.keyRecordID] == nil ? 0 : 1)
    }

    private static var emptyKeyRecord: InstanceRecord {
        InstanceRecord(id: InstanceRecord.keyRecordID)
    }
}
