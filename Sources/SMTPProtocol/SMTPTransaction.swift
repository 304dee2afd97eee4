import NetAddress
/// A recipient accepted by RCPT TO, already resolved to the inbox that owns it.
public struct SMTPRecipient: Sendable, Equatable {
    /// The address as the client wrote it.
    public var address: MailboxAddress
    public var inboxID: Int64
    /// The inbox address it matched (`local@domain`, lower-cased, without the tag).
    public var canonical: String
    /// The `+tag` of a subaddress, as written.
    public var tag: String?

    public init(address: MailboxAddress, inboxID: Int64, canonical: String, tag: String?) {
        self.address = address
        self.inboxID = inboxID
        self.canonical = canonical
        self.tag = tag
    }
}

/// Everything a finished mail transaction hands to the spool.
public struct SMTPTransaction: Sendable, Equatable {
    public var reversePath: ReversePath
    public var recipients: [SMTPRecipient]
    /// The message exactly as received, after dot-unstuffing (DATA) or as chunked (BDAT).
    public var body: [UInt8]
    public var heloName: String
    /// RFC 3848 `with` keyword: SMTP, ESMTP, ESMTPS, UTF8SMTP, UTF8SMTPS.
    public var protocolName: String
    public var tls: Bool
    public var smtputf8: Bool
    /// BODY= parameter of MAIL (7BIT or 8BITMIME), if given.
    public var bodyType: String?
    public var chunked: Bool

    public init(
        reversePath: ReversePath, recipients: [SMTPRecipient], body: [UInt8], heloName: String, protocolName: String,
        tls: Bool, smtputf8: Bool, bodyType: String?, chunked: Bool
    ) {
        self.reversePath = reversePath
        self.recipients = recipients
        self.body = body
        self.heloName = heloName
        self.protocolName = protocolName
        self.tls = tls
        self.smtputf8 = smtputf8
        self.bodyType = bodyType
        self.chunked = chunked
    }
}

/// What the spool answered for a transaction.
public enum DeliveryResult: Sendable, Equatable {
    case accepted(queueID: String)
    case failed(SMTPReply)
}
