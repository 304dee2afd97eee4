import NetAddress
import SMTPProtocol
import Store

extension InboundMessage {
    /// A message received over SMTP, as the spool stores it.
    public init(
        smtp transaction: SMTPTransaction, queueID: String, receivedAt: Int64, clientIP: String, receivedHeader: String, filterResults: String? = nil,
        authentication: Authentication? = nil
    ) {
        self.init(
            queueID: queueID, receivedAt: receivedAt, channel: .smtp, reversePath: transaction.reversePath.description,
            recipients: transaction.recipients.map {
                Recipient(address: $0.address.description, canonical: $0.canonical, tag: $0.tag, inboxID: $0.inboxID)
            },
            raw: transaction.body,
            session: Session(
                clientIP: clientIP, helo: transaction.heloName, protocolName: transaction.protocolName, tls: transaction.tls,
                smtputf8: transaction.smtputf8, bodyType: transaction.bodyType, receivedHeader: receivedHeader),
            filterResults: filterResults, authentication: authentication)
    }
}

extension Store {
    /// The SMTP server's view of the owned addresses, with the version it was read at.
    public func recipientDirectory() async throws -> (version: Int64, directory: RecipientDirectory) {
        let snapshot = try await recipientAddresses()
        return (snapshot.version, RecipientDirectory(addresses: snapshot.addresses, postmasterInbox: snapshot.postmasterInbox))
    }
}
