import MailAuth

/// The part of a sender-authentication report that processing acts on: who is
/// trusted, what the contact's badge says, whether DMARC failed. Stored in columns
/// beside the report, so filing a message does not decode the whole report.
struct AuthFacts: Sendable, Equatable {
    var verdict: String
    var verifiedBy: String
    var trusted: Bool
    var fromFailed: Bool
    var dmarcRejects: Bool

    init(verdict: String, verifiedBy: String, trusted: Bool, fromFailed: Bool, dmarcRejects: Bool) {
        self.verdict = verdict
        self.verifiedBy = verifiedBy
        self.trusted = trusted
        self.fromFailed = fromFailed
        self.dmarcRejects = dmarcRejects
    }

    init(_ report: AuthenticationReport) {
        self.init(
            verdict: report.verdict.rawValue, verifiedBy: report.verifiedBy, trusted: report.trusted, fromFailed: report.fromFailed,
            dmarcRejects: report.dmarcRejects)
    }
}
