import Dispatch
import Foundation
import Conversations
import Logging
import MailAuth
import SMTPProtocol
import SMTPServer
import Store
import Synchronization

/// What happens between the end of DATA and the 250: sender authentication (with the
/// DMARC policy that may refuse), the inbox filters (which may refuse), then the
/// durable commit to the spool; one log line per message as Postfix does. The SMTP
/// server calls it; the executable only builds it from the configuration.
public struct SpoolSink: SMTPMessageSink {
    let spool: Spool
    let hostname: String
    let logger: Logger
    /// Called once a message is durable (wakes the processor).
    public var onCommitted: @Sendable () -> Void = {}
    /// The inbox filters, run before the 250 when any script exists.
    public var gate: FilterGate?
    /// Seconds the filters may take before the 250 (processing.budget).
    public var filterBudget: Double = 30
    /// Filter runs going on at once, those past their budget included (they cannot be
    /// stopped): past the limit a message is accepted without filter decisions rather
    /// than piling up threads.
    let evaluations = EvaluationSlots(limit: max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))
    /// Sender authentication before the 250 (auth.enabled); nil: not checked.
    public var authenticator: Authenticator?
    /// auth.timeout: past it every check is temperror and the message goes on.
    public var authTimeout: Double = 10
    /// auth.dmarc-reject, for inboxes that do not say.
    public var dmarcRejectDefault = "spam"
    /// Inbox settings (the DMARC action per inbox).
    public var inboxes: InboxSlugs?

    public init(
        spool: Spool, hostname: String, logger: Logger, onCommitted: @escaping @Sendable () -> Void = {}, gate: FilterGate? = nil,
        filterBudget: Double = 30
    ) {
        self.spool = spool
        self.hostname = hostname
        self.logger = logger
        self.onCommitted = onCommitted
        self.gate = gate
        self.filterBudget = filterBudget
    }

    public func deliver(_ transaction: SMTPTransaction, client: SMTPClientInfo, completion: @escaping @Sendable (DeliveryResult) -> Void) {
        guard let authenticator else {
            filter(transaction, authentication: nil, client: client, completion: completion)
            return
        }
        // DNS questions and signature checks: asynchronous, never on the event loop's
        // time; a resolver that does not answer costs at most auth.timeout (one shared
        // timer for every message, so the common case costs one task and no extra hops).
        let once = Once()
        let timeout = authTimeout
        let deadline = Deadlines.shared.add(after: timeout) {
            guard once.claim() else { return }
            let report = AuthenticationReport.temporaryFailure(
                authservID: authenticator.authservID, clientIP: client.ip, mailFrom: transaction.reversePath.description,
                fromDomain: Authenticator.fromDomain(transaction.body), reason: "checks took longer than auth.timeout (\(timeout) s)")
            authenticated(transaction, report, authenticator, client: client, completion: completion)
        }
        Task {
            let report = await authenticator.authenticate(
                message: transaction.body, clientIP: client.ip, helo: transaction.heloName, mailFrom: transaction.reversePath.description)
            guard once.claim() else { return }
            Deadlines.shared.cancel(deadline)
            authenticated(transaction, report, authenticator, client: client, completion: completion)
        }
    }

    /// With the report: our Authentication-Results on the message, the DMARC policy
    /// (refuse), then the filters and the commit.
    func authenticated(
        _ transaction: SMTPTransaction, _ report: AuthenticationReport, _ authenticator: Authenticator, client: SMTPClientInfo,
        completion: @escaping @Sendable (DeliveryResult) -> Void
    ) {
        var stamped = transaction
        stamped.body = authenticator.stamped(transaction.body, report)
        let dkim = report.dkim.isEmpty ? "none" : report.dkim.map { "\($0.result.rawValue)(\($0.domain))" }.joined(separator: ",")
        logger.info(
            "auth: client=[\(client.ip)], from=<\(transaction.reversePath)>, spf=\(report.spf.result.rawValue), dkim=\(dkim), dmarc=\(report.dmarc.result.rawValue), arc=\(report.arc.result.rawValue), verdict=\(report.verdict.rawValue)"
        )
        // DMARC fail under p=reject: recipients whose inbox refuses such mail are
        // refused (550 5.7.1 when that is all of them); the rest keep it.
        if report.dmarcRejects {
            let refusing = Set(stamped.recipients.map(\.inboxID).filter {
                (inboxes?.dmarcRejectAction($0, default: dmarcRejectDefault) ?? dmarcRejectDefault) == "refuse"
            })
            if !refusing.isEmpty {
                stamped.recipients.removeAll { refusing.contains($0.inboxID) }
                if stamped.recipients.isEmpty {
                    let reason = FilterGate.oneLine("\(report.dmarc.fromDomain) publishes DMARC p=reject and this message failed: \(report.dmarc.reason)")
                    logger.info("NOQUEUE: DMARC reject: client=[\(client.ip)], from=<\(transaction.reversePath)>, header.from=\(report.dmarc.fromDomain): \(report.dmarc.reason)")
                    completion(.failed(SMTPReply(550, "5.7.1", reason)))
                    return
                }
            }
        }
        let json = report.json
        filter(
            stamped,
            authentication: InboundMessage.Authentication(
                json: json, verdict: report.verdict.rawValue, trusted: report.trusted, verifiedBy: report.verifiedBy, fromFailed: report.fromFailed,
                dmarcRejects: report.dmarcRejects), client: client, completion: completion)
    }

    /// The inbox filters before the 250 (when any script exists), then the commit.
    func filter(
        _ transaction: SMTPTransaction, authentication: InboundMessage.Authentication?, client: SMTPClientInfo,
        completion: @escaping @Sendable (DeliveryResult) -> Void
    ) {
        guard let gate, gate.isActive else {
            commit(transaction, filterResults: nil, authentication: authentication, client: client, completion: completion)
            return
        }
        // Parsing and running scripts is CPU work: keep it off the event loop. Within a
        // budget: past it the message is accepted and kept without filter decisions
        // (the client is never held hostage by a slow script or message).
        guard evaluations.take() else {
            logger.warning("filters busy (\(evaluations.limit) runs at once) for from=<\(transaction.reversePath)>: message accepted and kept without filter decisions")
            commit(transaction, filterResults: nil, authentication: authentication, client: client, completion: completion)
            return
        }
        let evaluations = self.evaluations
        let decision = Once()
        let budget = filterBudget
        let deadline = Deadlines.shared.add(after: budget) {
            if decision.claim() {
                logger.warning(
                    "filters took longer than \(budget) s for from=<\(transaction.reversePath)>: message accepted and kept without filter decisions")
                commit(transaction, filterResults: nil, authentication: authentication, client: client, completion: completion)
            }
        }
        DispatchQueue.global().async {
            let outcome = gate.evaluate(transaction)
            evaluations.release()
            if decision.claim() {
                Deadlines.shared.cancel(deadline)
                switch outcome {
                case .reject(let reply):
                    let to = transaction.recipients.map { "<\($0.address)>" }.joined(separator: ",")
                    logger.info("NOQUEUE: filter reject: client=[\(client.ip)], from=<\(transaction.reversePath)>, to=\(to): \(reply)")
                    completion(.failed(reply))
                case .proceed(let kept, let filterResults):
                    commit(kept, filterResults: filterResults, authentication: authentication, client: client, completion: completion)
                }
            }
        }
    }

    func commit(
        _ transaction: SMTPTransaction, filterResults: String?, authentication: InboundMessage.Authentication?, client: SMTPClientInfo,
        completion: @escaping @Sendable (DeliveryResult) -> Void
    ) {
        let queueID = Spool.newQueueID()
        let now = Store.nowMillis()
        let received = ReceivedHeader.make(
            heloName: transaction.heloName, clientIP: client.ip, hostname: hostname,
            protocolName: transaction.protocolName, queueID: queueID, recipients: transaction.recipients,
            unixTime: now / 1000)
        let to = transaction.recipients.map { "<\($0.address)>" }.joined(separator: ",")
        let message = InboundMessage(
            smtp: transaction, queueID: queueID, receivedAt: now, clientIP: client.ip, receivedHeader: received, filterResults: filterResults,
            authentication: authentication)
        let logger = self.logger
        let onCommitted = self.onCommitted
        spool.commit(message) { result in
            switch result {
            case .success:
                logger.info(
                    "\(queueID): client=[\(client.ip)], helo=\(transaction.heloName), from=<\(transaction.reversePath)>, to=\(to), size=\(transaction.body.count), proto=\(transaction.protocolName), result=250 queued"
                )
                // The processor is woken before the client hears 250, so whoever
                // waits on the reply sees the wake-up already done.
                onCommitted()
                completion(.accepted(queueID: queueID))
            case .failure(let error):
                logger.error(
                    "\(queueID): client=[\(client.ip)], from=<\(transaction.reversePath)>, to=\(to), size=\(transaction.body.count), result=451 not stored: \(error)"
                )
                completion(.failed(.spoolUnavailable))
            }
        }
    }
}

/// A counting limit on concurrent work.
final class EvaluationSlots: Sendable {
    let limit: Int
    let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    func take() -> Bool {
        used.withLock { used in
            guard used < limit else { return false }
            used += 1
            return true
        }
    }

    func release() { used.withLock { $0 = max(0, $0 - 1) } }
}
