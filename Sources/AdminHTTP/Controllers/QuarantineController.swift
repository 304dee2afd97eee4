import Conversations
import Hummingbird

/// `/api/quarantine`: messages held back from the inbox (DMARC quarantine, filter
/// rules), each with why.
struct QuarantineController {
    let queries: ConversationQueries

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> QuarantineList in QuarantineList(messages: try await queries.quarantine()) }
    }
}

struct QuarantineList: ResponseEncodable {
    var messages: [QuarantineItem]
}
