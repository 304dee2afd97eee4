import Dispatch
import Foundation
import Logging
import SMTPProtocol
import Sieve
import Store
import Synchronization

/// Inbox ids to slugs (filters are named by slug) and the per-inbox settings the SMTP
/// side needs before the 250, refreshed with the directory.
public final class InboxSlugs: Sendable {
    let value = Mutex<[Int64: String]>([:])
    let dmarcReject = Mutex<[Int64: String]>([:])

    public init() {}

    public subscript(_ id: Int64) -> String? { value.withLock { $0[id] } }

    public func set(_ slugs: [Int64: String]) { value.withLock { $0 = slugs } }

    public func set(_ inboxes: [Inbox]) {
        value.withLock { $0 = Dictionary(uniqueKeysWithValues: inboxes.map { ($0.id, $0.slug) }) }
        dmarcReject.withLock { $0 = Dictionary(uniqueKeysWithValues: inboxes.compactMap { i in i.dmarcReject.map { (i.id, $0) } }) }
    }

    /// The inbox's action for DMARC fail under p=reject, or the server default.
    public func dmarcRejectAction(_ inbox: Int64, default value: String) -> String { dmarcReject.withLock { $0[inbox] } ?? value }
}

/// Runs the inbox filters before the 250, off the event loop. A reject answers the
/// client with 550 5.7.1 and its reason (for the recipients whose inbox rejects);
/// every other decision is stored with the message for processing to carry out.
public struct FilterGate: Sendable {
    public let filters: FilterSet
    public let slugs: InboxSlugs
    let logger: Logger

    public init(filters: FilterSet, slugs: InboxSlugs, logger: Logger = Logger(label: "postroom.filters")) {
        self.filters = filters
        self.slugs = slugs
        self.logger = logger
    }

    public enum Outcome: Sendable {
        case proceed(SMTPTransaction, filterResults: String?)
        case reject(SMTPReply)
    }

    public var isActive: Bool { filters.hasScripts }

    public func evaluate(_ transaction: SMTPTransaction) -> Outcome {
        var byInbox: [Int64: [SMTPRecipient]] = [:]
        for recipient in transaction.recipients { byInbox[recipient.inboxID, default: []].append(recipient) }
        var message = SieveMessage(raw: transaction.body, envelopeFrom: transaction.reversePath.description, envelopeTo: "")
        var decisions: [String: FilterDecision] = [:]
        var rejected: [Int64: String] = [:]
        for (inbox, recipients) in byInbox.sorted(by: { $0.key < $1.key }) {
            guard let slug = slugs[inbox] else { continue }
            message.envelopeTo = recipients[0].address.description
            guard let result = filters.evaluate(inbox: slug, message: message) else { continue }
            if let error = result.runtimeError {
                logger.warning("filters for \(slug): runtime error, message kept: \(error)")
            }
            let decision = FilterDecision(result)
            if let reason = decision.rejection {
                rejected[inbox] = reason
            } else {
                decisions[slug] = decision
            }
        }
        if !rejected.isEmpty && rejected.count == byInbox.count {
            let reason = rejected.sorted(by: { $0.key < $1.key }).first?.value ?? "rejected by the inbox filters"
            return .reject(SMTPReply(550, "5.7.1", Self.oneLine(reason)))
        }
        var kept = transaction
        kept.recipients = transaction.recipients.filter { rejected[$0.inboxID] == nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = decisions.isEmpty ? nil : (try? encoder.encode(decisions)).map { String(decoding: $0, as: UTF8.self) }
        return .proceed(kept, filterResults: json)
    }

    /// Filters for mail pulled from a connected mailbox: there is no SMTP dialogue to
    /// answer a reject in, so a reject is logged and the message kept (nothing that
    /// reached the team's mailbox is dropped).
    public func evaluatePulled(_ raw: [UInt8], inbox slug: String, from: String, to: String) -> String? {
        guard let result = filters.evaluate(inbox: slug, message: SieveMessage(raw: raw, envelopeFrom: from, envelopeTo: to)) else { return nil }
        if let error = result.runtimeError { logger.warning("filters for \(slug): runtime error, message kept: \(error)") }
        let decision = FilterDecision(result)
        if decision.rejection != nil { logger.notice("filters for \(slug): reject on pulled mail cannot be answered; message kept") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode([slug: decision])).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A reason fit for one SMTP reply line.
    public static func oneLine(_ text: String) -> String {
        let line = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
        let printable = String(String.UnicodeScalarView(line.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }))
        return printable.isEmpty ? "Message rejected" : String(printable.prefix(200))
    }
}
