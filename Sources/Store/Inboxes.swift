import Foundation
import GRDB
import NetAddress

/// An inbox as the CLI and API show it.
public struct Inbox: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var slug: String
    public var addresses: [String]
    public var fallbackAddress: String
    /// ISO 8601, as every time the API and the CLI's JSON show.
    public var createdAt: String
    /// Thread a reference even from a sender who is not a participant.
    public var trustReferences: Bool
    /// Give each new conversation a ticket (its number is the `[#n]` subject tag).
    public var createTickets: Bool
    /// How new conversations are assigned: none, user, team, round-robin, fewest-open.
    public var routing: String
    /// The user or team id for routing `user` / `team`.
    public var routingTarget: Int64?
    /// Send an RFC 3834 acknowledgement for each new conversation.
    public var autoAcknowledge: Bool
    /// DMARC fail under p=reject: refuse, spam or mark; nil follows auth.dmarc-reject.
    public var dmarcReject: String? = nil
}

extension Store {
    /// Creates an inbox with its team addresses and a fresh fallback address
    /// `<slug>-<4 random>@<fallbackDomain>`.
    @discardableResult
    public func createInbox(name: String, slug: String? = nil, addresses: [String], fallbackDomain: String) async throws -> Inbox {
        // A name with no letter or digit of a-z/0-9 ("Ünterstützung" keeps some, "支持" none) gets "inbox".
        let slug = slug ?? { let made = Self.slugify(name); return made.isEmpty ? "inbox" : made }()
        guard name.contains(where: { !$0.isWhitespace }) else { throw StoreError.invalidSetting("name must not be blank") }
        guard Self.isValidSlug(slug) else { throw StoreError.invalidSlug(slug) }
        let canonical = try addresses.map(Self.canonicalAddress)
        let id: Int64 = try await database.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM inbox WHERE slug = ?", arguments: [slug]) == true {
                throw StoreError.slugTaken(slug)
            }
            for address in canonical { try Self.ensureFree(db, address) }
            let now = Self.nowMillis()
            try db.execute(sql: "INSERT INTO inbox (name, slug, created_at) VALUES (?, ?, ?)", arguments: [name, slug, now])
            let id = db.lastInsertedRowID
            var fallback: String
            repeat {
                fallback = "\(slug)-\(Self.randomToken(4))@\(fallbackDomain.lowercased())"
            } while try Bool.fetchOne(db, sql: "SELECT 1 FROM inbox_address WHERE address = ?", arguments: [fallback]) == true
            try db.execute(
                sql: "INSERT INTO inbox_address (inbox_id, address, kind, created_at) VALUES (?, ?, 'fallback', ?)",
                arguments: [id, fallback, now])
            for address in canonical {
                try db.execute(
                    sql: "INSERT INTO inbox_address (inbox_id, address, kind, created_at) VALUES (?, ?, 'team', ?)",
                    arguments: [id, address, now])
            }
            return id
        }
        return try await inbox(id: id)!
    }

    public func listInboxes() async throws -> [Inbox] {
        try await database.read { db in try Self.fetchInboxes(db, whereSQL: "", arguments: []) }
    }

    public func inbox(slug: String) async throws -> Inbox? {
        try await database.read { db in try Self.fetchInboxes(db, whereSQL: "WHERE i.slug = ?", arguments: [slug]).first }
    }

    public func inbox(id: Int64) async throws -> Inbox? {
        try await database.read { db in try Self.fetchInboxes(db, whereSQL: "WHERE i.id = ?", arguments: [id]).first }
    }

    public func addAddress(_ address: String, toInbox slug: String) async throws -> Inbox {
        let address = try Self.canonicalAddress(address)
        let id: Int64 = try await database.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw StoreError.inboxNotFound(slug)
            }
            try Self.ensureFree(db, address)
            try db.execute(
                sql: "INSERT INTO inbox_address (inbox_id, address, kind, created_at) VALUES (?, ?, 'team', ?)",
                arguments: [id, address, Self.nowMillis()])
            return id
        }
        return try await inbox(id: id)!
    }

    public func removeAddress(_ address: String, fromInbox slug: String) async throws -> Inbox {
        let address = try Self.canonicalAddress(address)
        let id: Int64 = try await database.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw StoreError.inboxNotFound(slug)
            }
            guard let kind = try String.fetchOne(
                db, sql: "SELECT kind FROM inbox_address WHERE inbox_id = ? AND address = ?", arguments: [id, address])
            else { throw StoreError.addressNotFound(address) }
            if kind == "fallback" { throw StoreError.cannotRemoveFallback(address) }
            try db.execute(sql: "DELETE FROM inbox_address WHERE inbox_id = ? AND address = ?", arguments: [id, address])
            return id
        }
        return try await inbox(id: id)!
    }

    /// Changes an inbox's settings; nil leaves a setting as it is.
    public func updateInbox(
        slug: String, name: String? = nil, trustReferences: Bool? = nil, createTickets: Bool? = nil, autoAcknowledge: Bool? = nil,
        autoAcknowledgeText: String? = nil, dmarcReject: String?? = nil
    ) async throws -> Inbox {
        if let action = dmarcReject ?? nil, !["refuse", "spam", "mark"].contains(action) { throw StoreError.invalidSetting("dmarcReject must be refuse, spam, mark or default, got '\(action)'") }
        let id: Int64 = try await database.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw StoreError.inboxNotFound(slug)
            }
            if let name {
                guard name.contains(where: { !$0.isWhitespace }) else { throw StoreError.invalidSetting("name must not be blank") }
                try db.execute(sql: "UPDATE inbox SET name = ? WHERE id = ?", arguments: [name, id])
            }
            if let trustReferences { try db.execute(sql: "UPDATE inbox SET trust_references = ? WHERE id = ?", arguments: [trustReferences, id]) }
            if let createTickets { try db.execute(sql: "UPDATE inbox SET create_tickets = ? WHERE id = ?", arguments: [createTickets, id]) }
            if let autoAcknowledge { try db.execute(sql: "UPDATE inbox SET auto_acknowledge = ? WHERE id = ?", arguments: [autoAcknowledge, id]) }
            if let autoAcknowledgeText { try db.execute(sql: "UPDATE inbox SET auto_acknowledge_text = ? WHERE id = ?", arguments: [autoAcknowledgeText, id]) }
            if let dmarcReject { try db.execute(sql: "UPDATE inbox SET dmarc_reject = ? WHERE id = ?", arguments: [dmarcReject, id]) }
            return id
        }
        return try await inbox(id: id)!
    }

    /// Deletes an inbox that holds no mail: its addresses stop being accepted at once
    /// (the SMTP server reloads its directory), its members, settings and connected
    /// mailboxes go with it. An inbox that holds mail (conversations, or messages still
    /// to be filed) is refused with what to do instead: mail is never deleted by
    /// removing the place it was filed in.
    public func deleteInbox(slug: String) async throws {
        try await database.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM inbox WHERE slug = ?", arguments: [slug]) else {
                throw StoreError.inboxNotFound(slug)
            }
            let conversations = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conversation WHERE inbox_id = ?", arguments: [id]) ?? 0
            let messages = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT message_id) FROM message_recipient WHERE inbox_id = ?", arguments: [id]) ?? 0
            guard conversations == 0 && messages == 0 else {
                throw StoreError.inboxHoldsMail(slug, conversations: conversations, messages: messages)
            }
            for table in ["redirect_request", "vacation_request", "duplicate_delivery"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE inbox_id = ?", arguments: [id])
            }
            try db.execute(sql: "DELETE FROM inbox WHERE id = ?", arguments: [id])
        }
    }

    /// Creates the first inbox of a fresh data dir so the first run can receive mail.
    public func ensureDefaultInbox(hostname: String, fallbackDomain: String) async throws -> Inbox? {
        let count = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inbox") ?? 0 }
        guard count == 0 else { return nil }
        return try await createInbox(name: "Support", slug: "support", addresses: ["support@\(hostname)"], fallbackDomain: fallbackDomain)
    }

    /// All owned addresses and the inbox each reaches, for the SMTP server's RCPT checks
    /// (which builds its `RecipientDirectory` from them).
    public func recipientAddresses() async throws -> RecipientAddresses {
        try await database.read { db in
            let version = try Int64.fetchOne(db, sql: "SELECT version FROM directory_version") ?? 0
            var addresses: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT address, inbox_id FROM inbox_address") {
                addresses[row["address"]] = row["inbox_id"]
            }
            let first = try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM inbox")
            return RecipientAddresses(version: version, addresses: addresses, postmasterInbox: first)
        }
    }

    public func directoryVersion() async throws -> Int64 {
        try await database.read { db in try Int64.fetchOne(db, sql: "SELECT version FROM directory_version") ?? 0 }
    }

    // MARK: - Helpers

    static func fetchInboxes(_ db: Database, whereSQL: String, arguments: StatementArguments) throws -> [Inbox] {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT i.id, i.name, i.slug, i.created_at, i.trust_references, i.create_tickets, i.routing, i.routing_target, i.auto_acknowledge, i.dmarc_reject FROM inbox i \(whereSQL) ORDER BY i.id",
            arguments: arguments)
        return try rows.map { row in
            let id: Int64 = row["id"]
            let addressRows = try Row.fetchAll(
                db, sql: "SELECT address, kind FROM inbox_address WHERE inbox_id = ? ORDER BY id", arguments: [id])
            let team = addressRows.filter { $0["kind"] == "team" }.map { $0["address"] as String }
            let fallback = addressRows.first { $0["kind"] == "fallback" }.map { $0["address"] as String } ?? ""
            return Inbox(
                id: id, name: row["name"], slug: row["slug"], addresses: team, fallbackAddress: fallback, createdAt: Store.iso(row["created_at"]),
                trustReferences: row["trust_references"], createTickets: row["create_tickets"], routing: row["routing"],
                routingTarget: row["routing_target"], autoAcknowledge: row["auto_acknowledge"], dmarcReject: row["dmarc_reject"])
        }
    }

    static func ensureFree(_ db: Database, _ address: String) throws {
        if let owner = try String.fetchOne(
            db, sql: "SELECT i.slug FROM inbox_address a JOIN inbox i ON i.id = a.inbox_id WHERE a.address = ?",
            arguments: [address])
        {
            throw StoreError.addressTaken(address, inbox: owner)
        }
    }

    /// Lower-cases and validates `local@domain`; a `+` tag is not allowed in an inbox
    /// address because `local+tag@domain` already reaches `local@domain`.
    public static func canonicalAddress(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 254, let parsed = MailboxAddress.parse(Substring(trimmed)), !parsed.domain.hasPrefix("["),
            parsed.domain.contains("." as Character) || parsed.domain.lowercased() == "localhost",
            APIAddress.domainFits(parsed.domain)
        else { throw StoreError.invalidAddress(text) }
        return parsed.canonical
    }

    public static func isValidSlug(_ slug: String) -> Bool {
        !slug.isEmpty && slug.count <= 40 && slug.first != "-"
            && slug.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    public static func slugify(_ name: String) -> String {
        var slug = ""
        for scalar in name.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty && slug.last != "-" {
                slug.append("-")
            }
        }
        while slug.last == "-" { slug.removeLast() }
        return String(slug.prefix(40))
    }

    static func randomToken(_ length: Int) -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        return String((0..<length).map { _ in alphabet.randomElement()! })
    }
}

/// The owned addresses as of one `directory_version`.
public struct RecipientAddresses: Sendable {
    public var version: Int64
    /// Canonical address → inbox id.
    public var addresses: [String: Int64]
    /// Where postmaster@ goes when no inbox owns it (the first inbox).
    public var postmasterInbox: Int64?
}

extension Store {
    /// The inbox's addresses in the order mail of ours uses them: its team addresses
    /// (oldest first), then its fallback address. The first is the inbox's primary
    /// address: the sender of its replies and automatic mail, and the recipient of the
    /// mail pulled from its connected mailboxes.
    public static func sendingAddresses(inbox: Int64, _ db: Database) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT address FROM inbox_address WHERE inbox_id = ? ORDER BY kind = 'fallback', id"), arguments: [inbox])
    }
}
