import Foundation

/// Everything the gateway can be configured with. Values come, lowest to highest
/// precedence, from the defaults, the config file (YAML), `POSTROOM_...` environment
/// variables and command-line flags; `ConfigKey.all` is the one list of keys.
public struct PostroomConfig: Sendable, Equatable {
    public var hostname = "localhost"
    public var dataDir = "./data"
    /// Whether a layer (file, environment, flag) named the data dir: CLI commands create
    /// a data dir only where they were told to, never the implicit `./data` of
    /// whatever folder they happen to run in.
    public var dataDirGiven = false
    /// Domain of the fallback address every inbox gets; empty means `hostname`.
    public var fallbackDomain = ""
    public var adminToken: String?
    public var logLevel = "info"

    public var smtpListen = "127.0.0.1"
    public var smtpPort = 2525
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var tlsRequired = false
    public var maxCommandLine = 512
    public var maxTextLine = 1000
    public var maxMessageSize = 25 * 1024 * 1024
    public var maxRecipients = 100
    public var maxSessions = 500
    public var maxSessionsPerIP = 50
    public var maxErrors = 10
    /// Seconds without input before a session gets 421 4.4.2.
    public var idleTimeout: Double = 300
    /// Seconds a shutdown waits for messages in DATA to finish.
    public var shutdownGrace: Double = 30

    /// Folder of Sieve scripts: global.sieve, then <inbox-slug>.sieve.
    public var filtersDir = "./filters"

    /// DKIM keys folder (`<domain>.<selector>.key`); empty means `<data-dir>/dkim`.
    public var dkimDir = ""

    public var effectiveDKIMDir: String {
        dkimDir.isEmpty ? (dataDir as NSString).appendingPathComponent("dkim") : dkimDir
    }

    /// Outbound relay `host:port`; empty means none (direct MX delivery is not built yet).
    public var outboundRelay = ""
    public var outboundSecurity = "starttls"
    public var outboundUsername: String?
    public var outboundPassword: String?
    public var outboundVerifyCertificate = true
    /// DNS resolver for MX lookups, `ip` or `ip:port`; empty means /etc/resolv.conf's.
    public var outboundResolver = ""
    /// Port of recipients' mail hosts (25; tests point it elsewhere).
    public var outboundMXPort = 25
    /// Direct delivery to loopback/private mail hosts (SSRF guard off).
    public var outboundAllowInternalMX = false
    /// Seconds between delivery attempts; the last repeats until outboundMaxAge.
    public var outboundSchedule: [Double] = [60, 300, 900, 3600, 14400]
    public var outboundMaxAge: Double = 5 * 86400
    /// RFC 5321 4.5.3.2 waits, in seconds.
    public var outboundTimeouts = OutboundTimeouts()
    public var outboundParallel = 8
    /// Automatic mail per hour across all recipients (backscatter bound).
    public var autoMailHourlyCap = 200
    /// Automatic messages to one address per hour (notifications included).
    public var autoMailPerRecipientCap = 5

    /// Spool only: accept and store mail but do not thread it (maintenance).
    public var processingPaused = false
    /// Seconds one SMTP session may last in all.
    public var maxSessionTime: Double = 3600
    /// Seconds the filters before the 250, and one message's processing, may take.
    public var processingBudget: Double = 30
    /// processing.defer-under-intake, seconds.
    public var processingDeferUnderIntake: Double = 10
    /// Sender authentication (SPF, DKIM, DMARC, ARC) before the 250.
    public var authEnabled = true
    /// Longest the checks may take for one message; past it the results are temperror.
    public var authTimeout: Double = 10
    /// What DMARC fail under p=reject does when the inbox does not say: refuse, spam, mark.
    public var authDMARCReject = "spam"
    /// import.status: what imported history opens as (closed or open).
    public var importStatus = "closed"
    public var mailboxPollInterval: Double = 60
    /// Seconds one IDLE lasts before DONE and a new IDLE.
    public var mailboxIdleRenew: Double = 25 * 60
    /// Extra trust roots for connected mailboxes and `import imap`.
    public var mailboxCAFile: String?
    public var mailboxTimeout: Double = 300

    public var httpListen = "127.0.0.1"
    public var httpPort = 8080

    public init() {}

    public var effectiveFallbackDomain: String {
        fallbackDomain.isEmpty ? hostname.lowercased() : fallbackDomain.lowercased()
    }
}

/// A configuration mistake: where it was made, which key, and what is wrong.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    /// `FILE:LINE:COLUMN`, `environment POSTROOM_X`, or `--flag`.
    public var location: String
    public var key: String
    public var message: String

    public init(location: String, key: String, message: String) {
        self.location = location
        self.key = key
        self.message = message
    }

    public var description: String {
        key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}

/// How long the SMTP client waits at each step (RFC 5321 4.5.3.2), in seconds.
public struct OutboundTimeouts: Sendable, Equatable {
    public var connect: Double = 30
    public var greeting: Double = 300
    public var command: Double = 300
    public var dataInitiation: Double = 120
    public var dataBlock: Double = 180
    public var dataTermination: Double = 600

    public init() {}
}
