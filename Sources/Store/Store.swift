import Foundation
import GRDB
import Synchronization

/// The SQLite store under the data dir. One file, WAL, synchronous=FULL: a commit is
/// on disk before it returns, which is what lets the SMTP server promise a 250.
/// Several processes may open it at once (the server and CLI subcommands).
public final class Store: Sendable {
    public let database: DatabasePool
    public let path: String
    /// Accepted and not yet processed, for the gauge.
    public let backlog = SpoolBacklog()
    /// Spool commits waiting for SQLite's single writer: processing ends its filing
    /// transaction early while any wait, so intake is never held for long.
    public let intakeWaiting = Atomic<Int>(0)
    /// Until when (DispatchTime uptime, ns) the spool counts as under a burst: it
    /// committed several messages at once, or more were waiting when it finished.
    /// Processing defers to intake meanwhile (processing.defer-under-intake).
    public let intakeBusyUntil = Atomic<UInt64>(0)

    /// Intake is taking mail faster than one commit at a time.
    public var intakeIsBusy: Bool {
        intakeBusyUntil.load(ordering: .relaxed) > DispatchTime.now().uptimeNanoseconds
    }

    /// Copies the WAL back into the file beside the writer (see WALCheckpointer).
    let checkpointer: WALCheckpointer

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let checkpointer = WALCheckpointer(path: path)
        configuration.prepareDatabase { db in
            checkpointer.install(on: db)
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // When the log starts over, its file is cut back to this (the background
            // checkpoints let it grow to 16,000 pages under a steady writer).
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        self.path = path
        self.checkpointer = checkpointer
        self.database = try DatabasePool(path: path, configuration: configuration)
        // An older binary on a newer store would write what the newer schema forbids
        // (since v20, search rows it removes twice): it refuses to start instead.
        if try database.read({ db in try Self.migrator.hasBeenSuperseded(db) }) { throw StoreError.newerStore(path) }
        try Self.migrator.migrate(database)
    }

    deinit {
        checkpointer.close()
    }

    /// Opens (creating when needed) `postroom.sqlite` in the data dir.
    ///
    /// Mail is private: the process umask becomes 077 (so the database, its WAL, keys and
    /// tokens are created 0600, never chmod-ed afterwards), the data dir is 0700, and
    /// files left readable by an older version are tightened.
    public static func open(dataDir: String) throws -> Store {
        makePrivate()
        try FileManager.default.createDirectory(
            atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(dataDir, 0o700)
        let path = (dataDir as NSString).appendingPathComponent("postroom.sqlite")
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            chmod(file, 0o600)
        }
        return try Store(path: path)
    }

    /// Files this process creates from now on are readable by its user only.
    public static func makePrivate() {
        umask(0o077)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-inboxes-and-spool") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        slug TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE inbox_address (
                        id INTEGER PRIMARY KEY,
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                        address TEXT NOT NULL UNIQUE,
                        kind TEXT NOT NULL CHECK (kind IN ('team', 'fallback')),
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX inbox_address_inbox ON inbox_address(inbox_id);
                    CREATE TABLE directory_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
                    INSERT INTO directory_version VALUES (1, 1);
                    CREATE TRIGGER inbox_address_insert AFTER INSERT ON inbox_address
                        BEGIN UPDATE directory_version SET version = version + 1; END;
                    CREATE TRIGGER inbox_address_delete AFTER DELETE ON inbox_address
                        BEGIN UPDATE directory_version SET version = version + 1; END;
                    CREATE TRIGGER inbox_address_update AFTER UPDATE ON inbox_address
                        BEGIN UPDATE directory_version SET version = version + 1; END;

                    CREATE TABLE message (
                        id INTEGER PRIMARY KEY,
                        queue_id TEXT NOT NULL UNIQUE,
                        received_at INTEGER NOT NULL,          -- Unix time, milliseconds
                        channel TEXT NOT NULL DEFAULT 'smtp',
                        reverse_path TEXT NOT NULL,            -- '' for the null path <>
                        client_ip TEXT NOT NULL,
                        helo TEXT NOT NULL,
                        protocol TEXT NOT NULL,
                        tls INTEGER NOT NULL,
                        smtputf8 INTEGER NOT NULL,
                        body_type TEXT,
                        size INTEGER NOT NULL,
                        received_header TEXT NOT NULL,
                        raw BLOB NOT NULL,                     -- exactly as received
                        state TEXT NOT NULL DEFAULT 'spooled'
                    );
                    CREATE TABLE message_recipient (
                        message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        address TEXT NOT NULL,                 -- as the client wrote it
                        canonical TEXT NOT NULL,               -- inbox address matched
                        tag TEXT,
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        PRIMARY KEY (message_id, position)
                    );
                    CREATE INDEX message_recipient_inbox ON message_recipient(inbox_id, message_id);
                    """)
        }
        migrator.registerMigration("v2-conversations") { db in
            try db.execute(
                sql: """
                    -- What processing learned from each message (parsed once, kept for the timeline).
                    ALTER TABLE message ADD COLUMN processed_at INTEGER;
                    ALTER TABLE message ADD COLUMN header_message_id TEXT;
                    ALTER TABLE message ADD COLUMN subject TEXT;
                    ALTER TABLE message ADD COLUMN from_address TEXT;
                    ALTER TABLE message ADD COLUMN from_name TEXT;
                    ALTER TABLE message ADD COLUMN sent_at INTEGER;
                    ALTER TABLE message ADD COLUMN body_text TEXT;
                    ALTER TABLE message ADD COLUMN quoted_text TEXT;
                    ALTER TABLE message ADD COLUMN attachments TEXT;      -- JSON
                    ALTER TABLE message ADD COLUMN warnings TEXT;         -- JSON array
                    ALTER TABLE message ADD COLUMN automatic TEXT;        -- why it is automatic mail, or NULL
                    ALTER TABLE message ADD COLUMN body_hash TEXT;
                    ALTER TABLE message ADD COLUMN duplicate_of INTEGER REFERENCES message(id);
                    ALTER TABLE message ADD COLUMN quarantine_reason TEXT;  -- set when a person should look at it
                    CREATE INDEX message_state ON message(state, id);
                    CREATE INDEX message_sender_hash ON message(from_address, body_hash);

                    ALTER TABLE inbox ADD COLUMN trust_references INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE inbox ADD COLUMN create_tickets INTEGER NOT NULL DEFAULT 0;

                    CREATE TABLE contact (
                        id INTEGER PRIMARY KEY,
                        email TEXT NOT NULL UNIQUE,            -- lower-case
                        name TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE TABLE conversation (
                        id INTEGER PRIMARY KEY,
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        subject TEXT,
                        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'snoozed', 'spam')),
                        contact_id INTEGER REFERENCES contact(id),
                        linked_conversation_id INTEGER REFERENCES conversation(id),
                        created_at INTEGER NOT NULL,
                        last_message_at INTEGER NOT NULL
                    );
                    CREATE INDEX conversation_inbox ON conversation(inbox_id, status, last_message_at);
                    CREATE INDEX conversation_contact ON conversation(contact_id);
                    CREATE TABLE conversation_participant (
                        conversation_id INTEGER NOT NULL REFERENCES conversation(id),
                        email TEXT NOT NULL,
                        PRIMARY KEY (conversation_id, email)
                    ) WITHOUT ROWID;
                    -- A message as it stands in one inbox's conversation, with the rule that put it there.
                    CREATE TABLE entry (
                        id INTEGER PRIMARY KEY,
                        conversation_id INTEGER NOT NULL REFERENCES conversation(id),
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        thread_rule TEXT NOT NULL,
                        thread_detail TEXT,
                        created_at INTEGER NOT NULL,
                        UNIQUE (message_id, inbox_id)
                    );
                    CREATE INDEX entry_conversation ON entry(conversation_id, id);
                    -- Message-IDs known per inbox (received and, later, sent), for threading by references.
                    CREATE TABLE message_id_index (
                        inbox_id INTEGER NOT NULL,
                        header_message_id TEXT NOT NULL,
                        conversation_id INTEGER NOT NULL REFERENCES conversation(id),
                        message_id INTEGER REFERENCES message(id),
                        PRIMARY KEY (inbox_id, header_message_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE duplicate_delivery (
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        original_message_id INTEGER NOT NULL REFERENCES message(id),
                        reason TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (message_id, inbox_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE ticket (
                        number INTEGER PRIMARY KEY,
                        conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversation(id),
                        stage TEXT NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'waiting-on-contact', 'waiting-on-us', 'closed')),
                        priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
                        created_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v3-bounces") { db in
            try db.execute(
                sql: """
                    -- One row per recipient a delivery status notification reports on.
                    CREATE TABLE bounce (
                        id INTEGER PRIMARY KEY,
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        conversation_id INTEGER REFERENCES conversation(id),
                        recipient TEXT NOT NULL,
                        action TEXT NOT NULL,
                        status TEXT NOT NULL,
                        diagnostic TEXT,
                        original_message_id TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX bounce_message ON bounce(message_id);
                    CREATE INDEX bounce_conversation ON bounce(conversation_id);
                    -- Addresses that hard-bounced: nothing is sent to them (outbound checks this).
                    CREATE TABLE suppression (
                        email TEXT PRIMARY KEY,
                        reason TEXT NOT NULL,
                        status TEXT,
                        bounce_message_id INTEGER REFERENCES message(id),
                        created_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v4-people-routing-timeline") { db in
            try db.execute(
                sql: """
                    CREATE TABLE user (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        email TEXT NOT NULL UNIQUE,
                        avatar_url TEXT,
                        meeting_link TEXT,
                        available INTEGER NOT NULL DEFAULT 1,
                        notify_email INTEGER NOT NULL DEFAULT 1,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE team (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
                    CREATE TABLE team_member (
                        team_id INTEGER NOT NULL REFERENCES team(id) ON DELETE CASCADE,
                        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                        PRIMARY KEY (team_id, user_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE inbox_member (
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                        user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                        PRIMARY KEY (inbox_id, user_id)
                    ) WITHOUT ROWID;
                    ALTER TABLE inbox ADD COLUMN routing TEXT NOT NULL DEFAULT 'none'
                        CHECK (routing IN ('none', 'user', 'team', 'round-robin', 'fewest-open'));
                    ALTER TABLE inbox ADD COLUMN routing_target INTEGER;
                    ALTER TABLE inbox ADD COLUMN round_robin_last INTEGER;
                    ALTER TABLE conversation ADD COLUMN assignee_user_id INTEGER REFERENCES user(id);
                    ALTER TABLE conversation ADD COLUMN assignee_team_id INTEGER REFERENCES team(id);
                    ALTER TABLE conversation ADD COLUMN snoozed_until INTEGER;
                    CREATE INDEX conversation_assignee ON conversation(assignee_user_id, status);
                    CREATE INDEX conversation_team ON conversation(assignee_team_id, status);
                    ALTER TABLE ticket ADD COLUMN owner_user_id INTEGER REFERENCES user(id);
                    -- Everything on a conversation's timeline that is not a message: comments,
                    -- assignments, status and ticket changes. Never sent to the customer.
                    CREATE TABLE event (
                        id INTEGER PRIMARY KEY,
                        conversation_id INTEGER NOT NULL REFERENCES conversation(id),
                        kind TEXT NOT NULL CHECK (kind IN ('comment', 'assignment', 'status', 'ticket')),
                        author_user_id INTEGER REFERENCES user(id),
                        body TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX event_conversation ON event(conversation_id, id);
                    CREATE TABLE mention (
                        event_id INTEGER NOT NULL REFERENCES event(id),
                        user_id INTEGER NOT NULL REFERENCES user(id),
                        PRIMARY KEY (event_id, user_id)
                    ) WITHOUT ROWID;
                    -- Where a message being reprocessed was filed before: if it again starts a
                    -- conversation, it goes back into that one (keeping its comments and events).
                    CREATE TABLE reprocess_hint (
                        message_id INTEGER NOT NULL,
                        inbox_id INTEGER NOT NULL,
                        conversation_id INTEGER NOT NULL,
                        PRIMARY KEY (message_id, inbox_id)
                    ) WITHOUT ROWID;
                    -- Full-text search over subject and visible text, one row per message entry.
                    CREATE VIRTUAL TABLE message_search USING fts5(subject, body, conversation_id UNINDEXED, tokenize = 'unicode61');
                    """)
        }
        migrator.registerMigration("v5-merge-split-contacts") { db in
            try db.execute(
                sql: """
                    -- A merged conversation stays as a pointer, so its references and ticket tag
                    -- still lead to where its messages went.
                    ALTER TABLE conversation ADD COLUMN merged_into INTEGER REFERENCES conversation(id);
                    -- Every address a contact is known by (merging contacts joins their addresses).
                    CREATE TABLE contact_email (
                        email TEXT PRIMARY KEY,
                        contact_id INTEGER NOT NULL REFERENCES contact(id)
                    ) WITHOUT ROWID;
                    CREATE INDEX contact_email_contact ON contact_email(contact_id);
                    INSERT INTO contact_email (email, contact_id) SELECT email, id FROM contact;
                    """)
        }
        migrator.registerMigration("v6-filters") { db in
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN filter_results TEXT;     -- JSON per inbox slug, decided before the 250
                    ALTER TABLE entry ADD COLUMN discarded INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE entry ADD COLUMN header_edits TEXT;         -- editheader changes to the stored view (JSON)
                    ALTER TABLE conversation ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE conversation ADD COLUMN read INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE conversation ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE conversation_label (
                        conversation_id INTEGER NOT NULL REFERENCES conversation(id),
                        label TEXT NOT NULL,
                        PRIMARY KEY (conversation_id, label)
                    ) WITHOUT ROWID;
                    -- Copies a filter asked to send on; outbound (issue #5) delivers them.
                    CREATE TABLE redirect_request (
                        id INTEGER PRIMARY KEY,
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        address TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending',
                        created_at INTEGER NOT NULL
                    );
                    -- Vacation replies to send (outbound delivers them), at most one per sender per period.
                    CREATE TABLE vacation_request (
                        id INTEGER PRIMARY KEY,
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id),
                        recipient TEXT NOT NULL,
                        subject TEXT,
                        from_address TEXT,
                        reason TEXT NOT NULL,
                        handle TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending',
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX vacation_request_sender ON vacation_request(inbox_id, recipient, handle, created_at);
                    """)
        }
        migrator.registerMigration("v7-outbound") { db in
            try db.execute(
                sql: """
                    -- One row per (outbound message, recipient): delivered once, retried on temporary failure.
                    CREATE TABLE outbound (
                        id INTEGER PRIMARY KEY,
                        message_id INTEGER NOT NULL REFERENCES message(id),
                        recipient TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'deferred', 'delivered', 'failed')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        last_reply TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        UNIQUE (message_id, recipient)
                    );
                    CREATE INDEX outbound_due ON outbound(state, next_attempt_at);
                    """)
        }
        migrator.registerMigration("v8-automatic-mail") { db in
            try db.execute(
                sql: """
                    ALTER TABLE inbox ADD COLUMN auto_acknowledge INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE inbox ADD COLUMN auto_acknowledge_text TEXT;
                    ALTER TABLE user ADD COLUMN notify_new_conversation INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE user ADD COLUMN notify_assigned INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE user ADD COLUMN notify_mention INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE user ADD COLUMN notify_customer_reply INTEGER NOT NULL DEFAULT 1;
                    -- Every automatic message Postroom sends, for per-recipient rate limits.
                    CREATE TABLE auto_mail_log (
                        id INTEGER PRIMARY KEY,
                        recipient TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        message_id INTEGER REFERENCES message(id),
                        sent_at INTEGER NOT NULL
                    );
                    CREATE INDEX auto_mail_log_recipient ON auto_mail_log(recipient, sent_at);
                    """)
        }
        migrator.registerMigration("v9-import") { db in
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN import_hash TEXT;   -- SHA-256 of the imported bytes
                    CREATE INDEX message_import_hash ON message(import_hash);
                    CREATE INDEX message_header_message_id ON message(header_message_id);
                    """)
        }
        migrator.registerMigration("v10-connected-mailboxes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE connected_mailbox (
                        id INTEGER PRIMARY KEY,
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                        host TEXT NOT NULL,
                        port INTEGER NOT NULL,
                        security TEXT NOT NULL,          -- implicit, starttls, plain (loopback only)
                        username TEXT NOT NULL,
                        password_env TEXT NOT NULL,      -- the environment variable holding the password
                        folder TEXT NOT NULL DEFAULT 'INBOX',
                        import_history INTEGER NOT NULL DEFAULT 0,
                        uid_validity INTEGER,            -- checkpoint: written with the messages it covers
                        last_uid INTEGER NOT NULL DEFAULT 0,
                        status TEXT NOT NULL DEFAULT 'new',
                        last_sync INTEGER,
                        pulled INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        created_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v11-mailbox-retries") { db in
            try db.execute(
                sql: """
                    ALTER TABLE connected_mailbox ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;  -- in a row, reset by a good sync
                    ALTER TABLE connected_mailbox ADD COLUMN next_attempt INTEGER;                  -- after a failure: when it tries again
                    ALTER TABLE connected_mailbox ADD COLUMN highest_modseq INTEGER;                -- CONDSTORE: folder unchanged since then
                    """)
        }
        migrator.registerMigration("v12-mailbox-ids-never-reused") { db in
            // AUTOINCREMENT: a removed mailbox's id is never handed to a new one, so a
            // watcher of the old mailbox can never pull into its successor.
            let columns = "id, inbox_id, host, port, security, username, password_env, folder, import_history, uid_validity, last_uid, status, last_sync, pulled, last_error, created_at, failures, next_attempt, highest_modseq"
            try db.execute(
                sql: """
                    CREATE TABLE connected_mailbox_new (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                        host TEXT NOT NULL,
                        port INTEGER NOT NULL,
                        security TEXT NOT NULL,
                        username TEXT NOT NULL,
                        password_env TEXT NOT NULL,
                        folder TEXT NOT NULL DEFAULT 'INBOX',
                        import_history INTEGER NOT NULL DEFAULT 0,
                        uid_validity INTEGER,
                        last_uid INTEGER NOT NULL DEFAULT 0,
                        status TEXT NOT NULL DEFAULT 'new',
                        last_sync INTEGER,
                        pulled INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        created_at INTEGER NOT NULL,
                        failures INTEGER NOT NULL DEFAULT 0,
                        next_attempt INTEGER,
                        highest_modseq INTEGER
                    );
                    INSERT INTO connected_mailbox_new (\(columns)) SELECT \(columns) FROM connected_mailbox;
                    DROP TABLE connected_mailbox;
                    ALTER TABLE connected_mailbox_new RENAME TO connected_mailbox;
                    """)
        }
        migrator.registerMigration("v13-processing-attempts") { db in
            // Written before processing starts: a message whose processing never
            // finished (it killed the process) is recognised after the restart.
            try db.execute(sql: "ALTER TABLE message ADD COLUMN process_attempts INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v14-sender-authentication") { db in
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN auth_results TEXT;   -- JSON: SPF, DKIM, DMARC, ARC and the verdict, made before the 250
                    ALTER TABLE message ADD COLUMN auth_verdict TEXT;   -- verified, forwarded, unverified; NULL: not checked (IMAP, import, ours)
                    ALTER TABLE message ADD COLUMN auth_trusted INTEGER; -- 1: automation may act on it (see AuthenticationReport.trusted)
                    ALTER TABLE inbox ADD COLUMN dmarc_reject TEXT;     -- refuse, spam, mark; NULL: auth.dmarc-reject
                    ALTER TABLE contact ADD COLUMN verified_via TEXT;   -- how the address was last verified ("DMARC pass ...", "unverified")
                    ALTER TABLE contact ADD COLUMN verified_at INTEGER;
                    """)
        }
        migrator.registerMigration("v15-raw-bytes-apart") { db in
            // The bytes as received live in their own table: processing's UPDATE of the
            // message row (what parsing learned, the state) no longer rewrites them.
            try db.execute(
                sql: """
                    CREATE TABLE message_raw (
                        message_id INTEGER PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
                        raw BLOB NOT NULL                      -- exactly as received
                    );
                    INSERT INTO message_raw (message_id, raw) SELECT id, raw FROM message;
                    ALTER TABLE message DROP COLUMN raw;
                    """)
        }
        migrator.registerMigration("v16-suppression-nocase") { db in
            // Suppressed addresses compare without regard to case (SuppressionPolicy).
            try db.execute(sql: "CREATE INDEX suppression_email_nocase ON suppression(email COLLATE NOCASE)")
        }
        migrator.registerMigration("v17-import-checkpoint") { db in
            // `import imap` keeps a checkpoint per inbox and folder, as connected
            // mailboxes do: a second run, or one after a crash, fetches only what is new.
            try db.execute(
                sql: """
                    CREATE TABLE import_checkpoint (
                        inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                        source TEXT NOT NULL,
                        uid_validity INTEGER,
                        last_uid INTEGER NOT NULL DEFAULT 0,
                        highest_modseq INTEGER,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (inbox_id, source)
                    )
                    """)
        }
        migrator.registerMigration("v18-auth-facts") { db in
            // What processing acts on, beside the report: it no longer decodes the
            // whole report (a tenth of its time) for every message.
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN auth_verified_by TEXT;
                    ALTER TABLE message ADD COLUMN auth_from_failed INTEGER;   -- 1: DMARC fail, no ARC chain vouching
                    ALTER TABLE message ADD COLUMN auth_dmarc_rejects INTEGER; -- 1: and the From domain says p=reject
                    """)
        }
        migrator.registerMigration("v19-user-deactivation") { db in
            // A person who left: kept (their comments and replies keep their author),
            // no longer routed to, assigned, told or a member of anything.
            try db.execute(sql: "ALTER TABLE user ADD COLUMN deactivated_at INTEGER")
        }
        migrator.registerMigration("v20-search-index-only") { db in
            // The full-text index keeps no copy of the text: it reads subject and body
            // from the message rows (external content), through a view of what is
            // searchable (every entry but our own automatic mail). The copy doubled what
            // filing wrote per message (a body twice, in the WAL and again at each
            // checkpoint). The index must hold exactly the values the view shows, which
            // external content requires for its deletes, and a message's subject and body
            // never change while it has entries (processing sets them before filing;
            // reprocessing removes the entries first). Rows are added by the code that
            // adds entries (Store.indexForSearch), not by a trigger: a statement with a
            // trigger runs in a statement savepoint, at which FTS5 writes its pending
            // terms out, a segment per message. Deleting an entry is rare; a trigger
            // removes its row.
            try db.execute(
                sql: """
                    DROP TABLE message_search;
                    CREATE VIEW message_search_source AS
                        SELECT e.id AS entry_id, m.subject AS subject, m.body_text AS body FROM entry e JOIN message m ON m.id = e.message_id
                        WHERE m.channel != 'outbound' OR m.automatic IS NULL;
                    CREATE VIRTUAL TABLE message_search USING fts5(
                        subject, body, content = 'message_search_source', content_rowid = 'entry_id', tokenize = 'unicode61');
                    INSERT INTO message_search (rowid, subject, body) SELECT entry_id, subject, body FROM message_search_source ORDER BY entry_id;
                    CREATE TRIGGER entry_search_delete AFTER DELETE ON entry BEGIN
                        INSERT INTO message_search (message_search, rowid, subject, body)
                            SELECT 'delete', OLD.id, subject, body_text FROM message WHERE id = OLD.message_id AND (channel != 'outbound' OR automatic IS NULL);
                    END;
                    """)
        }
        return migrator
    }

    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// A stored time (Unix milliseconds) as the API and the CLI show it: ISO 8601 UTC.
    public static func iso(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// Every address of every inbox, lower-cased: mail to them is ours (never answered,
    /// never a participant, never a reply recipient).
    public static func ownAddresses(_ db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db.cachedStatement(sql: "SELECT address FROM inbox_address")))
    }

    /// Whether `address` (lower-cased) is one of `ours`, also with a `+tag`.
    public static func isOwn(_ address: String, _ ours: Set<String>) -> Bool {
        if ours.contains(address) { return true }
        let parts = address.split(separator: "@", maxSplits: 1)
        guard parts.count == 2, let plus = parts[0].firstIndex(of: "+") else { return false }
        return ours.contains("\(parts[0][..<plus])@\(parts[1])")
    }

    /// Adds an entry to the full-text index, with the text the index's view shows for it
    /// (external content: the row must be what a later delete will read); our own
    /// automatic mail is not searchable. Filing writes the row itself, with the text it
    /// has just stored, which spares reading it back.
    public static func indexForSearch(entry: Int64, message: Int64, _ db: Database) throws {
        try db.run(
            """
            INSERT INTO message_search (rowid, subject, body)
            SELECT ?, subject, body_text FROM message WHERE id = ? AND (channel != 'outbound' OR automatic IS NULL)
            """, [entry, message])
    }

    /// A line on a conversation's timeline (status changes, notes, failed deliveries).
    @discardableResult
    public static func recordEvent(_ conversation: Int64, kind: String, author: Int64?, body: String?, _ db: Database) throws -> Int64 {
        try db.run("INSERT INTO event (conversation_id, kind, author_user_id, body, created_at) VALUES (?, ?, ?, ?, ?)", [conversation, kind, author, body, nowMillis()])
        return db.lastInsertedRowID
    }
}

extension Database {
    /// Runs one statement from the connection's statement cache: processing runs the
    /// same few dozen statements for every message, and compiling each anew (SQLite's
    /// parser and GRDB's authorizer) cost more than running it.
    public func run(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension Store {
    /// A write transaction whose commit does not wait for its own fsync, for work
    /// that is redone from durable state when lost: filing spooled messages. In WAL
    /// mode the commit is still atomic and ordered, and the next durable commit (a
    /// spool write, an API change) or checkpoint makes it durable with everything
    /// before it; only a power loss in between can undo it, and then the messages
    /// are still spooled and are filed again at the next start. Intake's commits
    /// stop waiting behind processing's fsyncs.
    public func writeRedoable<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Back to FULL for whatever writes next; the spool also asserts FULL before
            // each of its commits, so a reset lost to cancellation cannot weaken a 250.
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            var result: T?
            try db.inTransaction {
                result = try updates(db)
                return .commit
            }
            guard let result else { throw DatabaseError(resultCode: .SQLITE_ERROR, message: "transaction ended without a result") }
            return result
        }
    }
}
