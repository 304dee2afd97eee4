import CoreMetrics
import Prometheus

/// Every metric Postroom exports, with the text `/metrics` prints as its `# HELP` line.
/// The libraries record through swift-metrics by name; this table is the one place
/// that says what each name means (a scrape without HELP lines leaves an operator
/// guessing), and the histograms' buckets.
public enum MetricsCatalog {
    public static let help: [String: String] = [
        "postroom_smtp_sessions_total": "SMTP sessions accepted.",
        "postroom_smtp_sessions_refused_total": "SMTP connections refused at the session limits (smtp.max-sessions, per-client).",
        "postroom_smtp_sessions_active": "SMTP sessions open now.",
        "postroom_smtp_messages_accepted_total": "Messages answered 250 after DATA or BDAT LAST: durable in the spool.",
        "postroom_smtp_bytes_accepted_total": "Octets of accepted messages.",
        "postroom_smtp_rejections_total": "Commands answered with a 4xx or 5xx reply.",
        "postroom_spool_commit_seconds": "Time from the end of DATA to the spool commit on disk (group commit included).",
        "postroom_spool_transactions_total": "Spool write transactions; messages per transaction is the group commit's batching.",
        "postroom_spool_messages_total": "Messages written to the spool.",
        "postroom_spool_backlog": "Messages accepted and not yet processed (threaded into conversations).",
        "postroom_messages_processed_total": "Messages processing has finished with: filed, duplicate or quarantined.",
        "postroom_processing_latency_seconds": "Time from a message's acceptance (its 250) to the end of its processing.",
        "postroom_processing_batch_seconds": "Time one processing batch takes, parse and write transaction.",
    ]

    /// Buckets of the duration histograms (seconds); the default otherwise.
    public static let durationBuckets: [String: [Duration]] = [
        "postroom_processing_latency_seconds": [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900].map {
            .nanoseconds(Int64($0 * 1_000_000_000))
        }
    ]
    static let defaultDurationBuckets: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map {
        .nanoseconds(Int64($0 * 1_000_000_000))
    }
}

/// swift-metrics into the Prometheus registry, each metric with its help text from
/// `MetricsCatalog` (the stock factory registers every metric without one).
public struct DocumentedMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func help(_ label: String) -> String { MetricsCatalog.help[label] ?? "" }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        // Postroom's recorders are gauges (a backlog, a count of sessions).
        registry.makeGauge(name: label, labels: dimensions, help: help(label))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: help(label))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            name: label, labels: dimensions, buckets: MetricsCatalog.durationBuckets[label] ?? MetricsCatalog.defaultDurationBuckets, help: help(label))
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
