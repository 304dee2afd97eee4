import Logging
import Metrics
import NIOCore
import NIOSSL
import SMTPProtocol

/// The thin shell around `SMTPServerStateMachine`: feeds it the bytes each read
/// brings, writes the replies it returns (one flush per read, so pipelined commands
/// get pipelined answers), installs TLS when asked, and hands finished transactions
/// to the sink. Reading stops while a message is being committed, which bounds what a
/// client can make the server hold.
final class SMTPSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let shared: SMTPServer.Shared
    var machine: SMTPServerStateMachine
    var client = SMTPClientInfo(ip: "unknown", port: 0)
    var logger: Logger
    var admitted = false
    var closing = false
    var closeAfterTransaction = false
    var messagesAccepted = 0
    var readsPaused = false
    /// The session time limit's timer, cancelled when the connection goes (it holds
    /// the handler and its context).
    var sessionLimit: Scheduled<Void>?

    init(shared: SMTPServer.Shared) {
        self.shared = shared
        self.machine = SMTPServerStateMachine(configuration: shared.machineConfiguration, directory: shared.directory.current)
        self.logger = shared.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress {
            client = SMTPClientInfo(ip: remote.ipAddress ?? "unknown", port: remote.port ?? 0)
        }
        logger[metadataKey: "client"] = "[\(client.ip)]:\(client.port)"
        let admission = shared.registry.admit(context.channel, ip: client.ip)
        switch admission {
        case .admitted:
            admitted = true
            shared.metrics.sessions.increment()
            shared.metrics.activeSessions.increment()
            logger.info("connect from [\(client.ip)]:\(client.port)")
            perform(machine.start(), context: context)
            scheduleSessionLimit(context: context, in: shared.maxSessionTime)
        case .tooMany, .tooManyFromIP:
            shared.metrics.sessionsRefused.increment()
            let reply: SMTPReply = admission == .tooMany ? .tooManySessions : .tooManySessionsFromIP
            logger.notice("refused connection from [\(client.ip)]: \(reply)")
            perform(machine.terminate(with: reply), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sessionLimit?.cancel()
        sessionLimit = nil
        if admitted {
            shared.registry.release(context.channel, ip: client.ip)
            shared.metrics.activeSessions.decrement()
            let counts = machine.commandCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            logger.info("disconnect from [\(client.ip)]:\(client.port) \(counts) messages=\(messagesAccepted)")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let buffer = unwrapInboundIn(data)
        machine.directory = shared.directory.current
        let actions = buffer.withUnsafeReadableBytes { raw in
            machine.receive(raw.bindMemory(to: UInt8.self))
        }
        perform(actions, context: context)
        // Pipelined input is held while a message commits; past a bound, stop reading
        // so a client cannot make the server hold more (the socket buffers the rest).
        if machine.isAwaitingDelivery && machine.bufferedInputCount > Self.heldInputLimit && !readsPaused {
            readsPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
    }

    static let heldInputLimit = 64 * 1024

    /// Ends the session once `smtp.max-session-time` has passed (not while a message
    /// is being committed: that finishes first, and gets its answer).
    func scheduleSessionLimit(context: ChannelHandlerContext, in delay: TimeAmount) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        sessionLimit = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            guard !handler.closing, !handler.machine.isClosed else { return }
            if handler.machine.isAwaitingDelivery {
                handler.scheduleSessionLimit(context: context, in: .seconds(1))
                return
            }
            handler.logger.notice("session time limit for [\(handler.client.ip)]")
            handler.perform(handler.machine.terminate(with: .sessionTimeLimit), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            guard !machine.isInTransaction || !machine.isAwaitingDelivery else { return }
            logger.info("idle timeout for [\(client.ip)]")
            perform(machine.terminate(with: .idleTimeout), context: context)
            return
        }
        if event is SMTPShutdownEvent {
            if machine.isInTransaction {
                closeAfterTransaction = true
            } else {
                perform(machine.terminate(with: .shuttingDown), context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.notice("session error for [\(client.ip)]: \(error)")
        closing = true
        context.close(promise: nil)
    }

    func perform(_ actions: [SMTPServerStateMachine.Action], context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 256)
        for action in actions {
            switch action {
            case .reply(let reply):
                out.writeBytes(reply.wire)
                if reply.isFailure {
                    shared.metrics.rejections.increment()
                    logger.info("reject: [\(client.ip)]: \(reply); command=\(machine.lastCommand)")
                }
            case .startTLS:
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                out.clear()
                guard let tls = shared.tlsContext else { continue }
                do {
                    try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
                } catch {
                    logger.error("cannot start TLS: \(error)")
                    closing = true
                    context.close(promise: nil)
                    return
                }
            case .deliver(let transaction):
                startDelivery(transaction, context: context)
            case .close:
                closing = true
                let flushed = context.writeAndFlush(wrapOutboundOut(out))
                out.clear()
                flushed.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
        }
        if out.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    func startDelivery(_ transaction: SMTPTransaction, context: ChannelHandlerContext) {
        let started = ContinuousClock.now
        let metrics = shared.metrics
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: eventLoop)
        let size = transaction.body.count
        shared.sink.deliver(transaction, client: client) { result in
            let elapsed = (ContinuousClock.now - started).components
            metrics.commitDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
            if case .accepted = result {
                metrics.messagesAccepted.increment()
                metrics.bytesAccepted.increment(by: size)
            }
            eventLoop.execute {
                let (handler, context) = bound.value
                handler.deliveryCompleted(result, context: context)
            }
        }
    }

    func deliveryCompleted(_ result: DeliveryResult, context: ChannelHandlerContext) {
        if case .accepted = result { messagesAccepted += 1 }
        var actions = machine.deliveryCompleted(result)
        if closeAfterTransaction && !machine.isInTransaction {
            actions += machine.terminate(with: .shuttingDown)
        }
        perform(actions, context: context)
        if readsPaused && !machine.isAwaitingDelivery && !closing {
            readsPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }
}

