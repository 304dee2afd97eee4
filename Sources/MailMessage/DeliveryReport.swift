/// A delivery status notification (RFC 3464): which recipients failed or were
/// delayed, with the status code and the remote server's diagnostic, and the
/// Message-ID of the message it reports on (from the returned message or headers).
public struct DeliveryReport: Sendable, Equatable, Codable {
    public struct Recipient: Sendable, Equatable, Codable {
        public var address: String
        /// failed, delayed, delivered, relayed, expanded
        public var action: String
        /// RFC 3463 code, e.g. 5.1.1
        public var status: String
        public var diagnostic: String?

        /// A permanent failure about the address itself: it should not be written to again.
        public var isHardBounce: Bool { action == "failed" && EnhancedStatus.isHardBounce(status) }
    }

    public var recipients: [Recipient]
    public var originalMessageID: String?
    public var reportingMTA: String?

    /// Finds the report in a parsed message (multipart/report; report-type=delivery-status).
    static func find(in root: MIMEPart, bytes: [UInt8]) -> DeliveryReport? {
        var statusParts: [MIMEPart] = []
        var original: String?
        root.walk { part in
            let type = part.contentType.value
            if type == "message/delivery-status" || type == "message/global-delivery-status" {
                statusParts.append(part)
            } else if part.isMessage, original == nil, let inner = part.children.first {
                original = inner.headers.first("Message-ID").flatMap { MessageIDs.parse($0.rawValue).first }
            } else if type == "text/rfc822-headers" || type == "message/rfc822-headers", original == nil {
                var warnings: [String] = []
                let (headers, _) = Headers.parse(bytes, range: part.bodyRange, warnings: &warnings)
                original = headers.first("Message-ID").flatMap { MessageIDs.parse($0.rawValue).first }
            }
        }
        guard !statusParts.isEmpty else { return nil }
        // Blocks of fields separated by blank lines: per-message, then one per recipient.
        // Some reporters send more than one status part (and free text in one of them).
        var blocks: [Headers] = []
        for statusPart in statusParts {
            let body = statusPart.decodedBody(in: bytes)
            var start = 0
            while start < body.count {
                var warnings: [String] = []
                let (headers, next) = Headers.parse(body, range: start..<body.count, warnings: &warnings)
                if !headers.fields.isEmpty { blocks.append(headers) }
                if next <= start { break }
                start = next
            }
        }
        var report = DeliveryReport(recipients: [], originalMessageID: original, reportingMTA: nil)
        for block in blocks {
            if let mta = block.first("Reporting-MTA")?.rawText { report.reportingMTA = value(mta) }
            guard let recipient = block.first("Final-Recipient")?.rawText ?? block.first("Original-Recipient")?.rawText else { continue }
            let status = block.first("Status")?.rawText.split(separator: " ").first.map(String.init) ?? ""
            report.recipients.append(
                Recipient(
                    address: value(recipient).trimmingCharacters(in: "<> ").lowercased(),
                    action: (block.first("Action")?.rawText ?? "").lowercased().trimmingCharacters(in: " "),
                    status: status,
                    diagnostic: block.first("Diagnostic-Code").map { value($0.rawText) }))
        }
        return report.recipients.isEmpty ? nil : report
    }

    /// `rfc822; user@example.com` → `user@example.com`.
    static func value(_ typed: String) -> String {
        guard let semicolon = typed.firstIndex(of: ";") else { return typed }
        return typed[typed.index(after: semicolon)...].trimmingCharacters(in: " \t")
    }
}
