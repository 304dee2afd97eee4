import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol
import ServiceLifecycle

/// The SMTP listener as a lifecycle service. On graceful shutdown it stops
/// accepting, answers idle sessions with 421, lets transactions in DATA finish (up
/// to the grace period) and then returns.
public final class SMTPServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var machine: SMTPServerStateMachine.Configuration
        public var maxSessions: Int
        public var maxSessionsPerIP: Int
        public var idleTimeout: TimeAmount
        /// Longest a session may last, whatever it sends (a client trickling one byte
        /// per idle period would otherwise hold a session for ever).
        public var maxSessionTime: TimeAmount = .hours(1)
        public var shutdownGrace: TimeAmount
        public var tlsContext: NIOSSLContext?

        public init(
            host: String, port: Int, machine: SMTPServerStateMachine.Configuration, maxSessions: Int,
            maxSessionsPerIP: Int, idleTimeout: TimeAmount, shutdownGrace: TimeAmount, tlsContext: NIOSSLContext?
        ) {
            self.host = host
            self.port = port
            self.machine = machine
            self.maxSessions = maxSessions
            self.maxSessionsPerIP = maxSessionsPerIP
            self.idleTimeout = idleTimeout
            self.shutdownGrace = shutdownGrace
            self.tlsContext = tlsContext
        }
    }

    struct Metrics: Sendable {
        let sessions = Counter(label: "postroom_smtp_sessions_total")
        let sessionsRefused = Counter(label: "postroom_smtp_sessions_refused_total")
        let activeSessions = Meter(label: "postroom_smtp_sessions_active")
        let messagesAccepted = Counter(label: "postroom_smtp_messages_accepted_total")
        let bytesAccepted = Counter(label: "postroom_smtp_bytes_accepted_total")
        let rejections = Counter(label: "postroom_smtp_rejections_total")
        let commitDuration = Timer(label: "postroom_spool_commit_seconds")
    }

    /// What every session of this server shares.
    struct Shared: Sendable {
        let machineConfiguration: SMTPServerStateMachine.Configuration
        let directory: DirectoryBox
        let sink: any SMTPMessageSink
        let registry: SessionRegistry
        let tlsContext: NIOSSLContext?
        let logger: Logger
        let metrics: Metrics
        var maxSessionTime: TimeAmount = .hours(1)
    }

    let configuration: Configuration
    let shared: Shared
    let group: any EventLoopGroup
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    public init(
        configuration: Configuration, directory: DirectoryBox, sink: any SMTPMessageSink,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.onBound = onBound
        self.shared = Shared(
            machineConfiguration: configuration.machine, directory: directory, sink: sink,
            registry: SessionRegistry(maxTotal: configuration.maxSessions, maxPerIP: configuration.maxSessionsPerIP),
            tlsContext: configuration.tlsContext, logger: logger, metrics: Metrics(), maxSessionTime: configuration.maxSessionTime)
    }

    public func run() async throws {
        let shared = self.shared
        let idle = configuration.idleTimeout
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(SMTPSessionHandler(shared: shared))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        let port = channel.localAddress?.port ?? configuration.port
        logger.notice("SMTP listening on \(configuration.host):\(port)")
        onBound(port)

        try? await gracefulShutdown()

        logger.notice("SMTP shutting down: no new sessions; \(shared.registry.count) open")
        try? await channel.close()
        for session in shared.registry.channels {
            session.pipeline.fireUserInboundEventTriggered(SMTPShutdownEvent())
        }
        let deadline = ContinuousClock.now + .nanoseconds(configuration.shutdownGrace.nanoseconds)
        while shared.registry.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for session in shared.registry.channels {
            try? await session.close()
        }
        logger.notice("SMTP stopped")
    }
}
