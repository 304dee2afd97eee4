import Conversations
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
        var ticks = 0
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .milliseconds(500))
            ticks += 1
            do {
                // Inbox settings used before the 250 (DMARC action): every few seconds.
                if ticks % 4 == 0 { slugs.set(try await store.listInboxes()) }
                let current = try await store.directoryVersion()
                if current != version {
                    let loaded = try await store.recipientDirectory()
                    box.current = loaded.directory
                    slugs.set(try await store.listInboxes())
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
