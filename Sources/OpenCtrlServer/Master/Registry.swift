/// The in-memory registry: the reserved `********` record (API key, master ID, master alias;
/// CONTRACT §4.1) and the managed instances, keyed by ID and kept in listing order.
@LoopActor
public final class Registry {
    var keyRecord: InstanceRecord {
        didSet {
            keyJSON = keyRecord.jsonBytes
            version.bump()
        }
    }
    /// The key record's JSON object, re-encoded only when it changes.
    private(set) var keyJSON: [UInt8]
    private(set) var instances: [String: ManagedInstance] = [:]
    /// Every instance (deleted ones until their removal) in byte order of ID (§8.3), so neither
    /// the listing nor a state write sorts.
    private var ordered: [ManagedInstance] = []
    /// Bumped by every change to what the listing shows.
    let version = RegistryVersion()
    private var listing: (version: UInt64, body: SharedBytes)?

    init(records: [InstanceRecord]) {
        keyRecord = records.first { $0.id == InstanceRecord.keyRecordID } ?? InstanceRecord(id: InstanceRecord.keyRecordID)
        keyJSON = keyRecord.jsonBytes
        for record in records where record.id != InstanceRecord.keyRecordID {
            instances[record.id] = ManagedInstance(record: record, version: version)
        }
        ordered = instances.values.sorted { bytesLess($0.id, $1.id) }
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

    /// What clients see under `id`: the key record's or a live instance's JSON object.
    func json(id: String) -> [UInt8]? {
        id == InstanceRecord.keyRecordID ? keyJSON : instance(id)?.json
    }

    func contains(_ id: String) -> Bool {
        id == InstanceRecord.keyRecordID || instances[id] != nil
    }

    func add(_ record: InstanceRecord) -> ManagedInstance {
        let instance = ManagedInstance(record: record, version: version)
        if let old = instances.updateValue(instance, forKey: record.id) {
            ordered.remove(at: position(of: old.id))
        }
        ordered.insert(instance, at: position(of: record.id))
        version.bump()
        return instance
    }

    func remove(_ id: String) {
        guard instances.removeValue(forKey: id) != nil else { return }
        ordered.remove(at: position(of: id))
        version.bump()
    }

    /// The first index whose ID is not below `id` in byte order.
    private func position(of id: String) -> Int {
        var low = 0, high = ordered.count
        while low < high {
            let mid = (low + high) / 2
            if bytesLess(ordered[mid].id, id) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Live instances in listing order.
    var listed: some Sequence<ManagedInstance> {
        ordered.lazy.filter { !$0.lifecycle.isDeleted }
    }

    /// Every record clients and the state file see, in byte order of ID (`********` first,
    /// CONTRACT §8.3); records flagged as deleted are never listed or written (§8.8).
    var sorted: [InstanceRecord] {
        [keyRecord] + listed.map(\.record)
    }

    /// What the state file holds: `sorted`, with a key being rotated already in place.
    var persisted: [InstanceRecord] {
        var records = sorted
        if let rotatingKey { records[0].url = rotatingKey }
        return records
    }

    /// The JSON objects of `sorted`, for an event stream's snapshot.
    var sortedJSON: [[UInt8]] {
        [keyJSON] + listed.map(\.json)
    }

    /// The body of `GET /instances` (§8.3): the cached objects joined into one array, built
    /// again only after something listed changed, and shared by every response until then.
    var listingBody: SharedBytes {
        if let listing, listing.version == version.value { return listing.body }
        var pieces = [keyJSON]
        pieces.reserveCapacity(ordered.count + 1)
        for instance in listed { pieces.append(instance.json) }
        let body = SharedBytes.jsonArray(pieces)
        listing = (version.value, body)
        return body
    }
}

/// A counter of changes to what the listing shows, shared by the registry and its instances
/// so a record can say it changed without knowing the registry.
@LoopActor
final class RegistryVersion {
    private(set) var value: UInt64 = 0
    func bump() { value &+= 1 }
}
