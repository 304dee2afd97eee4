import Dispatch
import Foundation
import Conversations
import Logging
import SMTPProtocol
import SMTPServer
import Store
import Synchronization

/// Connects the SMTP server to the durable spool: assigns the queue id, builds the
/// Received header, commits, and logs one line per message as Postfix does.
struct SpoolSink: SMTPMessageSink {
    let spool: Spool
    let hostname: String
    let logger: Logger
    /// Called once a message is durable (wakes the processor).
    var onCommitted: @Sendable () -> Void = {}
    /// The inbox filters, run before the 250 when any script exists.
    var gate: FilterGate?
    /// Seconds the filters may take before the 250 (processing.budget).
    var filterBudget: Double = 30
    /// Filter runs going on at once, those past their budget included (they cannot be
    /// stopped): past the limit a message is accepted without filter decisions rather
    /// than piling up threads.
    let evaluations = EvaluationSlots(limit: max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))

    func deliver(_ transaction: SMTPTransaction, client: SMTPClientInfo, completion: @escaping @Sendable (DeliveryResult) -> Void) {
        guard let gate, gate.isActive else {
            commit(transaction, filterResults: nil, client: client, completion: completion)
            return
        }
        // Parsing and running scripts is CPU work: keep it off the event loop. Within a
        // budget: past it the message is accepted and kept without filter decisions
        // (the client is never held hostage by a slow script or message).
        guard evaluations.take() else {
            logger.warning("filters busy (\(evaluations.limit) runs at once) for from=<\(transaction.reversePath)>: message accepted and kept without filter decisions")
            commit(transaction, filterResults: nil, client: client, completion: completion)
            return
        }
        let evaluations = self.evaluations
        let decision = Once()
        let budget = filterBudget
        DispatchQueue.global().asyncAfter(deadline: .now() + budget) {
            if decision.claim() {
                logger.warning(
                    "filters took longer than \(budget) s for from=<\(transaction.reversePath)>: message accepted and kept without filter decisions")
                commit(transaction, filterResults: nil, client: client, completion: completion)
            }
        }
        DispatchQueue.global().async {
            let outcome = gate.evaluate(transaction)
            evaluations.release()
            if decision.claim() {
                switch outcome {
                case .reject(let reply):
                    let to = transaction.recipients.map { "<\($0.address)>" }.joined(separator: ",")
                    logger.info("NOQUEUE: filter reject: client=[\(client.ip)], from=<\(transaction.reversePath)>, to=\(to): \(reply)")
                    completion(.failed(reply))
                case .proceed(let kept, let filterResults):
                    commit(kept, filterResults: filterResults, client: client, completion: completion)
                }
            }
        }
    }

    func commit(_ transaction: SMTPTransaction, filterResults: String?, client: SMTPClientInfo, completion: @escaping @Sendable (DeliveryResult) -> Void) {
        let queueID = Spool.newQueueID()
        let now = Store.nowMillis()
        let received = ReceivedHeader.make(
            heloName: transaction.heloName, clientIP: client.ip, hostname: hostname,
            protocolName: transaction.protocolName, queueID: queueID, recipients: transaction.recipients,
            unixTime: now / 1000)
        let to = transaction.recipients.map { "<\($0.address)>" }.joined(separator: ",")
        let entry = SpoolEntry(
            queueID: queueID, receivedAt: now, clientIP: client.ip, receivedHeader: received, transaction: transaction,
            filterResults: filterResults)
        let logger = self.logger
        let onCommitted = self.onCommitted
        spool.commit(entry) { result in
            switch result {
            case .success:
                logger.info(
                    "\(queueID): client=[\(client.ip)], helo=\(transaction.heloName), from=<\(transaction.reversePath)>, to=\(to), size=\(transaction.body.count), proto=\(transaction.protocolName), result=250 queued"
                )
                completion(.accepted(queueID: queueID))
                onCommitted()
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
