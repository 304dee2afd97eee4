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

    /// One queued (message, recipient) and the transaction it belongs to.
    typealias Pending = (due: OutboundQueue.Due, rowID: Int64, address: String)

    func drain() async throws {
        let due = try await queue.due()
        guard !due.isEmpty else { return }
        if let relay {
            // Every due message over one connection to the relay.
            let transactions = due.map { SMTPClient.Transaction(from: $0.from, recipients: $0.recipients.map(\.address), data: $0.raw) }
            let results = await client.deliver(transactions, via: relay)
            for (message, outcomes) in zip(due, results) {
                try await record(message, outcomes, via: "\(relay.host):\(relay.port)")
            }
            return
        }
        // No relay: per recipient domain, all due messages over one connection to its MX.
        var byDomain: [String: [(OutboundQueue.Due, [String])]] = [:]
        for message in due {
            var split: [String: [String]] = [:]
            for r in message.recipients { split[r.address.split(separator: "@").last.map { $0.lowercased() } ?? "", default: []].append(r.address) }
            for (domain, addresses) in split { byDomain[domain, default: []].append((message, addresses)) }
        }
        var collected: [Int64: [String: RecipientOutcome]] = [:]
        for (domain, items) in byDomain {
            let results = await deliverDirect(domain: domain, items.map { SMTPClient.Transaction(from: $0.0.from, recipients: $0.1, data: $0.0.raw) })
            for ((message, _), outcomes) in zip(items, results) { collected[message.messageID, default: [:]].merge(outcomes) { a, _ in a } }
        }
        for message in due { try await record(message, collected[message.messageID] ?? [:], via: "MX") }
    }

    func record(_ message: OutboundQueue.Due, _ outcomes: [String: RecipientOutcome], via: String) async throws {
        for r in message.recipients {
            switch outcomes[r.address] ?? .temporaryFailure("no answer for \(r.address)") {
            case .delivered(let reply):
                logger.info("outbound message \(message.messageID): to=<\(r.address)>, relay=\(via), status=sent (\(reply))")
                try await queue.record(r.id, .delivered(reply.description))
            case .temporaryFailure(let text):
                logger.notice("outbound message \(message.messageID): to=<\(r.address)>, relay=\(via), status=deferred (\(text))")
                try await queue.record(r.id, .temporary(text))
            case .permanentFailure(let text):
                logger.notice("outbound message \(message.messageID): to=<\(r.address)>, relay=\(via), status=bounced (\(text))")
                try await queue.record(r.id, .permanent(text))
            }
        }
    }

    /// Tries the domain's mail hosts in preference order, moving on while a host cannot
    /// be reached or answers only temporarily (RFC 5321 5.1).
    func deliverDirect(domain: String, _ transactions: [SMTPClient.Transaction]) async -> [[String: RecipientOutcome]] {
        func all(_ outcome: RecipientOutcome) -> [[String: RecipientOutcome]] {
            transactions.map { t in Dictionary(uniqueKeysWithValues: t.recipients.map { ($0, outcome) }) }
        }
        do {
            var last: [[String: RecipientOutcome]] = all(.temporaryFailure("\(domain): no mail host could be reached"))
            for host in try await resolver.mailHosts(for: domain) {
                for address in try await resolver.addresses(of: host) {
                    let relay = SMTPRelay(host: address, port: mxPort, security: .starttls, verifyCertificate: false)
                    last = await client.deliver(transactions, via: relay)
                    let allTemporary = last.allSatisfy { $0.values.allSatisfy { if case .temporaryFailure = $0 { return true } else { return false } } }
                    if !allTemporary { return last }
                }
            }
            return last
        } catch MXResolver.Failure.noMailHost(let why) {
            return all(.permanentFailure("550 5.1.2 \(why)"))
        } catch {
            return all(.temporaryFailure("DNS: \(error)"))
        }
    }
}
