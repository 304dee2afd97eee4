import ArgumentParser
import Conversations
import Foundation

/// `postroom user list|create|set|deactivate`: the people who answer, as `/api/users`.
/// Every id here is a user id (as `user list` prints it).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "The people who answer: list, create, change, deactivate (ids are user ids).",
        subcommands: [List.self, Create.self, Set.self, Deactivate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every user, active or not.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON (as GET /api/users answers: {\"users\": [...]}).") var json = false

        func run() async throws {
            let users = try await People(store: try openStore(try loadConfig(global))).users()
            if json { return try printJSON(["users": users]) }
            if users.isEmpty { print("no users") }
            users.forEach(printUser)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (as POST /api/users).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Name, e.g. \"Alice Smith\".") var name: String
        @Option(help: "Mail address (notifications go there).") var email: String
        @Flag(help: "Print the user as JSON.") var json = false

        func run() async throws {
            let people = People(store: try openStore(try loadConfig(global)))
            let user = try await conversationCall { try await people.createUser(UserInput(name: name, email: email)) }
            if json { return try printJSON(user) }
            printUser(user)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user (as PATCH /api/users/ID); what is not given stays.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: Int64
        @Option(help: "New name.") var name: String?
        @Option(help: "New mail address.") var email: String?
        @Flag(inversion: .prefixedNo, help: "Whether routing may pick them.") var available: Bool?
        @Flag(inversion: .prefixedNo, help: "Whether they are told by mail at all.") var notifyByEmail: Bool?
        @Flag(help: "Print the user afterwards as JSON.") var json = false

        func run() async throws {
            let people = People(store: try openStore(try loadConfig(global)))
            let input = UserInput(name: name, email: email, available: available, notifyByEmail: notifyByEmail)
            let user = try await conversationCall { try await people.updateUser(id, input) }
            if json { return try printJSON(user) }
            printUser(user)
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deactivate a person who left (as POST /api/users/ID/deactivate): kept for the history, out of every inbox and team, their open conversations unassigned.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: Int64
        @Flag(help: "Print the user afterwards as JSON.") var json = false

        func run() async throws {
            let people = People(store: try openStore(try loadConfig(global)))
            let user = try await conversationCall { try await people.deactivateUser(id) }
            if json { return try printJSON(user) }
            printUser(user)
        }
    }
}

func printUser(_ u: User) {
    print("\(u.id)\t\(u.name)\t<\(u.email)>\t\(u.active ? (u.available ? "available" : "away") : "deactivated")\tteams \(u.teams.map(String.init).joined(separator: ",").isEmpty ? "-" : u.teams.map(String.init).joined(separator: ","))")
}
