/// The in-memory registry: the reserved `********` record (API key, master ID, master alias;
/// CONTRACT §4.1) and the managed instances, keyed by ID.
@LoopActor
public final class Registry {
    var keyRecord: InstanceRecord
    private(set) var instances: [String: ManagedInstance] = [:]

    init(records: [InstanceRecord]) {
        keyRecord = records.first { $0.id == InstanceRecord.keyRecordID } ?? InstanceRecord(id: InstanceRecord.keyRecordID)
        for record in records where record.id != InstanceRecord.keyRecordID {
            instances[record.id] = ManagedInstance(record: record)
        }
    }

    /// A rotated key being saved (CONTRACT §4.4): written to the state file before it replaces
    /// the key clients must present.
    var rotatingKey: String?

    /// The current API key; read on every request, so a rotation applies at once.
    var apiKey: String { keyRecord.url }

    /// A live (not deleted) instance.
    func instance(_ id: String) -> ManagedInstance? {
        guard let instance = instances[id], !instance.lifecycle.isDeleted else { return nil }
        return instance
    }

    /// What clients see under `id`: the key record or a live instance's record.
    subscript(id: String) -> InstanceRecord? {
        id == InstanceRecord.keyRecordID ? keyRecord : instance(id)?.record
    }

    func contains(_ id: String) -> Bool {
        id == InstanceRecord.keyRecordID || instances[id] != nil
    }

    func add(_ record: InstanceRecord) -> ManagedInstance {
        let instance = ManagedInstance(record: record)
        instances[record.id] = instance
        return instance
    }

    func remove(_ id: String) {
        instances[id] = nil
    }

    /// Every record clients and the state file see, in byte order of ID (`********` first,
    /// CONTRACT §8.3); records flagged as deleted are never listed or written (§8.8).
    /// What the state file holds: `sorted`, with a key being rotated already in place.
    var persisted: [InstanceRecord] {
        var records = sorted
        if let rotatingKey { records[0].url = rotatingKey }
        return records
    }

    var sorted: [InstanceRecord] {
        [keyRecord] + instances.values.filter { !$0.lifecycle.isDeleted }.map(\.record).sorted { bytesLess($0.id, $1.id) }
    }
}
