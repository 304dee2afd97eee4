import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server's log handler: StreamLogHandler's line format (so what reads the log
/// reads it as before), each line written to standard error with one write(2), at
/// about half the cost.
///
/// The server logs two lines per accepted message (the sender checks, the queue id),
/// one of them on the spool's writer thread. StreamLogHandler formats the time with
/// localtime and strftime into a fresh buffer for every line and writes through a
/// locked, flushed stdio stream: 4-6% of the server's CPU under Benchmarks/end-to-end's
/// load. Here the time is formatted once per second, and a line goes out in one
/// system call, unbuffered: a line logged before a crash is in the log.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:] {
        didSet { prettyMetadata = Self.prettify(metadata) }
    }
    let label: String
    let clock: LogClock
    let descriptor: Int32
    private var prettyMetadata: String?

    public init(label: String, level: Logger.Level = .info, clock: LogClock = .shared, descriptor: Int32 = 2) {
        self.label = label
        self.logLevel = level
        self.clock = clock
        self.descriptor = descriptor
        self.metadataProvider = LoggingSystem.metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = format(event, timestamp: clock.now())
        // One writer at a time, as stdio's lock did: a line longer than a pipe's atomic
        // write (4 KiB) must not interleave with another thread's.
        line.withUTF8 { bytes in Self.writing.withLock { _ in Self.writeAll(bytes, to: descriptor) } }
    }

    static let writing = Mutex(())

    /// One line, as StreamLogHandler writes it: time, level, label, the metadata
    /// (sorted, with the error's when there is one), the source module, the message.
    func format(_ event: LogEvent, timestamp: String) -> String {
        var pretty = prettyMetadata
        let provided = metadataProvider?.get() ?? [:]
        if event.metadata?.isEmpty == false || event.error != nil || !provided.isEmpty {
            var merged = metadata
            merged.merge(provided) { _, provided in provided }
            if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            pretty = Self.prettify(merged)
        }
        return "\(timestamp) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(pretty.map { " \($0)" } ?? "") [\(event.source)] \(event.message)\n"
    }

    static func prettify(_ metadata: Logger.Metadata) -> String? {
        metadata.isEmpty ? nil : metadata.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
    }

    /// Writes the whole line, going on after a partial write or a signal; a log that
    /// cannot be written (a closed descriptor, a full disk) is dropped, as stdio would,
    /// ending with a line break when part of it went out, so the next line starts clean.
    static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to descriptor: Int32) {
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = write(descriptor, next, left)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 {
                if left < bytes.count { _ = write(descriptor, "\n", 1) }
                return
            }
            next += written
            left -= written
        }
    }
}

/// Local time as the log shows it (`%Y-%m-%dT%H:%M:%S%z`), formatted once per second.
public final class LogClock: Sendable {
    public static let shared = LogClock()
    private let last = Mutex<(second: Int, text: String)>((second: -1, text: ""))

    public init() {}

    public func now() -> String {
        let second = time(nil)
        if let text = last.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = Self.format(second)
        last.withLock { $0 = (second: second, text: text) }
        return text
    }

    /// `seconds` since the epoch in the process's time zone.
    public static func format(_ seconds: Int) -> String {
        var timestamp = time_t(seconds)
        var local = tm()
        guard localtime_r(&timestamp, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
