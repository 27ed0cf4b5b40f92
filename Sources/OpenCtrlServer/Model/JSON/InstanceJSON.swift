/// The instance object of CONTRACT §9.1, in the field order Go's struct tags give it.
extension InstanceRecord {
    /// `tags` is emitted in stored order: the record keeps it sorted and unique by key bytes,
    /// which is the order Go gives map keys.
    public func writeJSON(into w: inout JSONWriter) {
        w.raw("{\"id\":")
        w.string(id)
        w.raw(",\"alias\":")
        w.string(alias)
        w.raw(",\"type\":")
        w.string(type)
        w.raw(",\"status\":")
        w.string(status)
        w.raw(",\"url\":")
        w.string(url)
        w.raw(",\"config\":")
        w.string(config)
        w.raw(",\"restart\":")
        w.bool(restart)
        w.raw(",\"meta\":{\"peer\":{\"sid\":")
        w.string(peer.sid)
        w.raw(",\"type\":")
        w.string(peer.type)
        w.raw(",\"alias\":")
        w.string(peer.alias)
        w.raw("},\"tags\":{")
        var first = true
        for tag in tags {
            if !first {
                w.raw(",")
            }
            first = false
            w.string(tag.key)
            w.raw(":")
            w.string(tag.value)
        }
        w.raw("}},\"mode\":")
        w.int(Int64(mode))
        w.raw(",\"ping\":")
        w.int(Int64(ping))
        w.raw(",\"pool\":")
        w.int(Int64(pool))
        w.raw(",\"tcps\":")
        w.int(Int64(tcps))
        w.raw(",\"udps\":")
        w.int(Int64(udps))
        w.raw(",\"tcprx\":")
        w.uint(tcprx)
        w.raw(",\"tcptx\":")
        w.uint(tcptx)
        w.raw(",\"udprx\":")
        w.uint(udprx)
        w.raw(",\"udptx\":")
        w.uint(udptx)
        w.raw("}")
    }

    public var jsonBytes: [UInt8] {
        var w = JSONWriter(reservingCapacity: estimatedJSONCount)
        writeJSON(into: &w)
        return w.bytes
    }

    /// Syntax and numbers take at most 348 bytes and each tag 6 besides its text; strings rarely
    /// need escaping, so one allocation covers the usual record.
    private var estimatedJSONCount: Int {
        var count = 348 + id.utf8.count + alias.utf8.count + type.utf8.count + status.utf8.count
            + url.utf8.count + config.utf8.count
            + peer.sid.utf8.count + peer.type.utf8.count + peer.alias.utf8.count
        for tag in tags {
            count += 6 + tag.key.utf8.count + tag.value.utf8.count
        }
        return count
    }
}
