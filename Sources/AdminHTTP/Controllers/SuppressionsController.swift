import Hummingbird
import Outbound

/// `/api/suppressions`: addresses automatic mail no longer goes to (hard bounces,
/// complaints), and lifting one.
struct SuppressionsController {
    let suppressions: Suppressions

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> SuppressionList in
            SuppressionList(suppressions: try await suppressions.list())
        }
        group.delete(":email") { _, context -> Removed in
            let email = try context.parameters.require("email")
            try await suppressions.remove(email)
            return Removed(removed: email.lowercased())
        }
    }
}

struct SuppressionList: ResponseEncodable {
    var suppressions: [Suppression]
}
