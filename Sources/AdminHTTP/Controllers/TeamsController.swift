import Conversations
import Hummingbird

/// `/api/teams`: groups of users a conversation can be assigned to.
struct TeamsController {
    let people: People

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ -> TeamList in TeamList(teams: try await people.teams()) }
        group.post { request, context -> Team in
            let input = try await request.decodeInput(as: TeamInput.self, context: context)
            return try await people.createTeam(name: input.name, members: input.members ?? [])
        }
        group.put(":id/members") { request, context -> Team in
            let id = try context.id()
            return try await people.setTeamMembers(id, try await request.decodeInput(as: Members.self, context: context).members)
        }
    }
}

struct TeamList: ResponseEncodable {
    var teams: [Team]
}

struct TeamInput: Decodable {
    var name: String
    var members: [Int64]?
}

extension Team: ResponseEncodable {}
