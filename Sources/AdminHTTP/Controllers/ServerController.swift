import Hummingbird
import SMTPClient
import Settings
import Store

/// What concerns the running server itself rather than a stored resource: its
/// configuration in effect, a reload of what changes without a restart, and a test
/// session to the relay. Each runs in the server (its environment holds the secrets,
/// its files are the ones in force), wired in by the executable.
public struct ServerOperations: Sendable {
    /// The configuration in effect, as `postroom config show --json` prints it.
    public var effective: @Sendable () async throws -> [String: String]
    /// Re-reads the config file and the DKIM keys and applies what may change live;
    /// throws `RequestError.conflict` (nothing changed) when the new config is wrong.
    public var reload: @Sendable () async throws -> ConfigReloadReport
    /// One session to the configured relay (no message sent); nil when there is none.
    public var testRelay: @Sendable () async throws -> SMTPClient.RelayProbe?

    public init(
        effective: @escaping @Sendable () async throws -> [String: String],
        reload: @escaping @Sendable () async throws -> ConfigReloadReport,
        testRelay: @escaping @Sendable () async throws -> SMTPClient.RelayProbe?
    ) {
        self.effective = effective
        self.reload = reload
        self.testRelay = testRelay
    }

    /// For routers built without a server (tests of other resources).
    public static let unwired = ServerOperations(
        effective: { throw RequestError.conflict("the configuration is not wired in") },
        reload: { throw RequestError.conflict("configuration reload is not wired in") },
        testRelay: { throw RequestError.conflict("relay testing is not wired in") })
}

struct ServerController {
    let operations: ServerOperations

    func addRoutes(config: RouterGroup<BasicRequestContext>, relay: RouterGroup<BasicRequestContext>) {
        config.get { _, _ -> EffectiveConfig in EffectiveConfig(values: try await operations.effective()) }
        config.post("reload") { _, _ -> ConfigReloadReport in try await operations.reload() }
        relay.post("test") { _, _ -> SMTPClient.RelayProbe in
            guard let probe = try await operations.testRelay() else {
                throw RequestError.conflict("no relay is configured (outbound.relay): replies go directly to each recipient's MX")
            }
            return probe
        }
    }
}

/// `{"key": "value", ...}` as the startup log's block.
struct EffectiveConfig: ResponseEncodable {
    var values: [String: String]
    func encode(to encoder: any Encoder) throws { try values.encode(to: encoder) }
}

extension ConfigReloadReport: ResponseEncodable {}
extension SMTPClient.RelayProbe: ResponseEncodable {}
