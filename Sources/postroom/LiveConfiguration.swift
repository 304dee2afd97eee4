import DKIM
import Dispatch
import Foundation
import Logging
import Outbound
import SMTPClient
import ServiceLifecycle
import Settings
import Sieve
import Synchronization

/// The running server's configuration and the part of it that changes without a
/// restart. A reload (SIGHUP, `POST /api/config/reload`) reads the config file again
/// with the environment and flags the server started with, loads the DKIM keys again
/// and, when all of that is valid, swaps the outbound settings (relay, keys, retry
/// schedule, limits on automatic mail) at once and reloads the filter scripts. A
/// mistake changes nothing; keys that need a restart are named, not half-applied.
final class LiveConfiguration: Sendable {
    let file: String?
    let flags: [(key: String, value: String)]
    let environment: [String: String]
    let settings: OutboundSettings
    let filters: FilterSet
    let logger: Logger
    /// The values in force and the text each key was given (what the next reload
    /// compares with); the lock also keeps two reloads from interleaving.
    let state: Mutex<(config: PostroomConfig, values: [String: String])>

    init(file: String?, flags: [(key: String, value: String)], environment: [String: String], loaded: (config: PostroomConfig, values: [String: String]), settings: OutboundSettings, filters: FilterSet, logger: Logger) {
        self.file = file
        self.flags = flags
        self.environment = environment
        self.settings = settings
        self.filters = filters
        self.logger = logger
        self.state = Mutex(loaded)
    }

    var config: PostroomConfig { state.withLock { $0.config } }

    /// Why a reload changed nothing.
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    func reload(cause: String) throws(Refused) -> ConfigReloadReport {
        let report: ConfigReloadReport = try state.withLock { current throws(Refused) in
            let loaded: (config: PostroomConfig, values: [String: String])
            do {
                loaded = try ConfigLoader.loadValues(file: file, environment: environment, flags: flags)
            } catch {
                throw Refused(description: "configuration error: \(error); nothing was changed")
            }
            let signers: [String: DKIMSigner]
            do {
                signers = try DKIMSigner.load(folder: loaded.config.effectiveDKIMDir)
            } catch {
                throw Refused(description: "cannot load DKIM keys from \(loaded.config.effectiveDKIMDir) (dkim.dir): \(error); nothing was changed")
            }
            let change = ConfigChange(old: current.values, new: loaded.values)
            // What needs a restart keeps its old value, so the config in force (and
            // what `config show` on the server prints) stays true to the running server.
            var inForce = current.config
            Self.applyLive(from: loaded.config, to: &inForce)
            settings.replace(Self.outboundValues(inForce, signers: signers))
            var values = current.values
            for key in ConfigKey.all where key.live { values[key.name] = loaded.values[key.name] }
            current = (inForce, values)
            return ConfigReloadReport(
                applied: change.applied, restartNeeded: change.restartNeeded, dkim: dkimSummary(signers), filters: filters.reload(force: true))
        }
        logger.notice(
            "configuration reloaded (\(cause)): \(report.applied.isEmpty ? "no live key changed" : "applied \(report.applied.joined(separator: ", "))"); DKIM: \(report.dkim.isEmpty ? "no keys" : report.dkim.joined(separator: ", "))")
        if !report.restartNeeded.isEmpty {
            logger.warning("configuration reloaded (\(cause)): \(report.restartNeeded.joined(separator: ", ")) changed but need a restart; the old values stay in force")
        }
        for line in report.filters {
            if line.hasPrefix("refused") { logger.error("filters (\(cause)): \(line)") } else { logger.notice("filters (\(cause)): \(line)") }
        }
        return report
    }

    /// Copies the keys that change live (`ConfigKey.liveNames`) from a new config.
    static func applyLive(from new: PostroomConfig, to config: inout PostroomConfig) {
        config.outboundRelay = new.outboundRelay
        config.outboundSecurity = new.outboundSecurity
        config.outboundUsername = new.outboundUsername
        config.outboundPassword = new.outboundPassword
        config.outboundVerifyCertificate = new.outboundVerifyCertificate
        config.outboundSchedule = new.outboundSchedule
        config.outboundMaxAge = new.outboundMaxAge
        config.dkimDir = new.dkimDir
        config.autoMailHourlyCap = new.autoMailHourlyCap
        config.autoMailPerRecipientCap = new.autoMailPerRecipientCap
    }

    /// The outbound settings a configuration asks for.
    static func outboundValues(_ config: PostroomConfig, signers: [String: DKIMSigner]) -> OutboundSettings.Values {
        var values = OutboundSettings.Values(signers: signers, relay: relay(config), hourlyCap: config.autoMailHourlyCap)
        values.perRecipientPerHour = config.autoMailPerRecipientCap
        values.schedule = config.outboundSchedule.map { Int64($0) }
        values.maxAge = Int64(config.outboundMaxAge)
        return values
    }

    static func relay(_ config: PostroomConfig) -> SMTPRelay? {
        // outbound.relay is checked as host:port when it is read.
        let parts = config.outboundRelay.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { return nil }
        return SMTPRelay(
            host: String(parts[0]), port: port, security: SMTPRelay.Security(rawValue: config.outboundSecurity) ?? .starttls,
            username: config.outboundUsername, password: config.outboundPassword, verifyCertificate: config.outboundVerifyCertificate)
    }
}

/// Reloads the configuration on SIGHUP (the filter scripts with it), as Postfix's
/// `postfix reload` does; `POST /api/config/reload` does the same from the API.
struct HangupReloader: Service {
    let live: LiveConfiguration

    func run() async throws {
        let hangups = AsyncStream<Void> { continuation in
            signal(SIGHUP, SIG_IGN)
            nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            continuation.onTermination = { _ in source.cancel() }
        }
        let task = Task {
            for await _ in hangups {
                do {
                    _ = try live.reload(cause: "SIGHUP")
                } catch {
                    live.logger.error("configuration reload (SIGHUP) refused: \(error)")
                }
            }
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await task.value
        } onCancelOrGracefulShutdown: {
            task.cancel()
        }
    }
}
