import ArgumentParser
import DKIM
import DNSClient
import Doctor
import Foundation
import MailAuth
import NetAddress
import SMTPClient
import Settings
import Store
import TransportSupport

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what an operator gets wrong: DNS (A/AAAA, PTR, MX, SPF, DKIM, DMARC), the TLS certificate, ports, file modes, the relay.",
        discussion: """
            Like `postfix check`, with each finding's fix. DNS questions go to outbound.resolver (or /etc/resolv.conf's). \
            Inbox domains come from the store; sending domains are the inboxes' own addresses' domains. \
            Exit 0 when nothing is a problem (warnings allowed), 78 when something is.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("domain"), help: "Also check this domain as an inbox and sending domain (repeatable).") var domains: [String] = []
    @Flag(help: "Print JSON: {\"findings\": [{\"severity\", \"check\", \"message\", \"fix\"}], \"problems\": n, \"warnings\": n}.") var json = false

    func run() async throws {
        let config = try loadConfig(global)
        var findings: [Finding] = []
        let resolver = MXResolver(setting: config.outboundResolver)
        let dns = DNSChecks(dns: AuthLookup(resolver: resolver), resolver: "\(resolver.server):\(resolver.port)")

        // Which domains: the inboxes' addresses (read from the store when there is one).
        var inboxDomains: [String] = []
        if FileManager.default.fileExists(atPath: (config.dataDir as NSString).appendingPathComponent("postroom.sqlite")) {
            for inbox in try await openStore(config).listInboxes() {
                inboxDomains += (inbox.addresses + [inbox.fallbackAddress]).compactMap { $0.split(separator: "@").last.map { $0.lowercased() } }
            }
        } else {
            findings.append(.warning("files", "no store in \(config.dataDir) yet: inbox domains are not known", fix: "run postroom serve once, or give --data-dir"))
        }
        inboxDomains += domains.map { $0.lowercased() }
        inboxDomains.append(config.effectiveFallbackDomain)
        inboxDomains = unique(inboxDomains)
        // Sending domains: what inboxes send from; the fallback domain only when an inbox has no address of its own.
        let sendingDomains = unique(inboxDomains)

        let (hostFindings, hostAddresses) = await dns.hostname(config.hostname)
        findings += hostFindings
        for domain in inboxDomains {
            findings += await dns.mx(domain: domain, hostname: config.hostname, hostAddresses: hostAddresses)
        }

        // Where mail leaves from: this host, or the relay.
        let relay = LiveConfiguration.relay(config)
        var senders = hostAddresses
        var via = "this host, delivering directly"
        if let relay {
            let lookup = AuthLookup(resolver: resolver)
            let addresses = ((try? await lookup.a(relay.host)) ?? []) + ((try? await lookup.aaaa(relay.host)) ?? []) + [IPAddress(relay.host)].compactMap { $0 }
            senders = addresses.filter { !$0.isInternal }
            via = "the relay \(relay.host)"
        }
        let signers: [String: DKIMSigner]
        do {
            signers = try DKIMSigner.load(folder: config.effectiveDKIMDir)
        } catch {
            signers = [:]
            findings.append(.problem("dkim", "cannot load the DKIM keys in \(config.effectiveDKIMDir): \(error)", fix: "fix or remove the key file it names"))
        }
        for domain in sendingDomains {
            if senders.isEmpty, relay != nil {
                findings.append(
                    .warning(
                        "spf", "the relay \(relay?.host ?? "") has no public address known here, so \(domain)'s SPF cannot be evaluated for it",
                        fix: "make sure \(domain)'s SPF record includes the relay provider's (e.g. include:<provider's SPF domain>)"))
            } else {
                findings += await dns.spf(domain: domain, hostname: config.hostname, senders: senders, via: via)
            }
            findings += await dns.dkim(domain: domain, keys: signers[domain]?.publishedKeys ?? [], keyFolder: config.effectiveDKIMDir)
            findings += await dns.dmarc(domain: domain)
        }

        findings += tlsFindings(config)
        findings += LocalChecks.listeners(smtpListen: config.smtpListen, smtpPort: config.smtpPort, httpListen: config.httpListen, httpPort: config.httpPort)
        findings += await portFindings(config)
        findings += LocalChecks.permissions(secretFiles(config), user: getuid())

        if let relay {
            let probe = await SMTPClient(heloName: config.hostname, logger: .init(label: "postroom.doctor")).probe(relay)
            if probe.ok {
                findings.append(
                    .ok("relay", "\(probe.relay) takes a session (\(probe.tls ? "TLS" : "no TLS"), \(probe.authenticated ? "authenticated as \(relay.username ?? "")" : "no AUTH"))"))
                if !probe.tls {
                    findings.append(.warning("relay", "replies go to \(probe.relay) unencrypted", fix: "set outbound.security: starttls-required or implicit, if the relay offers TLS"))
                }
            } else {
                findings.append(
                    .problem(
                        "relay", "\(probe.relay) (\(probe.security)): \(probe.error ?? "failed")",
                        fix: "check outbound.relay, outbound.security, outbound.username and POSTROOM_OUTBOUND_PASSWORD; replies stay queued until it works"))
            }
        } else {
            findings.append(.ok("relay", "no relay: replies go directly to each recipient's MX (outbound port 25 must be open)"))
        }

        let report = DoctorReport(findings)
        if json { try printJSON(report) } else { print(report.text) }
        if report.problems > 0 { throw ExitCode(Exit.config) }
    }

    func unique(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }

    func tlsFindings(_ config: PostroomConfig) -> [Finding] {
        let path = config.tlsCertificate ?? ((config.dataDir as NSString).appendingPathComponent("tls/selfsigned-cert.pem"))
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            if config.tlsCertificate == nil {
                return [.warning("tls", "no certificate yet: postroom serve makes a self-signed one on first start", fix: "set smtp.tls-certificate and smtp.tls-key to a CA-signed pair for \(config.hostname)")]
            }
            return [.problem("tls", "cannot read the certificate \(path) (smtp.tls-certificate)", fix: "check the path and that the server's user can read it")]
        }
        do {
            let facts = try LocalChecks.CertificateFacts.read(pem: pem)
            return LocalChecks.certificate(facts, path: path, configured: config.tlsCertificate != nil, hostname: config.hostname)
        } catch {
            return [.problem("tls", "\(path) is not a PEM certificate: \(error)", fix: "set smtp.tls-certificate to the certificate chain in PEM")]
        }
    }

    /// A listener's port: free, used by this Postroom, or taken by something else.
    func portFindings(_ config: PostroomConfig) async -> [Finding] {
        var out: [Finding] = []
        let running = (try? String(contentsOfFile: ServerAPI.addressFile(config), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        for (what, host, port, key) in [("SMTP", config.smtpListen, config.smtpPort, "smtp.port"), ("HTTP", config.httpListen, config.httpPort, "http.port")] {
            guard let problem = await ListenerProbe.problem(host: host, port: port) else {
                out.append(.ok("ports", "\(what) \(host):\(port) is free for postroom serve"))
                continue
            }
            if problem.contains("in use"), let running, await ServerAPI.answers(running) {
                out.append(.ok("ports", "\(what) \(host):\(port) is in use, by the running Postroom (its API answers at \(running))"))
            } else {
                out.append(.problem("ports", "\(what) \(host):\(port) (\(key)): \(problem)", fix: "stop what listens there (ss -ltnp 'sport = :\(port)') or choose another \(key)"))
            }
        }
        return out
    }

    /// The data dir, and each file in it and its tls/ and dkim/ folders, and the key files named in the config.
    func secretFiles(_ config: PostroomConfig) -> [LocalChecks.FileFacts] {
        var paths: [String] = []
        let fm = FileManager.default
        for folder in [config.dataDir, (config.dataDir as NSString).appendingPathComponent("tls"), config.effectiveDKIMDir] {
            guard let names = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            paths.append(folder)
            for name in names.sorted() where !name.hasPrefix(".") && name != "http-address" {
                let path = (folder as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { paths.append(path) }
            }
        }
        if let key = config.tlsKey { paths.append(key) }
        return unique(paths).compactMap { LocalChecks.FileFacts.read($0, secret: true) }
    }
}
