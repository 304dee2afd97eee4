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
    /// Used when there is no relay: recipients' MX hosts (RFC 5321 5.1).
    let resolver: MXResolver
    let mxPort: Int
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

    /// Groups recipients by domain and tries each domain's mail hosts in preference
    /// order, moving on while a host cannot be reached or answers only temporarily.
    func deliverDirect(_ due: OutboundQueue.Due) async -> [String: RecipientOutcome] {
        var byDomain: [String: [String]] = [:]
        for r in due.recipients { byDomain[r.address.split(separator: "@").last.map { $0.lowercased() } ?? "", default: []].append(r.address) }
        var outcomes: [String: RecipientOutcome] = [:]
        for (domain, recipients) in byDomain {
            var last: [String: RecipientOutcome] = [:]
            do {
                let hosts = try await resolver.mailHosts(for: domain)
                hostLoop: for host in hosts {
                    for address in try await resolver.addresses(of: host) {
                        let relay = SMTPRelay(host: address, port: mxPort, security: .starttls, verifyCertificate: false)
                        last = await client.deliver(from: due.from, recipients: recipients, data: due.raw, via: relay)
                        let allTemporary = last.values.allSatisfy { if case .temporaryFailure = $0 { return true } else { return false } }
                        if !allTemporary { break hostLoop }
                    }
                }
                if last.isEmpty {
                    last = Dictionary(uniqueKeysWithValues: recipients.map { ($0, .temporaryFailure("\(domain): no mail host could be reached")) })
                }
            } catch MXResolver.Failure.noMailHost(let why) {
                last = Dictionary(uniqueKeysWithValues: recipients.map { ($0, .permanentFailure("550 5.1.2 \(why)")) })
            } catch {
                last = Dictionary(uniqueKeysWithValues: recipients.map { ($0, .temporaryFailure("DNS: \(error)")) })
            }
            outcomes.merge(last) { a, _ in a }
        }
        return outcomes
    }

    func drain() async throws {
        for due in try await queue.due() {
            let outcomes: [String: RecipientOutcome]
            if let relay {
                outcomes = await client.deliver(from: due.from, recipients: due.recipients.map(\.address), data: due.raw, via: relay)
            } else {
                outcomes = await deliverDirect(due)
            }
            let via = relay.map { "\($0.host):\($0.port)" } ?? "MX"
            for r in due.recipients {
                let outcome = outcomes[r.address] ?? .temporaryFailure("no answer for \(r.address)")
                switch outcome {
                case .delivered(let reply):
                    logger.info("outbound message \(due.messageID): to=<\(r.address)>, relay=\(via), status=sent (\(reply))")
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
