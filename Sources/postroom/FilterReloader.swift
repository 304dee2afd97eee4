import Foundation
import Logging
import ServiceLifecycle
import Sieve

/// Reloads the filters when a file in the folder changes (checked every second); SIGHUP
/// reloads them with the configuration (HangupReloader). A script that does not
/// compile is refused with its error; the previous version stays in force.
struct FilterReloader: Service {
    let filters: FilterSet
    let logger: Logger

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .seconds(1))
            for line in filters.reload() {
                if line.hasPrefix("refused") { logger.error("filters (file change): \(line)") } else { logger.notice("filters (file change): \(line)") }
            }
        }
    }
}
