import Hummingbird
import Outbound

/// `/api/queue`: mail on its way out.
struct QueueController {
    let queue: OutboundQueue

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> QueueList in QueueList(deliveries: try await queue.list()) }
        group.post("retry") { _, _ -> Retried in Retried(retried: try await queue.retry(includeFailed: false)) }
    }
}

struct QueueList: ResponseEncodable {
    var deliveries: [OutboundQueue.Item]
}

struct Retried: ResponseEncodable {
    var retried: Int
}

struct Removed: ResponseEncodable {
    var removed: String
}
