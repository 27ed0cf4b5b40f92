/// The two answers of `GET <P>/instances/{id}/logs` (CONTRACT §22.2): compact JSON
/// `{"id":…,"first":…,"next":…,"lines":[…]}` and `format=text` lines `<time> <source> <text>`.
/// Times are formatted here, from the raw numbers the history keeps, exactly as events show
/// them; invalid UTF-8 becomes U+FFFD per byte in both, as in `log` events.
extension History {
    public func json(id: String, tail: Int, after: UInt64?) -> [UInt8] {
        let selected = selection(tail: tail, after: after)
        var clock = EventClock()
        var w = JSONWriter(reservingCapacity: 64 + selectedTextBytes(selected) + selected.count * 96)
        w.raw("{\"id\":")
        w.string(id)
        w.raw(",\"first\":")
        w.uint(first)
        w.raw(",\"next\":")
        w.uint(next)
        w.raw(",\"lines\":[")
        for i in selected {
            let (seq, entry) = self.entry(i)
            if i != selected.lowerBound { w.raw(",") }
            w.raw("{\"seq\":")
            w.uint(seq)
            w.raw(",\"time\":")
            clock.time(seconds: entry.seconds, nanoseconds: entry.nanoseconds, utcOffset: EventClock.localOffset).write(into: &w)
            w.raw(entry.source == .output ? ",\"source\":\"output\",\"text\":" : ",\"source\":\"master\",\"text\":")
            withText(of: entry) { w.string(utf8: $0) }
            w.raw("}")
        }
        w.raw("]}")
        return w.bytes
    }

    public func text(tail: Int, after: UInt64?) -> [UInt8] {
        let selected = selection(tail: tail, after: after)
        var clock = EventClock()
        var w = JSONWriter(reservingCapacity: selectedTextBytes(selected) + selected.count * 48)
        for i in selected {
            let entry = self.entry(i).entry
            clock.time(seconds: entry.seconds, nanoseconds: entry.nanoseconds, utcOffset: EventClock.localOffset).writeUnquoted(into: &w)
            w.raw(entry.source == .output ? " output " : " master ")
            withText(of: entry) { Self.writeReplacingInvalid($0, into: &w) }
            w.raw("\n")
        }
        return w.bytes
    }

    private func selectedTextBytes(_ selected: Range<Int>) -> Int {
        selected.reduce(0) { $0 + entry($1).entry.length }
    }

    /// Valid runs verbatim; each byte that starts no valid sequence becomes U+FFFD.
    static func writeReplacingInvalid(_ s: UnsafeBufferPointer<UInt8>, into w: inout JSONWriter) {
        var runStart = 0, i = 0
        while i < s.count {
            if s[i] < 0x80 {
                i += 1
                continue
            }
            let length = StrictUTF8.length(in: s, at: i)
            if length > 0 {
                i += length
                continue
            }
            w.rawBytes(UnsafeBufferPointer(rebasing: s[runStart..<i]))
            w.raw("\u{FFFD}")
            i += 1
            runStart = i
        }
        w.rawBytes(UnsafeBufferPointer(rebasing: s[runStart..<i]))
    }
}
