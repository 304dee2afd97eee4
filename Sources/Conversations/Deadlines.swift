import Dispatch
import Synchronization

/// Many timeouts on one timer: "give up on this after N seconds" for every message
/// (auth.timeout before the 250, the filter budget, parse rounds), where almost every
/// one is cancelled long before it is due. A dispatch timer per message cost a timer
/// registration and a wake-up of Dispatch's manager thread each (2-5% of intake's CPU);
/// here adding and cancelling take a lock, and the one timer is re-armed only when the
/// earliest deadline changes.
///
/// Entries are kept in one first-in-first-out list per delay (there are only a few:
/// auth.timeout, processing.budget), so adding is an append and their due times are
/// in order without sorting. Cancelled entries drop their action at once, so what they
/// hold (a whole message) is freed when the work finishes, not when the deadline passes.
public final class Deadlines: Sendable {
    public static let shared = Deadlines()

    struct Queue {
        var entries: [(due: UInt64, id: UInt64)] = []
        var head = 0
    }

    struct State {
        var queues: [UInt64: Queue] = [:]
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
        /// The time the timer is armed for; nil: not armed.
        var armedFor: UInt64?
    }

    let state = Mutex(State())
    let queue = DispatchQueue(label: "postroom.deadlines")
    /// Dispatch sources may be re-armed from any thread; it is done under the lock, so
    /// the last arming is always for the earliest deadline.
    nonisolated(unsafe) let timer: any DispatchSourceTimer

    public init() {
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [weak self] in self?.fire() }
        timer.activate()
    }

    /// Runs `action` (on a Dispatch thread) after `seconds`, unless cancelled first.
    @discardableResult
    public func add(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let delay = UInt64(max(0, min(seconds.isNaN ? 0 : seconds, 1e6)) * 1e9)
        return state.withLock { state -> UInt64 in
            state.nextID += 1
            let id = state.nextID
            state.actions[id] = action
            // Read under the lock: each list's due times never go backwards.
            let due = DispatchTime.now().uptimeNanoseconds &+ delay
            state.queues[delay, default: Queue()].entries.append((due, id))
            if state.armedFor.map({ due < $0 }) ?? true {
                state.armedFor = due
                timer.schedule(deadline: DispatchTime(uptimeNanoseconds: due), leeway: .milliseconds(10))
            }
            return id
        }
    }

    /// The action will not run (if it has not started already).
    public func cancel(_ id: UInt64) {
        _ = state.withLock { $0.actions.removeValue(forKey: id) }
    }

    /// Entries not yet due or cancelled (for tests).
    var pending: Int { state.withLock { $0.actions.count } }

    func fire() {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = state.withLock { state -> [@Sendable () -> Void] in
            var due: [@Sendable () -> Void] = []
            var next: UInt64?
            for delay in Array(state.queues.keys) {
                guard var list = state.queues.removeValue(forKey: delay) else { continue }
                while list.head < list.entries.count {
                    let entry = list.entries[list.head]
                    if entry.due <= now {
                        if let action = state.actions.removeValue(forKey: entry.id) { due.append(action) }
                    } else if state.actions[entry.id] != nil {
                        break  // the first live entry not yet due
                    }
                    list.head += 1
                }
                if list.head == list.entries.count { continue }  // empty: dropped
                // Compact now and then, so a list does not grow with every entry ever added.
                if list.head > 1024, list.head * 2 > list.entries.count {
                    list.entries.removeFirst(list.head)
                    list.head = 0
                }
                let first = list.entries[list.head].due
                next = min(next ?? first, first)
                state.queues[delay] = list
            }
            state.armedFor = next
            if let next { timer.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(10)) }
            return due
        }
        for action in due { DispatchQueue.global().async(execute: action) }
    }
}
