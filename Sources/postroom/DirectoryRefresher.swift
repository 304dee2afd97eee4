import Logging
import SMTPServer
import ServiceLifecycle
import Store

/// Keeps the SMTP server's recipient directory in step with the store, so
/// `postroom inbox add-address` on a running server takes effect within a second.
/// A trigger bumps a version number on every address change; only that is polled.
struct DirectoryRefresher: Service {
    let store: Store
    let box: DirectoryBox
    let slugs: InboxSlugs
    let logger: Logger
    var version: Int64

    func run() async throws {
        var version = self.version
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .milliseconds(500))
            do {
                let current = try await store.directoryVersion()
                if current != version {
                    let loaded = try await store.recipientDirectory()
                    box.current = loaded.directory
                    slugs.set(Dictionary(uniqueKeysWithValues: try await store.listInboxes().map { ($0.id, $0.slug) }))
                    version = loaded.version
                    logger.info("recipient directory reloaded: \(loaded.directory.addresses.count) addresses")
                }
            } catch {
                logger.warning("cannot reload recipient directory: \(error)")
            }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
