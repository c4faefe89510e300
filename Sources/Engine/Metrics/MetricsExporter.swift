import Dispatch
import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
public import Prometheus
import Synchronization
import TradingCore

/// The Prometheus text endpoint (`metrics.bind`, loopback by default): `GET /metrics`. The hot
/// paths keep their own atomic counters (no per-tick metric calls); at each scrape the exporter
/// brings swift-metrics counters and gauges up to date from them, and the Prometheus registry
/// writes the text. The tick writer records batch sizes and flush latency through swift-metrics
/// itself, per batch. The HTTP side is `MetricsServer` (Hummingbird).
public final class MetricsExporter: Sendable {
    /// The engine's bounds and overload state at a scrape (docs/operations.md, "Overload").
    public struct Health: Sendable {
        /// Estimated memory of ticks waiting to be stored, and its bound (`ingest.max_memory`).
        public var queueBytes = 0
        public var queueMaxBytes = 0
        /// Seconds the receivers spent not reading because the queue was full.
        public var backpressureSeconds = 0.0
        /// Whether the engine is not reading its sockets now (queue full, or intake stopped).
        public var overloaded = false
        /// Whether ticks / order records wait because neither PostgreSQL nor the journal takes them.
        public var tickStorageBlocked = false
        public var eventStorageBlocked = false
        /// The journals' budget (`journal.max_bytes`).
        public var journalLimitBytes: Int64 = 0
        /// Publisher streams remembered, and forgotten since start.
        public var streamsTracked = 0
        public var streamsEvicted = 0
        /// Instruments with bars in progress, and ticks that made no bars (the table was full).
        public var barInstruments = 0
        public var barTicksOverLimit = 0
        /// Ticks of exchanges past the bound on exchanges followed (they made no bars).
        public var barTicksOverExchangeLimit = 0
        /// Closed bars dropped while PostgreSQL was away (oldest first, past 200,000 waiting),
        /// and bars the database refused for their content (quarantined).
        public var droppedBars = 0
        public var quarantinedBars = 0
        /// Order records the database refused (quarantined), journal records unreadable.
        public var quarantinedOrderRecords = 0
        public var quarantinedJournalRecords = 0
        /// Intents refused because their records could not have been made durable.
        public var refusedIntents = 0
        /// Replay requests answered, refused as malformed, cut short by a requester not reading.
        public var replayServed = 0
        public var replayRefused = 0
        public var replayStalled = 0

        public init() {}
    }

    /// What the exporter reads at each scrape.
    public struct Sources: Sendable {
        public var ingest: IngestCounters
        public var queueDepth: @Sendable () -> Int
        public var journalBytes: @Sendable () -> Int64
        public var events: EventWriter
        public var databaseUp: @Sendable () -> Bool
        public var activeHalts: @Sendable () -> Int
        public var feedSilences: @Sendable () -> Int
        public var health: @Sendable () -> Health = { Health() }

        public init(ingest: IngestCounters, queueDepth: @escaping @Sendable () -> Int, journalBytes: @escaping @Sendable () -> Int64,
                    events: EventWriter, databaseUp: @escaping @Sendable () -> Bool, activeHalts: @escaping @Sendable () -> Int,
                    feedSilences: @escaping @Sendable () -> Int) {
            self.ingest = ingest
            self.queueDepth = queueDepth
            self.journalBytes = journalBytes
            self.events = events
            self.databaseUp = databaseUp
            self.activeHalts = activeHalts
            self.feedSilences = feedSilences
        }
    }

    private let registry: PrometheusCollectorRegistry
    private let host: String
    private let port: UInt16
    private let logger: Logger
    private let sources: Sources
    /// Last values handed to the counters (they only move by deltas).
    private let reported = Mutex<[String: Int]>([:])

    /// Installs the Prometheus factory as swift-metrics' backend (once per process).
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// `bind` is `HOST:PORT`.
    public init?(bind: String, registry: PrometheusCollectorRegistry, sources: Sources, logger: Logger) {
        guard let colon = bind.lastIndex(of: ":"), let port = UInt16(bind[bind.index(after: colon)...]) else { return nil }
        self.host = String(bind[..<colon])
        self.port = port
        self.registry = registry
        self.sources = sources
        self.logger = logger
    }

    /// The metrics text as a scrape sees it.
    public func render() -> String {
        let s = sources
        let snapshot = s.ingest.snapshot()
        func counter(_ name: String, _ value: Int, _ dimensions: [(String, String)] = []) {
            let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
            let delta = reported.withLock { r -> Int in
                defer { r[key] = value }
                return value - (r[key] ?? 0)
            }
            if delta > 0 { Counter(label: name, dimensions: dimensions).increment(by: delta) }
        }
        counter("algotrader_ticks_received_total", snapshot.received)
        counter("algotrader_ticks_accepted_total", snapshot.accepted)
        counter("algotrader_ticks_stored_total", snapshot.stored)
        counter("algotrader_ticks_duplicate_total", snapshot.duplicates)
        counter("algotrader_ticks_gaps_total", snapshot.gaps)
        counter("algotrader_ticks_journaled_total", s.ingest.journaled.load(ordering: .relaxed))
        counter("algotrader_ticks_spilled_total", s.ingest.spilled.load(ordering: .relaxed))
        counter("algotrader_ticks_replayed_total", s.ingest.replayed.load(ordering: .relaxed))
        counter("algotrader_tick_write_failures_total", snapshot.writeFailures)
        for reason in TickRejection.allCases {
            counter("algotrader_ticks_bad_total", snapshot.bad[reason] ?? 0, [("reason", reason.rawValue)])
        }
        counter("algotrader_order_events_total", s.events.orderEvents.load(ordering: .relaxed))
        counter("algotrader_fills_total", s.events.fillEvents.load(ordering: .relaxed))
        counter("algotrader_orders_rejected_total", s.events.rejectedEvents.load(ordering: .relaxed))
        counter("algotrader_order_rounds_journaled_total", s.events.journaledRounds.load(ordering: .relaxed))
        counter("algotrader_feed_silences_total", s.feedSilences())
        let h = s.health()
        counter("algotrader_ticks_quarantined_total", snapshot.quarantined)
        counter("algotrader_ticks_overload_missing_total", snapshot.overloadMissing)
        counter("algotrader_order_records_quarantined_total", h.quarantinedOrderRecords)
        counter("algotrader_journal_records_quarantined_total", h.quarantinedJournalRecords)
        counter("algotrader_intents_refused_total", h.refusedIntents)
        counter("algotrader_streams_evicted_total", h.streamsEvicted)
        counter("algotrader_bar_ticks_over_limit_total", h.barTicksOverLimit)
        counter("algotrader_bars_dropped_total", h.droppedBars)
        counter("algotrader_bars_quarantined_total", h.quarantinedBars)
        counter("algotrader_bar_exchanges_over_limit_total", h.barTicksOverExchangeLimit)
        counter("algotrader_replay_requests_total", h.replayServed, [("outcome", "served")])
        counter("algotrader_replay_requests_total", h.replayRefused, [("outcome", "refused")])
        counter("algotrader_replay_requests_total", h.replayStalled, [("outcome", "stalled")])
        let backpressureMillis = Int(h.backpressureSeconds * 1_000)
        let backpressureDelta = reported.withLock { r -> Int in
            defer { r["backpressure_ms"] = backpressureMillis }
            return backpressureMillis - (r["backpressure_ms"] ?? 0)
        }
        if backpressureDelta > 0 {
            FloatingPointCounter(label: "algotrader_ingest_backpressure_seconds_total").increment(by: Double(backpressureDelta) / 1_000)
        }
        Gauge(label: "algotrader_ingest_queue_bytes").record(h.queueBytes)
        Gauge(label: "algotrader_ingest_max_memory_bytes").record(h.queueMaxBytes)
        Gauge(label: "algotrader_overloaded").record(h.overloaded ? 1 : 0)
        Gauge(label: "algotrader_storage_blocked", dimensions: [("path", "ticks")]).record(h.tickStorageBlocked ? 1 : 0)
        Gauge(label: "algotrader_storage_blocked", dimensions: [("path", "events")]).record(h.eventStorageBlocked ? 1 : 0)
        Gauge(label: "algotrader_journal_max_bytes").record(h.journalLimitBytes)
        Gauge(label: "algotrader_streams_tracked").record(h.streamsTracked)
        Gauge(label: "algotrader_bar_instruments").record(h.barInstruments)
        Gauge(label: "algotrader_tick_queue_depth").record(s.queueDepth())
        Gauge(label: "algotrader_journal_bytes").record(s.journalBytes())
        Gauge(label: "algotrader_database_up").record(s.databaseUp() ? 1 : 0)
        Gauge(label: "algotrader_halts_active").record(s.activeHalts())
        return registry.emitToString()
    }

    /// The endpoint on `metrics.bind` as a service: `running` is called once it listens; its
    /// `run` throws why it cannot (the port taken, say).
    public func service(running: @escaping @Sendable () -> Void) -> any Service {
        let logger = self.logger, host = self.host, port = self.port
        return MetricsServer(host: host, port: Int(port), logger: logger) { [self] in render() }.application {
            logger.info("metrics endpoint ready", metadata: ["url": "http://\(host):\(port)/metrics"])
            running()
        }
    }
}
