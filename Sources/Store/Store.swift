import Foundation
import GRDB
import SMTPProtocol

/// The SQLite store under the data dir. One file, WAL, synchronous=FULL: a commit is
/// on disk before it returns, which is what lets the SMTP server promise a 250.
/// Several processes may open it at once (the server and CLI subcommands).
public final class Store: Sendable {
    public let database: DatabasePool
    public let path: String

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        self.path = path
        self.database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    /// Opens (creating when needed) `postroom.sqlite` in the data dir.
    public static func open(dataDir: String) throws -> Store {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        return try Store(path: (dataDir as NSString).appendingPathComponent("postroom.sqlite"))
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
        return migrator
    }

    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
