import Store
import Logging
import DNSClient
import SMTPClient
import SMTPProtocol
import ServiceLifecycle

/// Delivers queued replies through the relay or to recipients' mail hosts. Destinations
/// (each mail domain; with a relay, each connection to it) are delivered to in
/// parallel, up to `parallel` at once, so one slow or silent destination never holds
/// up the others. Each recipient's outcome is recorded the moment its server answers:
/// after kill -9, only the message in flight goes again.
public struct OutboundWorker: Service {
    let queue: OutboundQueue
    let client: SMTPClient
    /// Used when there is no relay: recipients' MX hosts (RFC 5321 5.1).
    let resolver: MXResolver
    let mxPort: Int
    var parallel: Int = 8
    /// Deliver to mail hosts on this machine or private networks (tests, a LAN).
    var allowInternalMX = false
    let logger: Logger

    /// The relay comes from `queue.settings` at each pass, so a reload takes effect for
    /// the next session without a restart.
    public init(
        queue: OutboundQueue, client: SMTPClient, resolver: MXResolver, mxPort: Int, parallel: Int = 8, allowInternalMX: Bool = false,
        logger: Logger
    ) {
        self.queue = queue
        self.client = client
        self.resolver = resolver
        self.mxPort = mxPort
        self.parallel = parallel
        self.allowInternalMX = allowInternalMX
        self.logger = logger
    }

    /// Rows being delivered, and which destinations have a session open.
    actor InFlight {
        var rows: Set<Int64> = []
        var destinations: Set<String> = []
        func start(_ job: Job) -> Bool {
            guard !destinations.contains(job.destination) else { return false }
            destinations.insert(job.destination)
            rows.formUnion(job.rowIDs)
            return true
        }
        func finish(_ job: Job) {
            destinations.remove(job.destination)
            rows.subtract(job.rowIDs)
        }
        var count: Int { destinations.count }
    }

    /// One transaction: a message, the reverse path, and the recipients it goes to.
    /// With signed per-delivery return paths each recipient is a transaction of its own.
    struct Item: Sendable {
        var due: OutboundQueue.Due
        var from: String
        var recipients: [(id: Int64, address: String)]
    }

    /// One session's worth of work.
    struct Job: Sendable {
        var destination: String
        var items: [Item]
        var rowIDs: [Int64] { items.flatMap { $0.recipients.map(\.id) } }
    }

    /// A message's recipients grouped by their reverse path (in order).
    static func items(_ message: OutboundQueue.Due, _ recipients: [(id: Int64, address: String)]) -> [Item] {
        var out: [Item] = []
        for r in recipients {
            let from = message.returnPaths[r.id] ?? message.from
            if let i = out.firstIndex(where: { $0.from == from }) {
                out[i].recipients.append(r)
            } else {
                out.append(Item(due: message, from: from, recipients: [r]))
            }
        }
        return out
    }

    public func run() async throws {
        let inFlight = InFlight()
        // Discarding: finished deliveries leave nothing behind in a group that lives as
        // long as the server.
        await withDiscardingTaskGroup { group in
            while !(Task.isCancelled || Task.isShuttingDownGracefully) {
                do {
                    let busy = await inFlight.rows
                    let free = parallel - (await inFlight.count)
                    if free > 0 {
                        let due = try await queue.due(excluding: busy)
                        var started = 0
                        let relay = queue.settings.values.relay
                        for job in plan(due, relay: relay) where started < free {
                            guard await inFlight.start(job) else { continue }
                            started += 1
                            group.addTask {
                                await self.deliver(job, relay: relay)
                                await inFlight.finish(job)
                            }
                        }
                    }
                } catch {
                    logger.error("outbound queue: \(error)")
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
            // Shutdown: no new session starts; open ones may finish their message (a
            // message cut off after its final dot would go again) within the grace,
            // then they end; what they delivered is recorded, the rest stays queued.
            let deadline = ContinuousClock.now.advanced(by: .seconds(15))
            while await inFlight.count > 0 && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(100))
            }
            group.cancelAll()
        }
    }

    /// Groups due deliveries by destination: with a relay, a few messages a session;
    /// else by recipient domain.
    func plan(_ due: [OutboundQueue.Due], relay: SMTPRelay?) -> [Job] {
        if relay != nil {
            var jobs: [Job] = []
            var index = 0
            for chunk in stride(from: 0, to: due.count, by: 5).map({ Array(due[$0..<min($0 + 5, due.count)]) }) {
                let first = chunk.first?.messageID ?? 0
                jobs.append(Job(destination: "relay#\(first)", items: chunk.flatMap { Self.items($0, $0.recipients.map { ($0.id, $0.address) }) }))
                index += 1
            }
            return jobs
        }
        var byDomain: [String: [Item]] = [:]
        var order: [String] = []
        for message in due {
            var split: [String: [(id: Int64, address: String)]] = [:]
            for r in message.recipients {
                let domain = r.address.split(separator: "@").last.map { $0.lowercased() } ?? ""
                split[domain, default: []].append((r.id, r.address))
            }
            for (domain, recipients) in split.sorted(by: { $0.key < $1.key }) {
                if byDomain[domain] == nil { order.append(domain) }
                byDomain[domain, default: []].append(contentsOf: Self.items(message, recipients))
            }
        }
        return order.map { Job(destination: $0, items: byDomain[$0] ?? []) }
    }

    func deliver(_ job: Job, relay: SMTPRelay?) async {
        let transactions = job.items.map { SMTPClient.Transaction(from: $0.from, recipients: $0.recipients.map(\.address), data: $0.due.raw) }
        let via = relay.map { "\($0.host):\($0.port)" } ?? "MX of \(job.destination)"
        let recorder = Recorder(job: job, queue: queue, logger: logger, via: via)
        if let relay {
            _ = await client.deliver(transactions, via: relay, onOutcome: { index, outcomes in await recorder.record(index, outcomes) })
        } else {
            await client.deliverDirect(
                domain: job.destination, transactions, resolver: resolver, port: mxPort, allowInternal: allowInternalMX,
                onHost: { await recorder.setVia($0) }, onOutcome: { index, outcomes in await recorder.record(index, outcomes) })
        }
        await recorder.recordMissing()
    }

    /// Writes each outcome as it arrives, once per recipient row.
    actor Recorder {
        let job: Job
        let queue: OutboundQueue
        let logger: Logger
        var via: String
        var done: Set<Int64> = []

        init(job: Job, queue: OutboundQueue, logger: Logger, via: String) {
            self.job = job
            self.queue = queue
            self.logger = logger
            self.via = via
        }

        func setVia(_ text: String) { via = text }

        func record(_ index: Int, _ outcomes: [String: RecipientOutcome]) async {
            guard job.items.indices.contains(index) else { return }
            let item = job.items[index]
            for r in item.recipients where !done.contains(r.id) {
                guard let outcome = outcomes[r.address] else { continue }
                done.insert(r.id)
                await write(item.due.messageID, r, outcome)
            }
        }

        /// A recipient the session never answered for (it ended first): try again later.
        func recordMissing() async {
            for item in job.items {
                for r in item.recipients where !done.contains(r.id) {
                    done.insert(r.id)
                    await write(item.due.messageID, r, .temporaryFailure(SMTPReply(451, "4.4.2", "no answer for \(r.address)")))
                }
            }
        }

        func write(_ message: Int64, _ r: (id: Int64, address: String), _ outcome: RecipientOutcome) async {
            // Detached: an outcome that arrives while shutdown cancels the session is
            // still written (GRDB refuses to start a write in a cancelled task).
            let queue = self.queue, logger = self.logger, via = self.via
            await Task.detached {
                await Self.write(message, r, outcome, queue: queue, logger: logger, via: via)
            }.value
        }

        static func write(
            _ message: Int64, _ r: (id: Int64, address: String), _ outcome: RecipientOutcome, queue: OutboundQueue, logger: Logger, via: String
        ) async {
            do {
                switch outcome {
                case .delivered(let reply):
                    logger.info("outbound message \(message): to=<\(r.address)>, relay=\(via), status=sent (\(reply))")
                    try await queue.record(r.id, .delivered(reply))
                case .temporaryFailure(let reply):
                    logger.notice("outbound message \(message): to=<\(r.address)>, relay=\(via), dsn=\(reply.enhanced ?? ""), status=deferred (\(reply))")
                    try await queue.record(r.id, .temporary(reply))
                case .permanentFailure(let reply):
                    logger.notice("outbound message \(message): to=<\(r.address)>, relay=\(via), dsn=\(reply.enhanced ?? ""), status=bounced (\(reply))")
                    try await queue.record(r.id, .permanent(reply))
                }
            } catch {
                logger.error("outbound message \(message): to=<\(r.address)>: could not record the outcome: \(error)")
            }
        }
    }
}
