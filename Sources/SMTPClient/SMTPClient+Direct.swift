import DNSClient
import NetAddress
import SMTPProtocol

extension SMTPClient {
    /// Delivers to a domain's own mail hosts, in preference order, moving on while a host
    /// cannot be reached or answers only temporarily (RFC 5321 5.1). Final answers are
    /// handed to `onOutcome` at once; a host's temporary answers only when no later host
    /// takes the mail. `onHost` learns which host is being tried (for log lines).
    public func deliverDirect(
        domain: String, _ transactions: [Transaction], resolver: MXResolver, port: Int = 25, allowInternal: Bool = false,
        onHost: @Sendable (String) async -> Void = { _ in }, onOutcome: @escaping OutcomeHandler
    ) async {
        func all(_ outcome: RecipientOutcome) async {
            for (i, t) in transactions.enumerated() {
                await onOutcome(i, Dictionary(t.recipients.map { ($0, outcome) }, uniquingKeysWith: { a, _ in a }))
            }
        }
        do {
            var fallback = MXFallback(domain: domain, recipients: transactions.map(\.recipients))
            hosts: for host in try await resolver.mailHosts(for: domain) {
                for address in try await resolver.addresses(of: host) {
                    guard allowInternal || !MXResolver.isInternal(address) else {
                        fallback.skip("\(host)[\(address)]")
                        continue
                    }
                    guard let attempt = fallback.nextAttempt() else { break hosts }
                    await onHost("\(host)[\(address)]")
                    let relay = SMTPRelay(host: address, port: port, security: .starttls, verifyCertificate: false)
                    let indices = attempt.map(\.index)
                    let results = await deliver(
                        attempt.map { Transaction(from: transactions[$0.index].from, recipients: $0.recipients, data: transactions[$0.index].data) },
                        via: relay,
                        onOutcome: { i, outcomes in
                            let final = MXFallback.final(outcomes)
                            if !final.isEmpty, indices.indices.contains(i) { await onOutcome(indices[i], final) }
                        })
                    for (i, outcomes) in zip(indices, results) { fallback.record(i, outcomes) }
                }
            }
            for (i, outcomes) in fallback.conclusion() where !outcomes.isEmpty { await onOutcome(i, outcomes) }
        } catch MXResolver.Failure.noMailHost(let why) {
            await all(.permanentFailure(SMTPReply(550, "5.1.2", why)))
        } catch {
            await all(.temporaryFailure(SMTPReply(451, "4.4.3", "DNS: \(error)")))
        }
    }
}
