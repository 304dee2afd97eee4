import Conversations
import Hummingbird

/// `/api/users`: the people who answer.
struct UsersController {
    let people: People

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> UserList in UserList(users: try await people.users()) }
        group.post { request, context -> User in
            try await people.createUser(try await request.decodeInput(as: UserInput.self, context: context))
        }
        group.get(":id") { _, context -> User in
            try await people.user(try context.id())
        }
        group.patch(":id") { request, context -> User in
            let id = try context.id()
            return try await people.updateUser(id, try await request.decodeInput(as: UserInput.self, context: context))
        }
        group.post(":id/deactivate") { _, context -> User in
            try await people.deactivateUser(try context.id())
        }
    }
}

struct UserList: ResponseEncodable {
    var users: [User]
}

extension User: ResponseEncodable {}
