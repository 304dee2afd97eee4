import Logging
import ServiceLifecycle

/// Runs the processor: everything spooled but not processed at start-up (after a
/// crash, say), then each new message as the spool reports it, with a slow poll for
/// messages spooled by another process on the same store.
public final class ProcessorService: Service, Sendable {
    let processor: MessageProcessor
    let actions: ConversationActions
    let logger: Logger
    let wakeups: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation

    public init(processor: MessageProcessor, logger: Logger = Logger(label: "postroom.processor")) {
        self.processor = processor
        self.actions = ConversationActions(store: processor.store)
        self.logger = logger
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Called after each spool commit; cheap and non-blocking.
    public func wake() {
        continuation.yield()
    }

    public func run() async throws {
        do {
            let started = try await processor.processPending()
            if started > 0 { logger.notice("processed \(started) messages left spooled by the previous run") }
        } catch {
            logger.error("processing at start-up failed; will retry: \(error)")
        }
        let ticker = Task { [continuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                continuation.yield()
            }
        }
        defer { ticker.cancel() }
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                do {
                    try await processor.processPending()
                    try await actions.wakeSnoozed()
                } catch {
                    logger.error("processing failed; will retry: \(error)")
                }
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }
}
