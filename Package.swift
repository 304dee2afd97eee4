// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Postroom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "postroom", targets: ["postroom"]),
        .executable(name: "postroom-filter", targets: ["postroom-filter"]),
        // For the fuzz package in Fuzz/ (a path dependency); the app does not use it.
        .library(
            name: "PostroomFuzzSupport",
            targets: ["SMTPProtocol", "MailMessage", "Sieve", "IMAPProtocol", "Settings", "DKIM", "SMTPClient", "DNSClient", "MailAuth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // Pure: commands, replies, the server session state machine. No I/O.
        .target(name: "SMTPProtocol", dependencies: ["NetAddress"]),
        // Pure: RFC 5322 / MIME parsing (charsets through iconv). No I/O.
        .target(name: "MailMessage"),
        // Pure: Sieve lexer, parser, validator and interpreter. No I/O.
        .target(name: "Sieve", dependencies: ["MailMessage"]),
        // Pure: IP addresses parsed from text, CIDR, loopback and internal ranges; mailbox
        // addresses (RFC 5321) and reverse paths. No I/O.
        .target(name: "NetAddress"),
        // Pure: SPF, DKIM verification, DMARC and ARC evaluated over a DNS lookup protocol.
        .target(
            name: "MailAuth",
            dependencies: [
                "NetAddress", "MailMessage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Pure: IMAP4rev1 response framing and parsing, command encoding. No I/O.
        .target(name: "IMAPProtocol", dependencies: ["NetAddress"]),
        // Configuration: keys, defaults, file/env/flag layering, validation; the log's
        // line handler. No network.
        .target(
            name: "Settings",
            dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log")]
        ),
        // SQLite through GRDB: inboxes, addresses, the durable spool, the one writer of a
        // message (InboundMessage), and what every request-serving module shares
        // (RequestError, APIAddress, ContentHash).
        .target(
            name: "Store",
            dependencies: [
                "NetAddress",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API, for the WAL hook (WALCheckpointer).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // DKIM signing (RFC 6376, RFC 8463).
        .target(
            name: "DKIM",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The one way out: replies, automatic mail, DKIM signing (once), the suppression
        // policy, one enqueue (Outbox), the queue and its worker.
        // postroom doctor: DNS, TLS, ports and file checks, judged from plain facts.
        .target(
            name: "Doctor",
            dependencies: [
                "MailAuth", "NetAddress",
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .target(
            name: "Outbound",
            dependencies: [
                "NetAddress", "MailMessage", "SMTPProtocol", "SMTPClient", "DNSClient", "Store", "DKIM",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Processing after the spool: threading, conversations, contacts, tickets.
        .target(
            name: "Conversations",
            dependencies: [
                "NetAddress", "SMTPProtocol", "MailAuth",
                "MailMessage", "Store", "Sieve", "Outbound",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The one checkpointed IMAP pull (PullPlan decides, MailboxPull fetches and
        // records), shared by connected mailboxes (MailboxWatcher) and `import imap`;
        // the import of history (Importer).
        .target(
            name: "MailboxPull",
            dependencies: [
                "IMAPClient", "IMAPProtocol", "Conversations", "Store", "MailMessage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // NIO listener: framing with limits, TLS, hands envelopes to the spool.
        .target(
            name: "SMTPServer",
            dependencies: [
                "NetAddress",
                "SMTPProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What the SMTP and IMAP clients share on NIO: the STARTTLS fence; and the
        // listener probe the server runs before it starts.
        .target(
            name: "TransportSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // NIO stub resolver (UDP, to the configured server) with a TTL cache: MX hosts for
        // outbound mail, and the DNS lookups sender authentication asks.
        .target(
            name: "DNSClient",
            dependencies: [
                "NetAddress", "MailAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // NIO client: delivers outbound mail through a relay.
        .target(
            name: "SMTPClient",
            dependencies: [
                "NetAddress", "DNSClient",
                "SMTPProtocol", "TransportSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Hummingbird app: the admin JSON API and /metrics.
        .target(
            name: "IMAPClient",
            dependencies: [
                "IMAPProtocol", "TransportSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "AdminHTTP",
            dependencies: [
                "Store", "Conversations", "Outbound", "MailboxPull", "Sieve", "Settings", "SMTPClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "Intake",
            dependencies: [
                "SMTPProtocol", "SMTPServer", "Conversations", "MailAuth", "Store",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "postroom",
            dependencies: [
                "SMTPProtocol", "SMTPServer", "SMTPClient", "IMAPClient", "IMAPProtocol", "Store", "Settings", "AdminHTTP", "Intake", "Conversations", "Outbound", "MailboxPull", "Sieve", "MailMessage", "DKIM",
                "DNSClient", "MailAuth", "NetAddress", "TransportSupport", "Doctor", "FilterTool",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Benchmarks/adversarial: scanner times on benign versus adversarial 1 MB inputs.
        .executableTarget(name: "adversarial-bench", dependencies: ["MailMessage", "Sieve"], path: "Benchmarks/AdversarialBench"),
        .testTarget(name: "SMTPProtocolTests", dependencies: ["SMTPProtocol", "NetAddress"]),
        .testTarget(name: "IMAPProtocolTests", dependencies: ["IMAPProtocol"]),
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
        .testTarget(
            name: "MailAuthTests", dependencies: ["MailAuth", "NetAddress", .product(name: "Yams", package: "Yams")],
            exclude: ["dkim_cases.py", "auth_differential.py"]),
        .testTarget(name: "MailMessageTests", dependencies: ["MailMessage"]),
        .testTarget(name: "SieveTests", dependencies: ["Sieve", "MailMessage"]),
        .testTarget(name: "SMTPClientTests", dependencies: ["SMTPClient", "DNSClient", "MailAuth", "NetAddress"]),
        .testTarget(name: "DKIMTests", dependencies: ["DKIM"]),
        // The single-message filter test, shared by postroom and the small postroom-filter.
        .target(name: "FilterTool", dependencies: ["Sieve", "MailMessage", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "postroom-filter", dependencies: ["FilterTool", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "SettingsTests", dependencies: ["Settings", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "DoctorTests", dependencies: ["Doctor", "MailAuth", "NetAddress"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "OutboundTests",
            dependencies: ["Outbound", "Store", "DKIM", "MailMessage", .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "IntakeTests", dependencies: ["Intake", "Conversations", "Outbound", "SMTPServer", "SMTPProtocol", "Store", "Sieve", "NetAddress", "MailAuth", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MailboxPullTests", dependencies: ["MailboxPull", "IMAPClient", "Store"]),
        .testTarget(name: "ConversationsTests", dependencies: ["Conversations", "Outbound", "Store", "MailMessage", "SMTPProtocol", "NetAddress"]),
    ],
    swiftLanguageModes: [.v6]
)
