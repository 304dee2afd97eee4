/// One configuration key: its dotted name (as in the YAML file), the environment
/// variable that overrides it, its documentation, and how a text value is checked and
/// applied. Parsing failures return a message that says what was expected.
public struct ConfigKey: Sendable {
    public let name: String
    public let help: String
    public let defaultText: String
    let apply: @Sendable (inout PostroomConfig, String) -> String?

    public var environmentName: String {
        "POSTROOM_" + name.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 }.map(String.init).joined()
    }

    /// Keys a reload (SIGHUP, `POST /api/config/reload`) applies to the running server;
    /// every other key needs a restart. The Sieve scripts in `filters.dir` reload too
    /// (the folder itself is fixed at start).
    public static let liveNames: Set<String> = [
        "outbound.relay", "outbound.security", "outbound.username", "outbound.password", "outbound.verify-certificate",
        "outbound.retry-schedule", "outbound.max-age", "dkim.dir", "automail.hourly-cap", "automail.per-recipient-cap",
    ]

    /// Whether a reload applies this key without a restart.
    public var live: Bool { Self.liveNames.contains(name) }

    public static func named(_ name: String) -> ConfigKey? {
        all.first { $0.name == name }
    }

    public static let all: [ConfigKey] = [
        string("hostname", "Name in the greeting, Received headers and the default fallback domain.", "localhost") {
            $0.hostname = $1
        },
        string("data-dir", "Folder for the SQLite store, TLS pair and admin token.", "./data") {
            $0.dataDir = $1
            $0.dataDirGiven = true
        },
        string("fallback-domain", "Domain of each inbox's fallback address.", "(hostname)") {
            $0.fallbackDomain = $1
        },
        string("admin-token", "Bearer token for the admin API; generated on first run when unset.", "(generated)") {
            $0.adminToken = $1
        },
        ConfigKey(name: "log-level", help: "trace, debug, info, notice, warning, error or critical.", defaultText: "info") {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains($1.lowercased()) else { return "expected one of \(levels.joined(separator: ", ")), got '\($1)'" }
            $0.logLevel = $1.lowercased()
            return nil
        },
        string("smtp.listen", "Address the SMTP listener binds.", "127.0.0.1") { $0.smtpListen = $1 },
        port("smtp.port", "SMTP port.", 2525) { $0.smtpPort = $1 },
        string("smtp.tls-certificate", "PEM certificate chain for STARTTLS; a self-signed pair is made when unset.", "(self-signed)") {
            $0.tlsCertificate = $1
        },
        string("smtp.tls-key", "PEM private key for STARTTLS.", "(self-signed)") { $0.tlsKey = $1 },
        bool("smtp.tls-required", "Refuse MAIL before STARTTLS (530 5.7.0).", false) { $0.tlsRequired = $1 },
        integer("smtp.max-command-line", "Octets in a command line incl. CRLF (500 5.5.6).", 512, 64...65536) {
            $0.maxCommandLine = $1
        },
        integer("smtp.max-text-line", "Octets in a message line incl. CRLF (550 5.6.0).", 1000, 80...1_000_000) {
            $0.maxTextLine = $1
        },
        size("smtp.max-message-size", "Largest message, e.g. 25M (552 5.3.4).", "25M") { $0.maxMessageSize = $1 },
        integer("smtp.max-recipients", "Recipients per message (452 4.5.3).", 100, 1...100_000) {
            $0.maxRecipients = $1
        },
        integer("smtp.max-sessions", "Concurrent SMTP sessions in total (421 4.7.0).", 500, 1...1_000_000) {
            $0.maxSessions = $1
        },
        integer("smtp.max-sessions-per-ip", "Concurrent SMTP sessions per client IP (421 4.7.0).", 50, 1...1_000_000) {
            $0.maxSessionsPerIP = $1
        },
        integer("smtp.max-errors", "Failed commands before the session is closed (421 4.7.0).", 10, 1...10000) {
            $0.maxErrors = $1
        },
        duration("smtp.idle-timeout", "Time without input before 421 4.4.2, e.g. 300s or 5m.", "5m") { $0.idleTimeout = $1 },
        duration("smtp.max-session-time", "Longest one SMTP session may last, whatever it sends (421 4.4.2).", "1h") { $0.maxSessionTime = $1 },
        duration("smtp.shutdown-grace", "How long shutdown waits for messages in DATA.", "30s") { $0.shutdownGrace = $1 },
        string("filters.dir", "Folder of Sieve filter scripts: global.sieve, then <inbox-slug>.sieve.", "./filters") { $0.filtersDir = $1 },
        string("dkim.dir", "Folder of DKIM keys, <domain>.<selector>.key (postroom dkim keygen writes them).", "(data-dir)/dkim") { $0.dkimDir = $1 },
        ConfigKey(name: "outbound.relay", help: "Relay for replies, host:port (e.g. smtp.example.com:587).", defaultText: "(none)") {
            guard $1.isEmpty || ($1.split(separator: ":").count == 2 && Int($1.split(separator: ":")[1]) != nil) else {
                return "expected host:port, got '\($1)'"
            }
            $0.outboundRelay = $1
            return nil
        },
        ConfigKey(name: "outbound.security", help: "none, starttls (opportunistic), starttls-required or implicit (TLS on connect).", defaultText: "starttls") {
            guard ["none", "starttls", "starttls-required", "implicit"].contains($1) else {
                return "expected none, starttls, starttls-required or implicit, got '\($1)'"
            }
            $0.outboundSecurity = $1
            return nil
        },
        string("outbound.username", "AUTH PLAIN/LOGIN user for the relay.", "(none)") { $0.outboundUsername = $1 },
        string("outbound.password", "Relay password (better: POSTROOM_OUTBOUND_PASSWORD).", "(none)") { $0.outboundPassword = $1 },
        string("outbound.resolver", "DNS server, ip or ip:port: MX lookups when there is no relay, and sender authentication.", "(/etc/resolv.conf)") { $0.outboundResolver = $1 },
        bool("auth.enabled", "Check SPF, DKIM, DMARC and ARC on every SMTP message before the 250.", true) { $0.authEnabled = $1 },
        duration("auth.timeout", "Longest the sender checks may take for one message; past it they are temperror and the message is kept.", "10s") {
            $0.authTimeout = $1
        },
        ConfigKey(
            name: "auth.dmarc-reject",
            help: "DMARC fail under p=reject: refuse (550 5.7.1), spam (file it in spam) or mark (keep it, marked); an inbox may override.",
            defaultText: "spam"
        ) {
            guard ["refuse", "spam", "mark"].contains($1) else { return "expected refuse, spam or mark, got '\($1)'" }
            $0.authDMARCReject = $1
            return nil
        },
        ConfigKey(
            name: "import.status",
            help: "Status of conversations that imported history (postroom import) opens: closed (it was answered then) or open.",
            defaultText: "closed"
        ) {
            guard ["closed", "open"].contains($1) else { return "expected closed or open, got '\($1)'" }
            $0.importStatus = $1
            return nil
        },
        port("outbound.mx-port", "Port of recipients' mail hosts for direct delivery.", 25) { $0.outboundMXPort = $1 },
        bool("outbound.allow-internal-mx", "Deliver to mail hosts on loopback or private addresses when there is no relay (tests, a LAN).", false) {
            $0.outboundAllowInternalMX = $1
        },
        bool("outbound.verify-certificate", "Check the relay's TLS certificate.", true) { $0.outboundVerifyCertificate = $1 },
        ConfigKey(name: "outbound.retry-schedule", help: "Waits between attempts, e.g. 1m,5m,15m,1h,4h (the last repeats).", defaultText: "1m,5m,15m,1h,4h") {
            let parts = $1.split(separator: ",").map { ConfigKey.parseDuration(String($0)) }
            guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return "expected durations separated by commas, got '\($1)'" }
            $0.outboundSchedule = parts.compactMap { $0 }
            return nil
        },
        duration("outbound.max-age", "How long to retry before a delivery bounces.", "5d") { $0.outboundMaxAge = $1 },
        duration("outbound.connect-timeout", "How long connecting to a relay or mail host may take.", "30s") { $0.outboundTimeouts.connect = $1 },
        duration("outbound.greeting-timeout", "Wait for a server's 220 greeting (RFC 5321 4.5.3.2.1: 5 minutes).", "5m") {
            $0.outboundTimeouts.greeting = $1
        },
        duration("outbound.command-timeout", "Wait for the reply to EHLO, STARTTLS, AUTH, MAIL, RCPT or RSET (RFC 5321 4.5.3.2.2-3: 5 minutes).", "5m") {
            $0.outboundTimeouts.command = $1
        },
        duration("outbound.data-init-timeout", "Wait for the 354 after DATA (RFC 5321 4.5.3.2.4: 2 minutes).", "2m") {
            $0.outboundTimeouts.dataInitiation = $1
        },
        duration("outbound.data-block-timeout", "Longest a block of the message may take to be sent (RFC 5321 4.5.3.2.5: 3 minutes).", "3m") {
            $0.outboundTimeouts.dataBlock = $1
        },
        duration("outbound.data-done-timeout", "Wait for the reply to the final dot (RFC 5321 4.5.3.2.6: 10 minutes).", "10m") {
            $0.outboundTimeouts.dataTermination = $1
        },
        integer("outbound.parallel", "Destinations (mail domains, or connections to the relay) delivered to at once.", 8, 1...256) {
            $0.outboundParallel = $1
        },
        integer("automail.hourly-cap", "Acknowledgements, vacation replies and redirects sent per hour in all, besides the per-recipient limit.", 200, 0...1_000_000) {
            $0.autoMailHourlyCap = $1
        },
        integer(
            "automail.per-recipient-cap",
            "Automatic messages (acknowledgements, vacation replies, redirects, notifications) to one address per hour; more are logged, not sent.", 5,
            0...1_000_000
        ) {
            $0.autoMailPerRecipientCap = $1
        },
        string(
            "mailboxes.ca-file", "PEM file of extra CA certificates trusted for IMAP (a company CA); when set, loopback servers are verified too.",
            "(system roots)"
        ) { $0.mailboxCAFile = $1 },
        ConfigKey(
            name: "mailboxes.idle-renew", help: "How long one IMAP IDLE lasts before it is renewed (RFC 2177: under 29 minutes).", defaultText: "25m"
        ) { config, value in
            guard let seconds = parseDuration(value), seconds > 0, seconds < 29 * 60 else {
                return "expected a duration under 29m (servers may drop an IDLE client after 30 minutes), got '\(value)'"
            }
            config.mailboxIdleRenew = seconds
            return nil
        },
        duration(
            "mailboxes.timeout", "Silence from an IMAP server, while an answer is due, after which the connection is taken for dead.", "5m"
        ) { $0.mailboxTimeout = $1 },
        duration("mailboxes.poll-interval", "How often connected IMAP mailboxes are checked for new mail.", "60s") { $0.mailboxPollInterval = $1 },
        duration("processing.budget", "Longest the filters before the 250, or the parsing of one message, may take; past it the message is kept and flagged.", "30s") {
            $0.processingBudget = $1
        },
        ConfigKey(
            name: "processing.defer-under-intake",
            help: "While intake is under a burst, filing waits so the cores answer the SMTP sessions first, but no message waits longer than this after its 250 (0: never wait).",
            defaultText: "10s"
        ) { config, value in
            guard let seconds = value == "0" ? 0 : parseDuration(value), seconds >= 0, seconds <= 3600 else {
                return "expected 0 or a duration up to 1h such as 10s or 1m, got '\(value)'"
            }
            config.processingDeferUnderIntake = seconds
            return nil
        },
        bool("processing.paused", "Accept and spool mail but do not thread it until unpaused (maintenance).", false) {
            $0.processingPaused = $1
        },
        string("http.listen", "Address the admin HTTP listener binds.", "127.0.0.1") { $0.httpListen = $1 },
        port("http.port", "Admin HTTP port.", 8080) { $0.httpPort = $1 },
    ]

    static func string(
        _ name: String, _ help: String, _ defaultText: String, _ set: @escaping @Sendable (inout PostroomConfig, String) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, help: help, defaultText: defaultText) { config, value in
            guard !value.isEmpty else { return "must not be empty" }
            set(&config, value)
            return nil
        }
    }

    static func integer(
        _ name: String, _ help: String, _ defaultValue: Int, _ range: ClosedRange<Int>,
        _ set: @escaping @Sendable (inout PostroomConfig, Int) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, help: help, defaultText: String(defaultValue)) { config, value in
            guard let n = Int(value), range.contains(n) else {
                return "expected an integer from \(range.lowerBound) to \(range.upperBound), got '\(value)'"
            }
            set(&config, n)
            return nil
        }
    }

    static func port(
        _ name: String, _ help: String, _ defaultValue: Int, _ set: @escaping @Sendable (inout PostroomConfig, Int) -> Void
    ) -> ConfigKey {
        integer(name, help + " 0 picks a free port.", defaultValue, 0...65535, set)
    }

    static func bool(
        _ name: String, _ help: String, _ defaultValue: Bool, _ set: @escaping @Sendable (inout PostroomConfig, Bool) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, help: help, defaultText: String(defaultValue)) { config, value in
            switch value.lowercased() {
            case "true", "yes", "on", "1": set(&config, true)
            case "false", "no", "off", "0": set(&config, false)
            default: return "expected true or false, got '\(value)'"
            }
            return nil
        }
    }

    static func size(
        _ name: String, _ help: String, _ defaultText: String, _ set: @escaping @Sendable (inout PostroomConfig, Int) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, help: help, defaultText: defaultText) { config, value in
            guard let n = parseSize(value), n > 0 else {
                return "expected a size such as 25M, 512K or 1048576, got '\(value)'"
            }
            set(&config, n)
            return nil
        }
    }

    static func duration(
        _ name: String, _ help: String, _ defaultText: String, _ set: @escaping @Sendable (inout PostroomConfig, Double) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, help: help, defaultText: defaultText) { config, value in
            guard let seconds = parseDuration(value), seconds > 0 else {
                return "expected a duration such as 300, 300s, 5m or 1h, got '\(value)'"
            }
            set(&config, seconds)
            return nil
        }
    }

    /// `1048576`, `512K`, `25M`, `1G` (binary multiples; a trailing `B`/`iB` is allowed).
    public static func parseSize(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: " ").uppercased()
        if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
        var multiplier = 1
        switch t.last {
        case "K": multiplier = 1024
        case "M": multiplier = 1024 * 1024
        case "G": multiplier = 1024 * 1024 * 1024
        default: break
        }
        if multiplier != 1 { t.removeLast() }
        guard let n = Int(t), n >= 0 else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// `300`, `300s`, `5m`, `1h`, `500ms`.
    public static func parseDuration(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: " ").lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)) else { return nil }
            return bounded(n * factor)
        }
        return Double(t).flatMap(bounded)
    }

    /// A duration must be a finite number of seconds up to 100 years: `inf` or `1e300`
    /// would trap when turned into a timer.
    static func bounded(_ seconds: Double) -> Double? {
        seconds.isFinite && seconds >= 0 && seconds <= 100 * 365 * 86400 ? seconds : nil
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
