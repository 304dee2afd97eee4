import Foundation

/// The configuration in effect, as one block of `key: value` lines: what the server
/// logs when it starts and what `postroom config show` prints, so an operator sees
/// the relay, the filters folder and the DKIM keys the server really uses. Secrets
/// (the admin token, the relay password) are never printed, only whether they are set.
public struct EffectiveConfiguration: Sendable {
    public var lines: [(key: String, value: String)]

    /// - Parameters:
    ///   - dkim: the signing keys found, as `domain (selector)`, from the keys folder.
    ///   - mailboxes: connected mailboxes as `id user@host/folder -> inbox`, when known.
    public init(_ config: PostroomConfig, dkim: [String], mailboxes: [String]?) {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var lines: [(String, String)] = []
        lines.append(("smtp", "\(config.smtpListen):\(config.smtpPort)\(config.tlsCertificate == nil ? ", STARTTLS with a self-signed certificate" : ", STARTTLS with \(config.tlsCertificate ?? "")")\(config.tlsRequired ? ", TLS required" : "")"))
        lines.append(("http", "\(config.httpListen):\(config.httpPort) (admin token \(config.adminToken == nil ? "from \(absolute(config.dataDir))/admin-token" : "set"))"))
        lines.append(("hostname", config.hostname))
        lines.append(("fallback-domain", config.effectiveFallbackDomain))
        lines.append(("data-dir", absolute(config.dataDir)))
        if config.outboundRelay.isEmpty {
            lines.append(("outbound", "direct to each recipient's MX (port \(config.outboundMXPort), resolver \(config.outboundResolver.isEmpty ? "from /etc/resolv.conf" : config.outboundResolver))"))
        } else {
            let auth = config.outboundUsername.map { " as \($0) (password \(config.outboundPassword == nil ? "not set" : "set"))" } ?? ", no AUTH"
            lines.append(("outbound", "relay \(config.outboundRelay), \(config.outboundSecurity)\(auth)\(config.outboundVerifyCertificate ? "" : ", certificate not verified")"))
        }
        lines.append(("dkim", dkim.isEmpty ? "no keys in \(absolute(config.effectiveDKIMDir)) (replies leave unsigned)" : "\(dkim.joined(separator: ", ")) from \(absolute(config.effectiveDKIMDir))"))
        lines.append(("filters", absolute(config.filtersDir)))
        lines.append(("auth", config.authEnabled ? "SPF, DKIM, DMARC, ARC before the 250; DMARC reject: \(config.authDMARCReject)" : "off (senders are not checked)"))
        lines.append(("processing", config.processingPaused ? "paused (mail is spooled, not filed)" : "on"))
        lines.append(("import.status", config.importStatus))
        if let mailboxes {
            lines.append(("mailboxes", mailboxes.isEmpty ? "none connected" : mailboxes.joined(separator: "; ")))
        }
        self.lines = lines
    }

    /// `key: value` lines, keys aligned.
    public var text: String {
        let width = lines.map(\.key.count).max() ?? 0
        return lines.map { $0.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.value }.joined(separator: "\n")
    }
}
