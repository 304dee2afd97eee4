import Dispatch
import Synchronization

/// Many timeouts on one timer: "give up on this after N seconds" for every message
/// (auth.timeout before the 250, the filter budget), where almost every one is
/// cancelled long before it is due. A dispatch timer per message cost a timer
/// registration and a wake-up of Dispatch's manager thread each (2-5% of intake's CPU);
/// here adding and cancelling take a lock, and the one timer is re-armed only when the
/// earliest deadline changes.
///
/// Cancelled entries drop their action at once, so what they hold (a whole message) is
/// freed when the work finishes, not when the deadline passes.
public final class Deadlines: Sendable {
    public static let shared = Deadlines()

    struct State {
        /// (due, id), in due order (ties keep insertion order).
        var order: [(due: UInt64, id: UInt64)] = []
        var head = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
        /// The time the timer is armed for; nil: not armed.
        var armedFor: UInt64?
    }

    let state = Mutex(State())
    let queue = DispatchQueue(label: "postroom.deadlines")
    /// Dispatch sources may be re-armed from any thread.
    nonisolated(unsafe) let timer: any DispatchSourceTimer

    public init() {
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [weak self] in self?.fire() }
        timer.activate()
    }

    /// Runs `action` (on a Dispatch thread) after `seconds`, unless cancelled first.
    @discardableResult
    public func add(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let delay = UInt64(max(0, min(seconds, 1e6)) * 1e9)
        let due = DispatchTime.now().uptimeNanoseconds &+ delay
        let (id, rearm) = state.withLock { state -> (UInt64, Bool) in
            state.nextID += 1
            let id = state.nextID
            state.actions[id] = action
            // Usually due last (the same timeout for every message): appended.
            var index = state.order.count
            while index > state.head, state.order[index - 1].due > due { index -= 1 }
            state.order.insert((due, id), at: index)
            guard state.armedFor.map({ due < $0 }) ?? true else { return (id, false) }
            state.armedFor = due
            return (id, true)
        }
        if rearm { timer.schedule(deadline: DispatchTime(uptimeNanoseconds: due), leeway: .milliseconds(10)) }
        return id
    }

    /// The action will not run (if it has not started already).
    public func cancel(_ id: UInt64) {
        _ = state.withLock { $0.actions.removeValue(forKey: id) }
    }

    /// Entries not yet due or cancelled (for tests).
    var pending: Int { state.withLock { $0.actions.count } }

    func fire() {
        let now = DispatchTime.now().uptimeNanoseconds
        let (due, next) = state.withLock { state -> ([@Sendable () -> Void], UInt64?) in
            var due: [@Sendable () -> Void] = []
            while state.head < state.order.count, state.order[state.head].due <= now {
                if let action = state.actions.removeValue(forKey: state.order[state.head].id) { due.append(action) }
                state.head += 1
            }
            // Compact now and then, so the list does not grow with every message ever added.
            if state.head > 1024, state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            // Skip over cancelled entries to find what is really next.
            while state.head < state.order.count, state.actions[state.order[state.head].id] == nil { state.head += 1 }
            state.armedFor = state.head < state.order.count ? state.order[state.head].due : nil
            return (due, state.armedFor)
        }
        if let next { timer.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(10)) }
        for action in due { DispatchQueue.global().async(execute: action) }
    }
}
