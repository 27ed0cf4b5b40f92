import CEvent
import Glibc

public struct LoopError: Error, CustomStringConvertible {
    public var description: String
}

/// The one `event_base` of the process and the thread that runs it.
///
/// Created on the thread that will run it; from then on that thread is the loop thread and
/// everything `@LoopActor` runs there. `@unchecked Sendable`: the pointer never changes and
/// the base is locked (evthread), which is what lets other threads wake it.
public final class Loop: @unchecked Sendable {
    let base: OpaquePointer

    public init() throws(LoopError) {
        // Cross-thread event_active (the executor's wake-up) needs a notifiable, locked base,
        // and only bases created after this call are.
        guard evthread_use_pthreads() == 0 else { throw LoopError(description: "evthread_use_pthreads failed") }
        // libevent's own warnings go to our log, in our format.
        event_set_log_callback { _, message in
            Log.info("libevent: " + (message.map { String(cString: $0) } ?? ""))
        }
        guard let base = event_base_new() else { throw LoopError(description: "event_base_new failed") }
        guard LoopActor.shared.executor.attach(base: base) else {
            event_base_free(base)
            throw LoopError(description: "event_new failed for the executor wake-up")
        }
        self.base = base
    }

    /// Runs until `stop()`; returns on the loop thread.
    @LoopActor
    public func run() {
        event_base_dispatch(base)
    }

    public func stop() {
        event_base_loopbreak(base)
    }

    /// Lets the loop run `seconds` longer (so queued replies reach their sockets), then stop.
    public func stop(after seconds: Double) {
        var tv = timeval(seconds: seconds)
        event_base_loopexit(base, &tv)
    }

    /// Suspends the calling loop task for `seconds` without blocking the loop.
    @LoopActor
    public func sleep(seconds: Double) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // The handler holds the timer until it fires, then lets it go.
            var timer: Timer?
            timer = Timer(loop: self) {
                timer = nil
                done.resume()
            }
            timer?.schedule(after: seconds)
        }
    }
}

/// Owns one libevent event and the Swift handler it calls.
///
/// The C callback argument is unretained: `deinit` frees the event, so no callback can
/// arrive after the owner is gone.
@LoopActor
public class LoopEvent {
    fileprivate var raw: OpaquePointer?
    fileprivate let handler: @LoopActor (Int16) -> Void

    init(loop: Loop, fd: Int32, flags: Int16, handler: @escaping @LoopActor (Int16) -> Void) {
        self.handler = handler
        raw = event_new(loop.base, fd, flags, loopEventTrampoline, Unmanaged.passUnretained(self).toOpaque())
        precondition(raw != nil, "event_new failed")
    }

    fileprivate func fire(_ what: Int16) {
        handler(what)
    }

    /// Adds a descriptor event without a timeout.
    func add() {
        event_add(raw, nil)
    }

    isolated deinit {
        if let raw { event_free(raw) }
    }
}

private let loopEventTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, what, arg in
    let event = Unmanaged<LoopEvent>.fromOpaque(arg!).takeUnretainedValue()
    LoopActor.assumeIsolated {
        // The handler may drop the last other reference to its own event.
        withExtendedLifetime(event) { event.fire(what) }
    }
}

/// A timer on the loop (libevent measures it on CLOCK_MONOTONIC). Re-arm it to repeat.
@LoopActor
public final class Timer: LoopEvent {
    public init(loop: Loop, handler: @escaping @LoopActor () -> Void) {
        super.init(loop: loop, fd: -1, flags: 0) { _ in handler() }
    }

    public func schedule(after seconds: Double) {
        var tv = timeval(seconds: seconds)
        event_add(raw, &tv)
    }

    public func cancel() {
        event_del(raw)
    }

    public var isPending: Bool {
        event_pending(raw, Int16(EV_TIMEOUT), nil) != 0
    }
}

/// An event fired on demand with `activate()`, in the same loop iteration when activated
/// from a callback (libevent runs newly activated events before polling again).
@LoopActor
public final class Wakeup: LoopEvent {
    public init(loop: Loop, handler: @escaping @LoopActor () -> Void) {
        super.init(loop: loop, fd: -1, flags: 0) { _ in handler() }
    }

    public func activate() {
        event_active(raw, Int32(EV_TIMEOUT), 1)
    }
}

/// A persistent signal event (libevent's self-pipe: no work runs in a real signal handler).
@LoopActor
public final class SignalEvent: LoopEvent {
    public init(loop: Loop, signal: Int32, handler: @escaping @LoopActor () -> Void) {
        super.init(loop: loop, fd: signal, flags: Int16(EV_SIGNAL | EV_PERSIST)) { _ in handler() }
        event_add(raw, nil)
    }
}

extension timeval {
    init(seconds: Double) {
        let whole = seconds.rounded(.down)
        self.init(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }
}
