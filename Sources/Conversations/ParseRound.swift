import Dispatch
import Synchronization

/// One round of parsing: a few messages (a core's worth) started together, each on a
/// thread of its own, with one shared deadline. What is done by the deadline is
/// returned; what is not is nil (its thread runs to its end in the background, since
/// nothing can stop it, but nobody waits for it).
///
/// One deadline and one wake-up per round, not a task, a timer and a waiter per message:
/// at a few hundred microseconds a parse, scheduling was a tenth of processing's time.
/// The parses run on BackgroundWorkers' lower-priority threads; the deadline is one of
/// the shared Deadlines, cancelled when the round ends first.
enum ParseRound {
    /// The round's results and its waiter; whoever finishes the round (the last
    /// parse or the deadline) takes both.
    struct State<Output: Sendable> {
        var results: [Output?]
        var remaining: Int
        var waiter: CheckedContinuation<[Output?], Never>?

        mutating func finish() -> (CheckedContinuation<[Output?], Never>, [Output?])? {
            guard let waiter else { return nil }
            self.waiter = nil
            defer { results = [] }
            return (waiter, results)
        }
    }

    static func run<Input: Sendable, Output: Sendable>(
        _ inputs: [Input], budget: Duration, _ work: @escaping @Sendable (Input) -> Output, on workers: BackgroundWorkers = .shared
    ) async -> [Output?] {
        guard !inputs.isEmpty else { return [] }
        let state = Mutex(State<Output>(results: Array(repeating: nil, count: inputs.count), remaining: inputs.count, waiter: nil))
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Output?], Never>) in
            state.withLock { $0.waiter = continuation }
            let (seconds, attoseconds) = budget.components
            let interval = max(0, Double(seconds) + Double(attoseconds) / 1e18)
            let deadline = Deadlines.shared.add(after: interval) {
                if let (waiter, results) = state.withLock({ $0.finish() }) { waiter.resume(returning: results) }
            }
            for (index, input) in inputs.enumerated() {
                workers.submit {
                    let output = work(input)
                    let finished = state.withLock { state -> (CheckedContinuation<[Output?], Never>, [Output?])? in
                        guard state.waiter != nil else { return nil }
                        state.results[index] = output
                        state.remaining -= 1
                        return state.remaining == 0 ? state.finish() : nil
                    }
                    guard let (waiter, results) = finished else { return nil }
                    Deadlines.shared.cancel(deadline)
                    return { waiter.resume(returning: results) }
                }
            }
        }
    }
}
