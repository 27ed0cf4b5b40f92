/// The one place lifecycle, log and registry events are published (CONTRACT §13.4), so the
/// Server-Sent Events stream has a single seam to attach to. This build has no stream yet:
/// publishing reaches no subscriber.
@LoopActor
final class EventHub {
    enum Kind: String {
        case create, update, delete, log, shutdown
    }

    func publish(_ kind: Kind, _ record: InstanceRecord?, logs: String = "") {}
}
