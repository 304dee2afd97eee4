import Conversations
import Logging
import SMTPClient
import SMTPProtocol
import ServiceLifecycle

/// Delivers queued replies through the relay, one message (all its due recipients) at
/// a time, and records each recipient's outcome.
struct OutboundWorker: Service {
    let queue: OutboundQueue
    let client: SMTPClient
    let relay: SMTPRelay?
    let logger: Logger

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do {
                try await drain()
            } catch {
                logger.error("outbound queue: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func drain() async throws {
        for due in try await queue.due() {
            guard let relay else {
                for r in due.recipients {
                    try await queue.record(r.id, .temporary("no outbound.relay configured (direct MX delivery is not built yet)"))
                }
                continue
            }
            let outcomes = await client.deliver(from: due.from, recipients: due.recipients.map(\.address), data: due.raw, via: relay)
            for r in due.recipients {
                let outcome = outcomes[r.address] ?? .temporaryFailure("no answer for \(r.address)")
                switch outcome {
                case .delivered(let reply):
                    logger.info("outbound message \(due.messageID): to=<\(r.address)>, relay=\(relay.host):\(relay.port), status=sent (\(reply))")
                    try await queue.record(r.id, .delivered(reply.description))
                case .temporaryFailure(let text):
                    logger.notice("outbound message \(due.messageID): to=<\(r.address)>, status=deferred (\(text))")
                    try await queue.record(r.id, .temporary(text))
                case .permanentFailure(let text):
                    logger.notice("outbound message \(due.messageID): to=<\(r.address)>, status=bounced (\(text))")
                    try await queue.record(r.id, .permanent(text))
                }
            }
        }
    }
}
