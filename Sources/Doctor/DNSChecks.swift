import MailAuth
import NetAddress

/// The DNS an operator must get right for a mail server, checked against what Postroom
/// is configured with: the host name's addresses and their PTR (forward-confirmed
/// reverse DNS), each inbox domain's MX, and each sending domain's SPF (for the
/// addresses mail really leaves from), DKIM (the published key against the key file)
/// and DMARC. Pure over `DNSLookup`: tests run it against a local DNS server or a table.
public struct DNSChecks: Sendable {
    let dns: any DNSLookup
    /// `ip:port` of the resolver, named when it fails.
    let resolver: String

    public init(dns: any DNSLookup, resolver: String) {
        self.dns = dns
        self.resolver = resolver
    }

    func failed(_ check: String, _ question: String, _ failure: DNSLookupFailure) -> Finding {
        .warning(check, "cannot ask DNS for \(question): \(failure.reason)", fix: "check that the resolver \(resolver) answers (outbound.resolver)")
    }

    static func same(_ a: String, _ b: String) -> Bool {
        func norm(_ s: String) -> String { (s.hasSuffix(".") ? String(s.dropLast()) : s).lowercased() }
        return norm(a) == norm(b)
    }

    /// The host name's A/AAAA records and each address's PTR. Returns the public
    /// addresses found (what direct delivery sends from, for the SPF check).
    public func hostname(_ hostname: String) async -> (findings: [Finding], addresses: [IPAddress]) {
        var out: [Finding] = []
        guard hostname.contains("." as Character), hostname.lowercased() != "localhost" else {
            return (
                [
                    .problem(
                        "hostname", "hostname is '\(hostname)', not a name other mail servers can look up",
                        fix: "set hostname (POSTROOM_HOSTNAME) to this server's public name, the one its MX and PTR records name")
                ], []
            )
        }
        var addresses: [IPAddress] = []
        for (type, lookup) in [("A", { () async throws(DNSLookupFailure) -> [IPAddress] in try await dns.a(hostname) }), ("AAAA", { () async throws(DNSLookupFailure) -> [IPAddress] in try await dns.aaaa(hostname) })] {
            do {
                addresses += try await lookup()
            } catch {
                out.append(failed("hostname", "\(type) \(hostname)", error))
            }
        }
        guard !addresses.isEmpty else {
            out.append(
                .problem(
                    "hostname", "\(hostname) has no A or AAAA record",
                    fix: "publish \(hostname). IN A <this server's public IPv4 address> (and AAAA for IPv6)"))
            return (out, [])
        }
        out.append(.ok("hostname", "\(hostname) has \(addresses.map(\.description).joined(separator: ", "))"))
        for address in addresses {
            if address.isInternal {
                out.append(
                    .warning(
                        "hostname", "\(hostname) has \(address), a private or loopback address: mail servers on the internet cannot reach it",
                        fix: "publish the public address (fine as it is for a server that only takes mail on a LAN)"))
                continue
            }
            let names: [String]
            do {
                names = try await dns.ptr(address)
            } catch {
                out.append(failed("hostname", "PTR \(address.reverseLookupName)", error))
                continue
            }
            if names.contains(where: { Self.same($0, hostname) }) {
                out.append(.ok("hostname", "PTR of \(address) is \(hostname) (forward-confirmed)"))
            } else if names.isEmpty {
                out.append(
                    .problem(
                        "hostname", "\(address) has no PTR record: many receivers refuse or file as spam mail from an address without reverse DNS",
                        fix: "ask whoever runs \(address) (the hosting provider) to set its reverse DNS to \(hostname)"))
            } else {
                out.append(
                    .problem(
                        "hostname", "PTR of \(address) is \(names.joined(separator: ", ")), not \(hostname): its reverse DNS does not confirm the name",
                        fix: "ask whoever runs \(address) to set its reverse DNS to \(hostname), or set hostname to \(names[0])"))
            }
        }
        return (out, addresses.filter { !$0.isInternal })
    }

    /// An inbox domain's MX: present, and naming this server (by name or address).
    public func mx(domain: String, hostname: String, hostAddresses: [IPAddress]) async -> [Finding] {
        let hosts: [String]
        do {
            hosts = try await dns.mx(domain)
        } catch {
            return [failed("mx", "MX \(domain)", error)]
        }
        guard !hosts.isEmpty else {
            return [
                .problem(
                    "mx", "\(domain) has no MX record: mail for its addresses does not come here",
                    fix: "publish \(domain). IN MX 10 \(hostname). (or forward the existing mailbox to the inbox's fallback address)")
            ]
        }
        if hosts.contains(where: { Self.same($0, hostname) }) {
            return [.ok("mx", "MX of \(domain) is \(hostname)")]
        }
        for host in hosts {
            let addresses = ((try? await dns.a(host)) ?? []) + ((try? await dns.aaaa(host)) ?? [])
            if addresses.contains(where: { hostAddresses.contains($0) }) {
                return [.ok("mx", "MX of \(domain) is \(host), an address of \(hostname)")]
            }
        }
        return [
            .warning(
                "mx", "MX of \(domain) is \(hosts.joined(separator: ", ")), not this server (\(hostname))",
                fix: "publish \(domain). IN MX 10 \(hostname). to receive its mail here directly, or have \(hosts[0]) forward the inbox's addresses here")
        ]
    }

    /// A sending domain's SPF record, evaluated for each address mail leaves from.
    /// `via` says what those addresses are (this host, or the relay).
    public func spf(domain: String, hostname: String, senders: [IPAddress], via: String) async -> [Finding] {
        let records: [String]
        do {
            records = try await dns.txt(domain).filter { $0.lowercased() == "v=spf1" || $0.lowercased().hasPrefix("v=spf1 ") }
        } catch {
            return [failed("spf", "TXT \(domain)", error)]
        }
        let suggestion = "publish \(domain). IN TXT \"v=spf1 \(senders.isEmpty ? "a:\(hostname)" : senders.map { ($0.isV4 ? "ip4:" : "ip6:") + $0.description }.joined(separator: " ")) -all\""
        guard !records.isEmpty else {
            return [.problem("spf", "\(domain) has no SPF record: receivers cannot tell our mail from forgeries", fix: suggestion)]
        }
        guard records.count == 1 else {
            return [.problem("spf", "\(domain) has \(records.count) SPF records (a permerror for every receiver)", fix: "merge them into one")]
        }
        guard !senders.isEmpty else {
            return [.ok("spf", "\(domain) has an SPF record (\(records[0])); no public sending address known to evaluate it for")]
        }
        var out: [Finding] = []
        let checker = SPFChecker(dns: dns, receiver: hostname)
        for ip in senders {
            let outcome = await checker.checkMailFrom(ip: ip, mailFrom: "postmaster@\(domain)", helo: hostname)
            if outcome.result == .pass {
                out.append(.ok("spf", "SPF of \(domain) passes mail from \(ip) (\(via))"))
            } else {
                out.append(
                    .problem(
                        "spf", "SPF of \(domain) gives \(outcome.result.rawValue) for \(ip) (\(via)): \(outcome.reason)",
                        fix: "add \(ip.isV4 ? "ip4" : "ip6"):\(ip) to \(domain)'s SPF record (\(records[0]))"))
            }
        }
        return out
    }

    /// Each configured key's record at `selector._domainkey.domain` against the key file.
    public func dkim(domain: String, keys: [(selector: String, k: String, p: String)], keyFolder: String) async -> [Finding] {
        guard !keys.isEmpty else {
            return [
                .warning(
                    "dkim", "no DKIM key for \(domain): replies from it leave unsigned, and DMARC then rests on SPF alone",
                    fix: "postroom dkim keygen \(domain) postroom --algorithm rsa (then publish the record it prints and run postroom config reload)")
            ]
        }
        var out: [Finding] = []
        for key in keys {
            let name = "\(key.selector)._domainkey.\(domain)"
            let publish = "publish \(name). IN TXT \"v=DKIM1; k=\(key.k); p=\(key.p)\" (postroom dkim keygen printed it split for zone files)"
            let records: [String]
            do {
                records = try await dns.txt(name)
            } catch {
                out.append(failed("dkim", "TXT \(name)", error))
                continue
            }
            guard let record = records.first(where: { (try? TagList.parse($0))?["p"] != nil }) else {
                out.append(.problem("dkim", "\(name) has no DKIM key record: receivers cannot verify mail signed with \(key.selector)", fix: publish))
                continue
            }
            guard let tags = try? TagList.parse(record) else { continue }
            let published = (tags["p"] ?? "").filter { !$0.isWhitespace }
            let k = tags["k"] ?? "rsa"
            if published.isEmpty {
                out.append(.problem("dkim", "\(name) is revoked (empty p=) but the key file \(keyFolder)/\(domain).\(key.selector).key still signs", fix: "remove the key file, or publish its key: \(publish)"))
            } else if published != key.p || k.lowercased() != key.k {
                out.append(
                    .problem(
                        "dkim", "\(name) publishes a different key than \(keyFolder)/\(domain).\(key.selector).key: every signature fails",
                        fix: publish))
            } else {
                out.append(.ok("dkim", "\(name) publishes the key in \(domain).\(key.selector).key (\(key.k))"))
            }
        }
        return out
    }

    /// A sending domain's DMARC policy (at the domain, else its organisational domain).
    public func dmarc(domain: String, suffixes: PublicSuffixList = .shared) async -> [Finding] {
        var names = ["_dmarc.\(domain)"]
        let organisational = suffixes.organizationalDomain(domain)
        if organisational != domain { names.append("_dmarc.\(organisational)") }
        for name in names {
            let records: [String]
            do {
                records = try await dns.txt(name).filter { $0.hasPrefix("v=DMARC1") }
            } catch {
                return [failed("dmarc", "TXT \(name)", error)]
            }
            guard let record = records.first else { continue }
            guard records.count == 1, let tags = try? TagList.parse(record), let policy = tags["p"] else {
                return [.problem("dmarc", "\(name) is not one valid DMARC record (\(records.joined(separator: " | ")))", fix: "publish one record: \(name). IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@\(domain)\"")]
            }
            if policy == "none" {
                return [
                    .ok("dmarc", "\(name): p=none (receivers report but do not act; move to p=quarantine once the reports show only your own mail passing)")
                ]
            }
            return [.ok("dmarc", "\(name): p=\(policy)")]
        }
        return [
            .warning(
                "dmarc", "\(domain) has no DMARC record: receivers apply no policy to forgeries of it, and some rate its mail lower",
                fix: "publish _dmarc.\(domain). IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@\(domain)\"")
        ]
    }
}
