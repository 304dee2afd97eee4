import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Threads for work that must not take CPU from intake: parsing spooled mail. They
/// run at a lower scheduling priority (nice 10 on Linux), so during a burst the SMTP
/// sessions and the spool's commits get the cores first and processing uses what is
/// left, then catches up; when intake is quiet they run at full speed all the same
/// (nice only matters when threads compete for a core).
///
/// A thread is added whenever work waits and none is idle (up to `limit`), as
/// Dispatch does: a parse past its budget keeps its thread until it ends, and the
/// next rounds must not queue behind it.
final class BackgroundWorkers: Sendable {
    static let shared = BackgroundWorkers(niceness: 10, limit: 64)
    /// At the ordinary priority: for mail that has waited its processing.defer-under-intake
    /// already, whose parse must not starve behind a burst that goes on (its budget is
    /// wall-clock time).
    static let ordinary = BackgroundWorkers(niceness: 0, limit: 64)

    struct State {
        var queue: [@Sendable () -> (@Sendable () -> Void)?] = []
        var idle = 0
        var threads = 0
    }

    /// Threads started so far (for tests).
    var threads: Int { state.withLock { $0.threads } }

    let niceness: Int32
    let limit: Int
    let state = Mutex(State())
    let ready = DispatchSemaphore(value: 0)

    init(niceness: Int32, limit: Int) {
        self.niceness = niceness
        self.limit = limit
    }

    /// Runs `work` on a background thread. What `work` returns runs after the thread
    /// counts itself idle again: a round's last parse resumes whoever waits for the round
    /// there, so the next round finds the threads free instead of adding new ones.
    func submit(_ work: @escaping @Sendable () -> (@Sendable () -> Void)?) {
        let spawn = state.withLock { state -> Bool in
            state.queue.append(work)
            guard state.queue.count > state.idle, state.threads < limit else { return false }
            // Counted idle from now: a thread still starting will take work too.
            state.threads += 1
            state.idle += 1
            return true
        }
        if spawn {
            let thread = Thread { [self] in self.loop() }
            thread.name = "postroom-background"
            thread.start()
        }
        ready.signal()
    }

    private func loop() {
        #if os(Linux)
            // On Linux a thread has its own nice value, and `who` 0 is the calling
            // thread (setpriority(2), notes), not the whole process.
            if niceness != 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
        #endif
        while true {
            ready.wait()
            let work = state.withLock { state -> (@Sendable () -> (@Sendable () -> Void)?)? in
                state.idle -= 1
                return state.queue.isEmpty ? nil : state.queue.removeFirst()
            }
            let then = work?()
            state.withLock { $0.idle += 1 }
            then?()
        }
    }
}
