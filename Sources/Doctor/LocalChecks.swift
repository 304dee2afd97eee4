import Foundation
import NetAddress
import X509

/// What doctor checks on this machine: the STARTTLS certificate, the listeners'
/// settings, and the modes of the files that hold secrets. The facts are gathered by
/// small functions below; the judgements are pure and tested from plain values.
public enum LocalChecks {
    /// What matters about a certificate, read from its PEM.
    public struct CertificateFacts: Sendable, Equatable {
        public var notAfter: Date
        public var notBefore: Date
        /// DNS names in subjectAltName, else the subject's CN.
        public var names: [String]
        public var selfSigned: Bool

        public init(notAfter: Date, notBefore: Date, names: [String], selfSigned: Bool) {
            self.notAfter = notAfter
            self.notBefore = notBefore
            self.names = names
            self.selfSigned = selfSigned
        }

        /// The first certificate of a PEM chain.
        public static func read(pem: String) throws -> CertificateFacts {
            let certificate = try Certificate(pemEncoded: pem)
            var names: [String] = []
            if let san = try? certificate.extensions.subjectAlternativeNames {
                for name in san {
                    if case .dnsName(let dns) = name { names.append(dns) }
                }
            }
            if names.isEmpty {
                names = certificate.subject.compactMap { rdn in rdn.first { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" } }
            }
            return CertificateFacts(
                notAfter: certificate.notValidAfter, notBefore: certificate.notValidBefore, names: names,
                selfSigned: certificate.issuer == certificate.subject)
        }
    }

    /// Whether `pattern` (a name or `*.example.com`) covers `hostname` (RFC 6125 6.4.3:
    /// the wildcard stands for exactly one left-most label).
    public static func covers(_ pattern: String, _ hostname: String) -> Bool {
        let p = pattern.lowercased(), h = hostname.lowercased()
        if p == h { return true }
        guard p.hasPrefix("*.") else { return false }
        guard let dot = h.firstIndex(of: ".") else { return false }
        return h[h.index(after: dot)...] == p.dropFirst(2) && dot != h.startIndex
    }

    /// The STARTTLS certificate: in its dates, naming the host name, and not self-signed.
    public static func certificate(_ facts: CertificateFacts, path: String, configured: Bool, hostname: String, now: Date = Date()) -> [Finding] {
        var out: [Finding] = []
        let days = Int(facts.notAfter.timeIntervalSince(now) / 86400)
        if facts.notAfter < now {
            out.append(.problem("tls", "the certificate \(path) expired on \(ISO8601DateFormatter().string(from: facts.notAfter))", fix: "renew it (certbot renew), then restart postroom"))
        } else if facts.notBefore > now {
            out.append(.problem("tls", "the certificate \(path) is not valid before \(ISO8601DateFormatter().string(from: facts.notBefore))", fix: "check the machine's clock, or the certificate"))
        } else if days < 14 {
            out.append(.warning("tls", "the certificate \(path) expires in \(days) days", fix: "renew it (certbot renew), then restart postroom"))
        } else {
            out.append(.ok("tls", "the certificate \(path) is valid for \(days) more days"))
        }
        if facts.names.contains(where: { covers($0, hostname) }) {
            out.append(.ok("tls", "the certificate names \(hostname)"))
        } else {
            out.append(
                .problem(
                    "tls", "the certificate names \(facts.names.isEmpty ? "nothing" : facts.names.joined(separator: ", ")), not \(hostname): senders that verify (MTA-STS, DANE) refuse it",
                    fix: "get a certificate for \(hostname) (certbot certonly -d \(hostname)) and set smtp.tls-certificate and smtp.tls-key"))
        }
        if facts.selfSigned {
            out.append(
                .warning(
                    "tls", configured ? "the certificate \(path) is self-signed" : "STARTTLS uses the self-signed certificate made on first start (\(path))",
                    fix: "most senders still encrypt but do not authenticate it; for MTA-STS get one from a CA (certbot certonly -d \(hostname)) and set smtp.tls-certificate and smtp.tls-key"))
        }
        return out
    }

    /// Where the SMTP and HTTP listeners are, for an MX on the internet.
    public static func listeners(smtpListen: String, smtpPort: Int, httpListen: String, httpPort: Int) -> [Finding] {
        var out: [Finding] = []
        if smtpPort != 25 {
            out.append(
                .warning(
                    "ports", "SMTP listens on port \(smtpPort): other mail servers deliver to port 25",
                    fix: "set smtp.port: 25 (with CAP_NET_BIND_SERVICE), or redirect 25 to \(smtpPort) in the firewall; fine as it is behind a relay or for testing"))
        } else {
            out.append(.ok("ports", "SMTP listens on port 25"))
        }
        if let address = IPAddress(smtpListen), address.isLoopback {
            out.append(
                .warning("ports", "smtp.listen is \(smtpListen): only this machine can deliver", fix: "set smtp.listen: 0.0.0.0 (or the public address) for an MX"))
        }
        // Every interface (0.0.0.0, ::), a public address, or a name: reachable from outside.
        let httpAddress = IPAddress(httpListen)
        let everyInterface = httpAddress?.octets.allSatisfy { $0 == 0 } ?? false
        if everyInterface || !(httpAddress?.isInternal ?? false) {
            out.append(
                .warning(
                    "ports", "the admin HTTP API listens on \(httpListen):\(httpPort), reachable from outside: the token is the only protection",
                    fix: "bind http.listen to 127.0.0.1 or a private address and put a TLS proxy in front for remote use"))
        }
        return out
    }

    /// A file or folder and its mode, owner.
    public struct FileFacts: Sendable, Equatable {
        public var path: String
        public var mode: Int
        public var owner: UInt32
        public var isDirectory: Bool
        /// Whether it holds a secret (key, token, the store).
        public var secret: Bool

        public init(path: String, mode: Int, owner: UInt32, isDirectory: Bool, secret: Bool) {
            self.path = path
            self.mode = mode
            self.owner = owner
            self.isDirectory = isDirectory
            self.secret = secret
        }

        /// The facts of `path`, nil when it does not exist.
        public static func read(_ path: String, secret: Bool) -> FileFacts? {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value ?? 0
            return FileFacts(path: path, mode: mode, owner: owner, isDirectory: (attributes[.type] as? FileAttributeType) == .typeDirectory, secret: secret)
        }
    }

    /// Secrets readable by others, and files the server's user does not own.
    public static func permissions(_ files: [FileFacts], user: UInt32) -> [Finding] {
        var out: [Finding] = []
        var fine = 0
        for f in files {
            if f.owner != user {
                out.append(
                    .problem(
                        "files", "\(f.path) belongs to uid \(f.owner), not to the user running postroom (uid \(user)): the server may not be able to write it",
                        fix: "chown -R <the server's user> \(f.path)"))
            } else if f.secret && f.mode & 0o077 != 0 {
                let wanted = f.isDirectory ? "700" : "600"
                out.append(
                    .problem(
                        "files", "\(f.path) is readable by \(f.mode & 0o007 != 0 ? "every user" : "its group") (mode \(String(f.mode & 0o777, radix: 8))): it holds \(f.isDirectory ? "the store and keys" : "a secret")",
                        fix: "chmod \(wanted) \(f.path)"))
            } else {
                fine += 1
            }
        }
        if fine > 0 && out.isEmpty { out.append(.ok("files", "\(fine) files and folders with secrets are private to uid \(user)")) }
        return out
    }
}
