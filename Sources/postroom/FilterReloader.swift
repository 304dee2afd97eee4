import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Sieve

/// Reloads the filters when a file in the folder changes (checked every second) and
/// on SIGHUP. A script that does not compile is refused with its error; the previous
/// version stays in force.
struct FilterReloader: Service {
    let filters: FilterSet
    let logger: Logger

    func run() async throws {
        let hangups = AsyncStream<Void> { continuation in
            signal(SIGHUP, SIG_IGN)
            nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            continuation.onTermination = { _ in source.cancel() }
        }
        let hangupTask = Task {
            for await _ in hangups {
                log(filters.reload(force: true), cause: "SIGHUP")
            }
        }
        defer { hangupTask.cancel() }
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .seconds(1))
            log(filters.reload(), cause: "file change")
        }
    }

    func log(_ lines: [String], cause: String) {
        for line in lines {
            if line.hasPrefix("refused") { logger.error("filters (\(cause)): \(line)") } else { logger.notice("filters (\(cause)): \(line)") }
        }
    }
}
