import Dispatch
import Foundation
public import Logging
import Metrics
import Storage
public import Synchronization
public import TradingCore

/// The writer threads: each takes ticks from the shared queue and stores them with one COPY per
/// batch on its own connection, flushing when a batch is full or `flushInterval` after its
/// first tick arrived. Several writers keep several PostgreSQL backends busy: one backend's
/// COPY (JSONB parsing above all) is what bounds durable ingest (docs/performance.md).
///
/// What happens to a batch (docs/operations.md, "Overload" and "Poison records"):
/// - stored: COPY succeeded; rows PostgreSQL refused for their content were split out and
///   quarantined, the rest stored;
/// - PostgreSQL away: retried with backoff, with the same ids, while memory holds it; past the
///   memory threshold (or stopping, or older ticks already there) it goes to the journal;
/// - the journal cannot take it either (its budget or the disk is full): it stays in memory and
///   is retried; the queue fills, the receivers stop reading, and the engine says so.
public final class TickWriterLoop: Sendable {
    private let connectionString: String
    private let queue: TickQueue
    private let counters: IngestCounters
    private let clock: any WallClock
    private let logger: Logger
    private let batchSize: Int
    private let flushIntervalNanoseconds: UInt64
    private let finished = DispatchSemaphore(value: 0)
    private let writers: Int
    /// After stop, how long the writer keeps retrying an unreachable database before giving up.
    private let shutdownDeadline = Mutex<UInt64?>(nil)
    private let partitionWindow: (back: Int64, ahead: Int64)
    /// Where ticks go when PostgreSQL is unreachable and memory holds `memoryTicks` already (or
    /// half of `ingest.max_memory`).
    private let journal: TickJournal?
    private let memoryTicks: Int
    /// Whether batches wait because neither PostgreSQL nor the journal can take them.
    public let storageBlocked = Atomic<Bool>(false)
    /// Accepted ticks given up at shutdown because neither could take them before the deadline.
    public let abandoned = Atomic<Int>(0)
    /// Told which sequenced ticks became durable (saved to `feed_sequences` for restarts).
    private let sequences: SequenceBook?
    /// Whether the last write reached PostgreSQL (metrics: database connection state).
    public let databaseUp = Atomic<Bool>(true)
    /// Per-batch metrics (swift-metrics; no-ops unless a backend is bootstrapped).
    private let flushTimer = Metrics.Timer(label: "algotrader_tick_flush_seconds")
    private let batchSizes = Recorder(label: "algotrader_tick_batch_size")
    /// Assigns ids to the batches receivers spill (its own generator and buffer; receivers take
    /// turns).
    private let spiller: Mutex<MarketDataWriter>
    /// One writer replays the journal at a time (batches in order).
    private let replaying = Mutex<Bool>(false)

    public init(
        connectionString: String, queue: TickQueue, counters: IngestCounters, clock: any WallClock, logger: Logger,
        batchSize: Int, flushIntervalMilliseconds: Int, tickRetentionDays: Int, maxLeadSeconds: Int, writers: Int = 1,
        journal: TickJournal? = nil, memoryTicks: Int = 200_000, sequences: SequenceBook? = nil
    ) {
        self.journal = journal
        self.spiller = Mutex(MarketDataWriter(connectionString: connectionString))
        self.sequences = sequences
        self.memoryTicks = memoryTicks
        self.writers = max(1, writers)
        self.connectionString = connectionString
        self.queue = queue
        self.counters = counters
        self.clock = clock
        self.logger = logger
        self.batchSize = batchSize
        self.flushIntervalNanoseconds = UInt64(flushIntervalMilliseconds) * 1_000_000
        self.partitionWindow = (Int64(tickRetentionDays + 1) * Timestamp.nanosecondsPerDay,
                                Int64(maxLeadSeconds) * 1_000_000_000 + Timestamp.nanosecondsPerDay)
    }

    /// Connects and makes the partitions for every time a valid tick may carry; then starts the
    /// thread. Throws if the database cannot be reached now.
    public func start() throws {
        let writer = MarketDataWriter(connectionString: connectionString)
        let now = clock.now()
        var attempt = 0
        while true {
            do {
                try writer.ensurePartitions(from: now.adding(nanoseconds: -partitionWindow.back), to: now.adding(nanoseconds: partitionWindow.ahead))
                break
            } catch let error as DatabaseError where error.isTransient && attempt < 5 {
                // A deadlock or serialization failure is retried; anything else is reported.
                attempt += 1
                logger.warning("making partitions failed; retrying", metadata: ["error": "\(error)"])
                writer.close()
                Thread.sleep(forTimeInterval: 0.1 * Double(attempt))
            }
        }
        writer.close()
        for index in 0..<writers {
            let thread = Thread { [self] in
                ThreadName.setCurrent("tick writer \(index)")
                self.run()
                self.finished.signal()
            }
            thread.name = "tick writer \(index)"
            thread.start()
        }
    }

    /// Call after the queue is closed: waits until everything in it is stored (or `timeout` passes
    /// while the database is unreachable).
    public func join(timeoutSeconds: Double) {
        shutdownDeadline.withLock { $0 = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9) }
        for _ in 0..<writers { finished.wait() }
        for _ in 0..<writers { finished.signal() }  // later joins return at once
    }

    private func run() {
        let writer = MarketDataWriter(connectionString: connectionString)
        var pending: [Tick] = []
        pending.reserveCapacity(batchSize)
        var firstPendingAt: UInt64 = 0
        // Not at once: at start `replayJournalAtStart` gives the journal back (and seeds the
        // streams' sequences from it) before the intake opens.
        var nextReplayAttempt: UInt64 = monotonicNanoseconds() + 1_000_000_000
        while true {
            let now = monotonicNanoseconds()
            // Idle, the writer sleeps until ticks come or the queue closes (a push and the close
            // wake it); with a journal to give back, until its next attempt (once a second).
            let idleWait: UInt64 = if let journal, !journal.isEmpty {
                nextReplayAttempt > now ? min(nextReplayAttempt - now, 1_000_000_000) : 0
            } else {
                TickQueue.forever
            }
            let wait = pending.isEmpty ? idleWait : (firstPendingAt + flushIntervalNanoseconds > now ? firstPendingAt + flushIntervalNanoseconds - now : 0)
            let taken = queue.take(max: batchSize - pending.count, timeoutNanoseconds: wait)
            if pending.isEmpty && !taken.isEmpty { firstPendingAt = monotonicNanoseconds() }
            pending.append(contentsOf: taken)
            let drained = queue.isClosedAndEmpty
            let due = !pending.isEmpty && monotonicNanoseconds() >= firstPendingAt + flushIntervalNanoseconds
            if pending.count >= batchSize || due || (drained && !pending.isEmpty) {
                var start = 0
                while start < pending.count {
                    let end = min(start + batchSize, pending.count)
                    if !store(pending[start..<end], writer: writer) {
                        abandoned.add(pending.count - end, ordering: .relaxed)  // the batches after the one given up
                        break
                    }
                    start = end
                }
                pending.removeAll(keepingCapacity: true)
            }
            if drained && pending.isEmpty { break }
            // Journaled ticks go back as soon as PostgreSQL answers, even with no new ticks.
            if pending.isEmpty, let journal, !journal.isEmpty, monotonicNanoseconds() >= nextReplayAttempt {
                replayJournal(writer)
                // Left over (PostgreSQL failed again, or another writer is giving it back): look
                // again in a second. At once would spin while the other writer works.
                if !journal.isEmpty { nextReplayAttempt = monotonicNanoseconds() + 1_000_000_000 }
            }
        }
        writer.close()
    }

    /// At start, before intake: replays the whole journal, seeding `sequences` with the streams
    /// it held. Throws if PostgreSQL fails meanwhile (the rest stays journaled).
    public func replayJournalAtStart() throws -> Int {
        guard let journal, !journal.isEmpty else { return 0 }
        // The writer threads are already up and replay an unconsumed journal too: one at a time.
        while !replaying.withLock({ busy -> Bool in
            if busy { return false }
            busy = true
            return true
        }) { Thread.sleep(forTimeInterval: 0.01) }
        defer { replaying.withLock { $0 = false } }
        let writer = MarketDataWriter(connectionString: connectionString)
        defer { writer.close() }
        let done = try journal.replay(with: writer) { [sequences] streams in
            for s in streams { sequences?.restoreDurable(source: s.source, session: s.session, lastSequence: s.last) }
        }
        note(done)
        return done.ticks
    }

    private func note(_ done: TickJournal.Replayed) {
        counters.replayed.add(done.ticks - done.quarantinedTicks, ordering: .relaxed)
        counters.quarantined.add(done.quarantinedTicks, ordering: .relaxed)
        counters.unreadableJournalRecords.add(done.unreadableRecords, ordering: .relaxed)
        if done.unreadableRecords > 0 {
            logger.critical("tick journal records could not be read back; their bytes are in quarantine and replay went on",
                            metadata: ["records": "\(done.unreadableRecords)"])
        }
    }

    /// Replays the journal if no other writer is; `false` if PostgreSQL failed meanwhile.
    @discardableResult
    /// - Parameter limit: ticks to give back in this turn at most: after a write, a few batches,
    ///   so a writer alternates between the queue and the journal while receivers spill (with
    ///   one writer, an unbounded replay would leave the queue's older ticks waiting).
    private func replayJournal(_ writer: MarketDataWriter, limit: Int = .max) -> Bool {
        guard let journal else { return true }
        let mine = replaying.withLock { busy -> Bool in
            if busy { return false }
            busy = true
            return true
        }
        guard mine else { return true }
        defer { replaying.withLock { $0 = false } }
        do {
            let done = try journal.replay(with: writer, limit: limit)
            note(done)
            if done.ticks > 0 {
                counters.stored.add(done.ticks - done.quarantinedTicks, ordering: .relaxed)
                if journal.isEmpty {
                    logger.notice("the tick journal is given back to PostgreSQL", metadata: ["ticks": "\(done.ticks)"])
                } else {
                    logger.debug("replayed journaled ticks into PostgreSQL", metadata: [
                        "ticks": "\(done.ticks)", "journal_bytes": "\(journal.journal.pendingBytes)"])
                }
            }
            return true
        } catch {
            writer.close()
            logger.warning("replaying the tick journal stopped; it is retried", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Stores one batch: in PostgreSQL, retrying with backoff while memory has room; in the local
    /// journal when it has not (or the journal already holds older ticks, or the engine is stopping
    /// with PostgreSQL away). `false` only if neither took it before shutdown's deadline.
    private func store(_ ticks: ArraySlice<Tick>, writer: MarketDataWriter) -> Bool {
        guard let batch = writer.prepare(ticks, now: clock.now()) else { return true }
        var unknownOutcome = false
        var backoff = 0.05
        var journalRefused: SegmentJournal.Failure?
        defer {
            if journalRefused != nil, storageBlocked.exchange(false, ordering: .acquiringAndReleasing) {
                logger.notice("ticks are durable again")
            }
        }
        while true {
            do {
                let started = monotonicNanoseconds()
                let result = try writer.write(batch, afterUnknownOutcome: unknownOutcome)
                flushTimer.recordNanoseconds(Int64(monotonicNanoseconds() - started))
                batchSizes.record(batch.count)
                databaseUp.store(true, ordering: .relaxed)
                counters.stored.add(batch.count - result.quarantined, ordering: .relaxed)
                if result.quarantined > 0 {
                    counters.quarantined.add(result.quarantined, ordering: .relaxed)
                    logger.error("PostgreSQL refused ticks for their content; they are in quarantine, the rest of the batch is stored",
                                 metadata: ["ticks": "\(result.quarantined)", "batch": "\(batch.count)"])
                }
                sequences?.markDurable(ticks)
                if let journal, !journal.isEmpty { replayJournal(writer, limit: 4 * batchSize) }
                return true
            } catch {
                counters.writeFailures.add(1, ordering: .relaxed)
                databaseUp.store(false, ordering: .relaxed)
                // Any failure may have left part of the batch stored (a lost connection's unknown
                // outcome, or halves of a poison split committed before a later error): retries
                // go through the staging table, which inserts only what is not there yet.
                unknownOutcome = true
                let stopping = shutdownDeadline.withLock({ $0 }) != nil
                if let journal, stopping || underMemoryPressure || !journal.isEmpty {
                    do {
                        // Its ids go with it: a replay finds the rows this failed write did store.
                        try journal.append(batch, streams: TickJournal.streams(ticks))
                        counters.journaled.add(batch.count, ordering: .relaxed)
                        sequences?.markDurable(ticks)
                        return true
                    } catch {
                        if journalRefused == nil {
                            logger.critical("ticks can reach neither PostgreSQL nor the journal: they wait in memory, and intake stops when it is full",
                                            metadata: ["error": "\(error)", "journal_bytes": "\(journal.journal.pendingBytes)"])
                        }
                        journalRefused = error
                        storageBlocked.store(true, ordering: .releasing)
                    }
                }
                if let deadline = shutdownDeadline.withLock({ $0 }), monotonicNanoseconds() > deadline {
                    logger.critical("giving up on ticks at shutdown: database unreachable", metadata: [
                        "ticks": "\(batch.count)", "error": "\(error)",
                    ])
                    abandoned.add(batch.count, ordering: .relaxed)
                    return false
                }
                if journalRefused == nil {
                    logger.error("tick batch write failed; retrying", metadata: ["ticks": "\(batch.count)", "error": "\(error)", "retry_in_s": "\(backoff)"])
                }
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// The receivers' way past a full queue (``TickQueue``'s overflow): PostgreSQL is slower
    /// than intake, or away, and memory holds `ingest.max_memory` already, so the batch goes to
    /// the journal and the receivers keep reading (memory, then the journal, then backpressure;
    /// docs/operations.md, "Overload"). `false` when there is no journal or it cannot take the
    /// batch: the receiver then waits for room, and the engine stops reading.
    public func spill(_ ticks: [Tick]) -> Bool {
        guard let journal else { return false }
        let now = clock.now()
        let outcome = spiller.withLock { writer -> SegmentJournal.Failure?? in
            guard let batch = writer.prepare(ticks[...], now: now) else { return .some(nil) }
            do throws(SegmentJournal.Failure) {
                // One record, never split: a failure then leaves nothing of the batch in the
                // journal (the append is undone whole), so the receiver may queue it again.
                try journal.appendWhole(batch)
            } catch {
                return .some(error)
            }
            counters.journaled.add(batch.count, ordering: .relaxed)
            counters.spilled.add(batch.count, ordering: .relaxed)
            // Not marked durable for the streams' seq: older ticks of the same streams may still
            // be in memory only, and a crash must not make a restart drop their resends (the
            // seq saved for restarts moves on as the writers store the queue; a restart tops it
            // up from the ticks stored since).
            return nil
        }
        guard let failure = outcome ?? nil else {
            if spillRefused.exchange(false, ordering: .relaxed) { logger.notice("the tick journal takes ticks again") }
            return true
        }
        if !spillRefused.exchange(true, ordering: .relaxed) {
            logger.warning("memory is full and the tick journal cannot take more: the engine stops reading until storage catches up",
                           metadata: ["error": "\(failure)", "journal_bytes": "\(journal.journal.pendingBytes)"])
        }
        return false
    }
    /// Whether the last spill was refused (logged once per episode).
    private let spillRefused = Atomic<Bool>(false)

    /// Whether memory holds as much as it should during an outage: past it, batches spill.
    private var underMemoryPressure: Bool {
        queue.count >= memoryTicks || queue.bytes >= queue.maxBytes / 2 || queue.waitingPushes.load(ordering: .relaxed) > 0
    }
}
