import AdminHTTP
import DKIM
import Conversations
import ArgumentParser
import Foundation
import MailboxPull
import IMAPClient
import Hummingbird
import Intake
import Logging
import MailAuth
import Metrics
import NIOCore
import NIOSSL
import Outbound
import Prometheus
import SMTPProtocol
import DNSClient
import SMTPClient
import SMTPServer
import ServiceLifecycle
import Settings
import Sieve
import Store
import TransportSupport

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the gateway: SMTP listener, spool and admin HTTP API.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "SMTP port (smtp.port).") var smtpPort: Int?
    @Option(help: "Admin HTTP port (http.port).") var httpPort: Int?
    @Option(help: "Host name in the greeting and Received headers (hostname).") var hostname: String?

    func run() async throws {
        Store.makePrivate()
        // Without TZ, glibc's strftime (every log line's time stamp) stats
        // /etc/localtime each call; named once, the zone is read once.
        if getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 0) }
        var flags: [(key: String, value: String)] = []
        if let smtpPort { flags.append(("smtp.port", String(smtpPort))) }
        if let httpPort { flags.append(("http.port", String(httpPort))) }
        if let hostname { flags.append(("hostname", hostname)) }
        let loaded = try loadConfigValues(global, flags: flags)
        let config = loaded.config

        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(DocumentedMetricsFactory(registry: registry))
        let logger = Logger(label: "postroom")

        for (what, host, port, keys) in [
            ("SMTP", config.smtpListen, config.smtpPort, "smtp.port / --smtp-port / POSTROOM_SMTP_PORT, smtp.listen"),
            ("the admin HTTP API", config.httpListen, config.httpPort, "http.port / --http-port / POSTROOM_HTTP_PORT, http.listen"),
        ] {
            if let problem = await ListenerProbe.problem(host: host, port: port) {
                fail("cannot listen on \(host):\(port) for \(what) (\(keys)): \(problem)", code: Exit.unavailable)
            }
        }
        let store = try openStore(config, create: true)
        if let inbox = try await store.ensureDefaultInbox(hostname: config.hostname.lowercased(), fallbackDomain: config.effectiveFallbackDomain) {
            logger.notice("created the first inbox '\(inbox.slug)': \((inbox.addresses + [inbox.fallbackAddress]).joined(separator: ", "))")
        }
        let token = try adminToken(config)
        let tls: NIOSSLContextBox
        do {
            tls = NIOSSLContextBox(
                try TLSMaterial.context(
                    certificatePath: config.tlsCertificate, keyPath: config.tlsKey, dataDir: config.dataDir,
                    hostname: config.hostname))
        } catch {
            fail("cannot set up TLS (smtp.tls-certificate / smtp.tls-key): \(error)", code: 78)
        }

        let signers: [String: DKIMSigner]
        do {
            signers = try DKIMSigner.load(folder: config.effectiveDKIMDir)
        } catch {
            fail("cannot load DKIM keys from \(config.effectiveDKIMDir) (dkim.dir): \(error)", code: 78)
        }
        for signer in signers.values { logger.notice("DKIM: signing mail from \(signer.domain) with \(signer.keyNames.joined(separator: " and "))") }
        // One set of outbound settings for the outbox, automatic mail, the queue and the
        // worker: a reload replaces it for all of them.
        let outboundSettings = OutboundSettings(LiveConfiguration.outboundValues(config, signers: signers))
        let processor = MessageProcessor(
            store: store, token: ReplyToken(secret: try ReplyToken.loadOrCreateSecret(dataDir: config.dataDir)),
            autoMail: AutoMail(hostname: config.hostname, settings: outboundSettings),
            budget: .milliseconds(Int64(config.processingBudget * 1000)))
        processor.dmarcRejectDefault = config.authDMARCReject
        processor.historyStatus = config.importStatus
        processor.deferUnderIntake = .milliseconds(Int64(config.processingDeferUnderIntake * 1000))
        let processing = ProcessorService(processor: processor)
        if config.processingPaused { logger.warning("processing.paused: mail is accepted and spooled but not threaded") }

        let filters = FilterSet(directory: config.filtersDir)
        for line in filters.reload() {
            if line.hasPrefix("refused") { logger.error("filters: \(line)") } else { logger.notice("filters: \(line)") }
        }
        let slugs = InboxSlugs()
        slugs.set(try await store.listInboxes())

        let (version, directory) = try await store.recipientDirectory()
        let box = DirectoryBox(directory)
        var limits = SMTPLimits()
        limits.commandLineLength = config.maxCommandLine
        limits.textLineLength = config.maxTextLine
        limits.messageSize = config.maxMessageSize
        limits.recipients = config.maxRecipients
        limits.errors = config.maxErrors

        var smtpConfiguration = SMTPServer.Configuration(
            host: config.smtpListen, port: config.smtpPort,
            machine: .init(hostname: config.hostname, limits: limits, tlsAvailable: true, tlsRequired: config.tlsRequired),
            maxSessions: config.maxSessions, maxSessionsPerIP: config.maxSessionsPerIP,
            idleTimeout: .milliseconds(Int64(config.idleTimeout * 1000)),
            shutdownGrace: .milliseconds(Int64(config.shutdownGrace * 1000)), tlsContext: tls.context)
        smtpConfiguration.maxSessionTime = .milliseconds(Int64(config.maxSessionTime * 1000))
        let resolver = MXResolver(setting: config.outboundResolver)
        var sink = SpoolSink(
            spool: Spool(store: store), hostname: config.hostname, logger: Logger(label: "postroom.smtpd"),
            onCommitted: { processing.wake() },
            gate: FilterGate(filters: filters, slugs: slugs, logger: Logger(label: "postroom.filters")), filterBudget: config.processingBudget)
        if config.authEnabled {
            sink.authenticator = Authenticator(dns: AuthLookup(resolver: resolver), authservID: config.hostname)
            sink.authTimeout = config.authTimeout
            sink.dmarcRejectDefault = config.authDMARCReject
            sink.inboxes = slugs
            logger.notice("sender authentication on: SPF, DKIM, DMARC, ARC through \(resolver.server):\(resolver.port); DMARC reject: \(config.authDMARCReject) unless the inbox says")
        } else {
            logger.warning("auth.enabled is false: senders are not authenticated; automation trusts every sender")
        }
        let smtp = SMTPServer(
            configuration: smtpConfiguration,
            directory: box,
            sink: sink,
            logger: Logger(label: "postroom.smtpd"))

        let replyToken = ReplyToken(secret: try ReplyToken.loadOrCreateSecret(dataDir: config.dataDir))
        let replies = Replies(store: store, token: replyToken, hostname: config.hostname, settings: outboundSettings)
        var outboundQueue = OutboundQueue(store: store, autoMail: processor.autoMail)
        outboundQueue.token = replyToken
        let live = LiveConfiguration(
            file: global.config, flags: loaded.flags, environment: ProcessInfo.processInfo.environment, loaded: (config, loaded.values),
            settings: outboundSettings, filters: filters, logger: Logger(label: "postroom.config"))
        var clientTimeouts = SMTPClientTimeouts()
        clientTimeouts.connect = .fromSeconds(config.outboundTimeouts.connect)
        clientTimeouts.greeting = .fromSeconds(config.outboundTimeouts.greeting)
        clientTimeouts.command = .fromSeconds(config.outboundTimeouts.command)
        clientTimeouts.dataInitiation = .fromSeconds(config.outboundTimeouts.dataInitiation)
        clientTimeouts.dataBlock = .fromSeconds(config.outboundTimeouts.dataBlock)
        clientTimeouts.dataTermination = .fromSeconds(config.outboundTimeouts.dataTermination)
        let smtpClient = SMTPClient(heloName: config.hostname, timeouts: clientTimeouts, logger: Logger(label: "postroom.outbound"))
        let outbound = OutboundWorker(
            queue: outboundQueue, client: smtpClient,
            resolver: resolver, mxPort: config.outboundMXPort, parallel: config.outboundParallel, allowInternalMX: config.outboundAllowInternalMX,
            logger: Logger(label: "postroom.outbound"))
        let router = AdminAPI.router(store: store, processor: processor, replies: replies, queue: outboundQueue, adminToken: token, registry: registry,
            fallbackDomain: config.effectiveFallbackDomain,
            mailboxTester: { mailbox in
                try await IMAPClient().withSession(try MailboxWatcher.account(mailbox, connection: MailboxConnection(config))) { session, state in
                    MailboxTestResult(messages: try await session.uids().count, uidValidity: state.uidValidity, uidNext: state.uidNext)
                }
            },
            server: ServerOperations(
                effective: {
                    let now = live.config
                    let mailboxes = try await ConnectedMailboxes(store: store).list().map(\.summary)
                    let effective = EffectiveConfiguration(now, dkim: dkimSummary(outboundSettings.values.signers), mailboxes: mailboxes)
                    return Dictionary(effective.lines.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                },
                reload: {
                    do {
                        return try live.reload(cause: "POST /api/config/reload")
                    } catch {
                        live.logger.error("configuration reload (API) refused: \(error)")
                        throw RequestError.conflict("\(error)")
                    }
                },
                testRelay: {
                    guard let relay = outboundSettings.values.relay else { return nil }
                    return await smtpClient.probe(relay)
                }),
            filters: filters)
        let httpLogger = Logger(label: "postroom.http")
        let http = Application(
            router: router,
            configuration: .init(address: .hostname(config.httpListen, port: config.httpPort), serverName: "Postroom"),
            onServerRunning: { channel in
                httpLogger.notice("admin HTTP listening on \(config.httpListen):\(channel.localAddress?.port ?? config.httpPort)")
                ServerAPI.record(config, port: channel.localAddress?.port ?? config.httpPort)
            },
            logger: httpLogger)

        let refresher = DirectoryRefresher(store: store, box: box, slugs: slugs, logger: Logger(label: "postroom.directory"), version: version)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: smtp), .init(service: http), .init(service: refresher),
            .init(service: FilterReloader(filters: filters, logger: Logger(label: "postroom.filters"))),
            .init(service: HangupReloader(live: live)),
            .init(service: outbound),
            .init(
                service: MailboxWatcher(
                    mailboxes: ConnectedMailboxes(store: store), interval: config.mailboxPollInterval, connection: MailboxConnection(config), idleRenew: config.mailboxIdleRenew,
                    logger: Logger(label: "postroom.mailboxes"),
                    gate: FilterGate(filters: filters, slugs: slugs, logger: Logger(label: "postroom.filters")))),
        ]
        if !config.processingPaused { services.append(.init(service: processing)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        let connected = try await ConnectedMailboxes(store: store).list().map(\.summary)
        let effective = EffectiveConfiguration(config, dkim: dkimSummary(signers), mailboxes: connected)
        logger.notice("Postroom \(postroomVersion) \(config.hostname) starting; in effect:\n\(effective.text)")
        try await group.run()
        logger.notice("Postroom stopped")
    }
}

/// NIOSSLContext is Sendable; the box only keeps the call site readable.
struct NIOSSLContextBox {
    let context: NIOSSLContext
    init(_ context: NIOSSLContext) { self.context = context }
}
