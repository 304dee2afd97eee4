import Logging
import SMTPProtocol
import SMTPServer
import Store

/// Connects the SMTP server to the durable spool: assigns the queue id, builds the
/// Received header, commits, and logs one line per message as Postfix does.
struct SpoolSink: SMTPMessageSink {
    let spool: Spool
    let hostname: String
    let logger: Logger
    /// Called once a message is durable (wakes the processor).
    var onCommitted: @Sendable () -> Void = {}

    func deliver(_ transaction: SMTPTransaction, client: SMTPClientInfo, completion: @escaping @Sendable (DeliveryResult) -> Void) {
        let queueID = Spool.newQueueID()
        let now = Store.nowMillis()
        let received = ReceivedHeader.make(
            heloName: transaction.heloName, clientIP: client.ip, hostname: hostname,
            protocolName: transaction.protocolName, queueID: queueID, recipients: transaction.recipients,
            unixTime: now / 1000)
        let to = transaction.recipients.map { "<\($0.address)>" }.joined(separator: ",")
        let entry = SpoolEntry(queueID: queueID, receivedAt: now, clientIP: client.ip, receivedHeader: received, transaction: transaction)
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
