import GRDB
import Store

/// Picks who a new conversation goes to, by its inbox's routing rule. Runs inside the
/// filing transaction, so two conversations arriving together cannot both see the same
/// "next" person.
enum Routing {
    struct Assignment {
        var user: Int64?
        var team: Int64?
        var why: String
    }

    static func route(inbox: Int64, _ db: Database) throws -> Assignment? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT routing, routing_target, round_robin_last FROM inbox WHERE id = ?"), arguments: [inbox]) else {
            return nil
        }
        let rule: String = row["routing"]
        let target: Int64? = row["routing_target"]
        switch rule {
        case "user":
            return target.map { Assignment(user: $0, team: nil, why: "inbox routes to user \($0)") }
        case "team":
            return target.map { Assignment(user: nil, team: $0, why: "inbox routes to team \($0)") }
        case "round-robin":
            let members = try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT u.id FROM inbox_member m JOIN user u ON u.id = m.user_id WHERE m.inbox_id = ? AND u.available ORDER BY u.id"),
                arguments: [inbox])
            guard !members.isEmpty else { return nil }
            let last: Int64? = row["round_robin_last"]
            let next = members.first { $0 > (last ?? 0) } ?? members[0]
            try db.run("UPDATE inbox SET round_robin_last = ? WHERE id = ?", [next, inbox])
            return Assignment(user: next, team: nil, why: "round robin among \(members.count) available members")
        case "fewest-open":
            guard let next = try Int64.fetchOne(
                db.cachedStatement(sql: """
                    SELECT u.id FROM inbox_member m JOIN user u ON u.id = m.user_id
                    WHERE m.inbox_id = ? AND u.available
                    ORDER BY (SELECT COUNT(*) FROM conversation c WHERE c.assignee_user_id = u.id AND c.status = 'open'), u.id LIMIT 1
                    """), arguments: [inbox])
            else { return nil }
            return Assignment(user: next, team: nil, why: "fewest open conversations among available members")
        default:
            return nil
        }
    }
}
