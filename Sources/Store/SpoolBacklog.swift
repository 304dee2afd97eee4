import Metrics
import Synchronization

/// Messages accepted and not yet processed: the `postroom_spool_backlog` gauge. The
/// spool adds what it commits, processing takes away what it files, and processing
/// sets it from the store at the start of each pass (mail spooled by another process,
/// an import, say, is counted from then on).
public final class SpoolBacklog: Sendable {
    let count = Mutex(0)
    let gauge = Gauge(label: "postroom_spool_backlog")

    public init() {}

    public var value: Int { count.withLock { $0 } }

    public func add(_ n: Int) { update { $0 += n } }

    public func remove(_ n: Int) { update { $0 = max(0, $0 - n) } }

    public func set(_ n: Int) { update { $0 = max(0, n) } }

    func update(_ change: (inout Int) -> Void) {
        let now = count.withLock { value -> Int in
            change(&value)
            return value
        }
        gauge.record(now)
    }
}
