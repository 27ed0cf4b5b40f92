/// The one place lifecycle, log and registry events are published (CONTRACT §13.4). The
/// Server-Sent Events stream subscribes here; until it does, events are only counted, which
/// is what the tests of the instance work observe through `published`.
@LoopActor
final class EventHub {
    enum Kind: String {
        case create, update, delete, log, shutdown
    }

    private(set) var published = 0

    func publish(_ kind: Kind, _ record: InstanceRecord?, logs: String = "") {
        published += 1
    }
}
