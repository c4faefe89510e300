import Dispatch
import Foundation
public import Config
public import Logging
import Storage
public import Synchronization
public import TradingCore
public import ZeroMQ

/// Why the engine could not start.
public enum EngineStartError: Error, CustomStringConvertible {
    /// A socket could not bind or connect to the endpoint of configuration key `key`.
    case socket(key: String, endpoint: String, error: ZMQError)
    /// The database could not be prepared (partitions).
    case database(any Error)

    public var description: String {
        switch self {
        case .socket(let key, let endpoint, let error): "\(key): cannot use '\(endpoint)': \(error)"
        case .database(let error): "database: \(error)"
        }
    }
}

/// The tick-to-PostgreSQL spine: one receive thread per market-data endpoint, the bounded
/// queue, the COPY writer thread, and a housekeeping thread that writes rate-limited incident
/// reports to `system_logs`.
///
///     SUB endpoint 1 ──┐
///     SUB endpoint 2 ──┼─> TickQueue (bounded) ─> writer thread ─COPY─> market_data
///     SUB bound  ...  ─┘        decode, validate, seq check on each receive thread
public final class IngestEngine: Sendable {
    public let counters = IngestCounters()
    public let sequences: SequenceBook
    private let config: EngineConfig
    private let context: ZMQContext
    private let clock: any WallClock
    private let logger: Logger
    private let queue: TickQueue
    private let reporter: IncidentReporter
    private let writer: TickWriterLoop
    private let receivers = Mutex<[FeedReceiver]>([])
    private let housekeepingStop = Atomic<Bool>(false)
    private let housekeepingDone = DispatchSemaphore(value: 0)
    private let consumers: [@Sendable ([Tick]) -> Void]
    private let security: SocketSecurity?
    /// Feed health: silence per exchange in session.
    private let feedHealth: FeedHealth
    private let onFeedHealth: @Sendable (Set<String>) -> Void
    /// Feeds found silent (alarms raised) since start.
    public let feedSilences = Atomic<Int>(0)
    /// Ticks beyond `journal.memory_ticks` during a database outage.
    public let journal: TickJournal?
    /// Closed while order records can be made durable nowhere: the receivers stop reading.
    public let gate: IntakeGate
    /// Whether PostgreSQL answered the engine's last attempt (a write, or the probe every second).
    private let databaseAnswered = Atomic<Bool>(true)

    /// - Parameter consumers: also given every batch of accepted ticks (strategies, order desk).
    public init(config: EngineConfig, context: ZMQContext, clock: any WallClock = SystemClock(), logger: Logger,
                consumers: [@Sendable ([Tick]) -> Void] = [], security: SocketSecurity? = nil, journal: TickJournal? = nil,
                gate: IntakeGate = IntakeGate(),
                onFeedHealth: @escaping @Sendable (_ silentExchanges: Set<String>) -> Void = { _ in }) {
        self.config = config
        self.gate = gate
        self.sequences = SequenceBook(maxStreams: config.maxStreams, idleSeconds: config.streamIdleSeconds)
        let health = FeedHealth(FeedSilenceMonitor(sessions: config.feedSessions, silenceSeconds: Int64(config.feedSilenceSeconds)))
        self.feedHealth = health
        self.onFeedHealth = onFeedHealth
        self.journal = journal
        self.security = security
        // Every accepted batch tells feed health which exchanges are alive (a set per batch).
        self.consumers = consumers + [{ [clock] ticks in
            let now = clock.now()
            var seen = Set<String>()
            for tick in ticks where seen.insert(tick.exchange).inserted {}
            health.state.withLock { m in for exchange in seen { m.saw(exchange, at: now) } }
        }]
        self.context = context
        self.clock = clock
        self.logger = logger
        self.queue = TickQueue(capacity: config.queueCapacity, maxBytes: config.ingestMaxMemoryBytes)
        self.reporter = IncidentReporter(intervalSeconds: config.badMessageLogIntervalSeconds)
        self.writer = TickWriterLoop(
            connectionString: config.databaseURL, queue: queue, counters: counters, clock: clock, logger: logger,
            batchSize: config.batchSize, flushIntervalMilliseconds: config.flushIntervalMilliseconds,
            tickRetentionDays: config.tickRetentionDays, maxLeadSeconds: config.maxLeadSeconds,
            writers: config.writers, journal: journal, memoryTicks: config.journalMemoryTicks, sequences: sequences
        )
        let writer = self.writer
        queue.setOverflow { writer.spill($0) }
    }

    /// Starts the writer, the housekeeping thread and every receiver; on any failure, whatever
    /// started is stopped again before the error is thrown.
    public func start() throws(EngineStartError) {
        do {
            try writer.start()
        } catch {
            queue.close()
            throw .database(error)
        }
        // Crash recovery before intake: journaled ticks into PostgreSQL, then each stream's last
        // durable seq, so resends of what is stored are dropped and nothing stored is lost.
        do {
            let replayed = try writer.replayJournalAtStart()
            if replayed > 0 { logger.notice("replayed journaled ticks at start", metadata: ["ticks": "\(replayed)"]) }
            let store = FeedSequenceStore(connectionString: config.databaseURL)
            defer { store.close() }
            let streams = try store.load(idleSeconds: config.streamIdleSeconds, limit: config.maxStreams)
            for s in streams { sequences.restoreDurable(source: s.source, session: s.session, lastSequence: s.last) }
            if !streams.isEmpty { logger.info("restored publisher sequence numbers", metadata: ["streams": "\(streams.count)"]) }
        } catch {
            queue.close()
            writer.join(timeoutSeconds: 0)
            throw .database(error)
        }
        startHousekeeping()
        let decoder = TickDecoder(
            maxPayloadBytes: config.maxPayloadBytes,
            maxAgeNanoseconds: Int64(config.tickRetentionDays) * Timestamp.nanosecondsPerDay,
            maxLeadNanoseconds: Int64(config.maxLeadSeconds) * 1_000_000_000
        )
        let endpoints = config.marketDataConnect.map { ($0, FeedReceiver.Mode.connect, "market_data.connect") }
            + config.marketDataBind.map { ($0, FeedReceiver.Mode.bind, "market_data.bind") }
        for (endpoint, mode, key) in endpoints {
            let receiver = FeedReceiver(
                endpoint: endpoint, mode: mode, context: context, decoder: decoder,
                receiveHighWaterMark: config.receiveHighWaterMark, queue: queue, sequences: sequences,
                counters: counters, reporter: reporter, clock: clock, logger: logger, consumers: consumers,
                security: security, gate: gate
            )
            do {
                try receiver.start()
            } catch {
                stop()
                throw .socket(key: key, endpoint: endpoint, error: error)
            }
            receivers.withLock { $0.append(receiver) }
        }
    }

    /// Graceful stop: intake ends, every accepted tick is written, incident reports and a summary
    /// go to `system_logs`. Returns the final counters.
    @discardableResult
    public func stop(writerTimeoutSeconds: Double = 8) -> IngestCounters.Snapshot {
        let all = receivers.withLock { list -> [FeedReceiver] in
            defer { list.removeAll() }
            return list
        }
        all.forEach { $0.stop() }
        queue.admitWaitingPushes()
        all.forEach { $0.join() }
        queue.close()
        writer.join(timeoutSeconds: writerTimeoutSeconds)
        housekeepingStop.store(true, ordering: .releasing)
        housekeepingDone.wait()
        housekeepingDone.signal()
        let snapshot = counters.snapshot()
        logger.info("ingest stopped", metadata: [
            "received": "\(snapshot.received)", "stored": "\(snapshot.stored)", "bad": "\(snapshot.badTotal)",
            "duplicates": "\(snapshot.duplicates)", "gaps": "\(snapshot.gaps)",
        ])
        return snapshot
    }

    /// Ticks accepted but not yet stored, and the memory they hold (estimated) with its bound.
    public var queued: Int { queue.count }
    public var queuedBytes: Int { queue.bytes }
    public var maxQueuedBytes: Int { queue.maxBytes }
    /// Seconds the receivers spent not reading because the queue was full.
    public var backpressureSeconds: Double { Double(queue.backpressureNanoseconds.load(ordering: .relaxed)) / 1e9 }
    /// Whether the engine is not reading its sockets right now (queue full or gate closed).
    public var overloaded: Bool { queue.waitingPushes.load(ordering: .relaxed) > 0 || !gate.isOpen }
    /// Whether ticks wait because neither PostgreSQL nor the journal can take them.
    public var tickStorageBlocked: Bool { writer.storageBlocked.load(ordering: .relaxed) }
    /// Accepted ticks given up at shutdown (neither PostgreSQL nor the journal took them in time).
    public var abandonedTicks: Int { writer.abandoned.load(ordering: .relaxed) }

    /// Whether PostgreSQL answered the engine's latest attempt: the tick writers' writes, and a
    /// probe every second from housekeeping (so a quiet feed still reports the truth).
    public var databaseUp: Bool { databaseAnswered.load(ordering: .relaxed) && writer.databaseUp.load(ordering: .relaxed) }

    private func startHousekeeping() {
        let thread = Thread { [self] in
            ThreadName.setCurrent("housekeeping")
            let store = SystemLogStore(connectionString: config.databaseURL)
            let sequenceStore = FeedSequenceStore(connectionString: config.databaseURL)
            let probe = DatabaseProbe(connectionString: config.databaseURL)
            var round = 0
            var pendingEntries: [SystemLogEntry] = [
                SystemLogEntry(component: "ingest", level: .info, message: "ingest started",
                               data: { var w = JSONObjectWriter(); w.add("endpoints", config.marketDataConnect.count + config.marketDataBind.count); return w.text }()),
            ]
            while true {
                let finishing = housekeepingStop.load(ordering: .acquiring)
                pendingEntries += reporter.due(now: monotonicNanoseconds(), force: finishing)
                if finishing {
                    pendingEntries.append(SystemLogEntry(component: "ingest", level: .info, message: "ingest stopped",
                                                         data: counters.snapshot().json))
                }
                if !pendingEntries.isEmpty {
                    do {
                        try store.insert(pendingEntries)
                        pendingEntries.removeAll()
                    } catch {
                        // Kept and retried next round, bounded so an outage cannot grow it without limit.
                        logger.warning("system_logs write failed", metadata: ["error": "\(error)", "pending": "\(pendingEntries.count)"])
                        if pendingEntries.count > 10_000 { pendingEntries.removeFirst(pendingEntries.count - 10_000) }
                    }
                }
                round += 1
                if round % 4 == 0 {
                    let answered = probe.check()
                    databaseAnswered.store(answered, ordering: .relaxed)
                    // A probe that got through also clears a writer's stale failure.
                    if answered && queue.count == 0 { writer.databaseUp.store(true, ordering: .relaxed) }
                    sequences.evictIdle()
                    let changes = feedHealth.state.withLock { $0.evaluate(now: clock.now()) }
                    for change in changes {
                        switch change {
                        case .silent(let exchange, let seconds):
                            feedSilences.add(1, ordering: .relaxed)
                            logger.error("feed silent in session", metadata: ["exchange": "\(exchange)", "silent_s": "\(seconds)"])
                            pendingEntries.append(SystemLogEntry(component: "feed", level: .error,
                                                                 message: "the \(exchange) feed has been silent for \(seconds) s during its session",
                                                                 data: { var w = JSONObjectWriter(); w.add("exchange", exchange); w.add("silent_seconds", Int64(seconds)); return w.text }()))
                        case .resumed(let exchange):
                            logger.notice("feed no longer silent", metadata: ["exchange": "\(exchange)"])
                            pendingEntries.append(SystemLogEntry(component: "feed", level: .info,
                                                                 message: "the \(exchange) feed is no longer silent (ticks resumed or its session closed)",
                                                                 data: { var w = JSONObjectWriter(); w.add("exchange", exchange); return w.text }()))
                        }
                    }
                    if !changes.isEmpty { onFeedHealth(feedHealth.state.withLock { $0.silent }) }
                }
                if round % 4 == 0 || finishing {
                    let streams = sequences.takeDirty()
                    do {
                        try sequenceStore.save(streams.map { FeedSequenceStore.Stream(source: $0.source, session: $0.session, last: $0.last) })
                    } catch {
                        sequenceStore.close()
                        sequences.markDirty(streams)
                    }
                }
                if finishing { break }
                Thread.sleep(forTimeInterval: 0.25)
            }
            sequenceStore.close()
            probe.close()
            store.close()
            housekeepingDone.signal()
        }
        thread.name = "housekeeping"
        thread.start()
    }
}

extension IngestEngine {
    /// Exchange holidays for the feed-health check (at start and on SIGHUP, from `exchange_holidays`).
    public func setHolidays(_ holidays: [String: Set<Int64>]) {
        feedHealth.state.withLock { $0.holidays = holidays }
    }
}

/// The feed-health monitor behind a lock, shared by the receive threads and housekeeping.
final class FeedHealth: Sendable {
    let state: Mutex<FeedSilenceMonitor>
    init(_ monitor: FeedSilenceMonitor) { state = Mutex(monitor) }
}
