import Dispatch
import Foundation
public import Logging
import Storage
public import Synchronization
public import TradingCore
public import ZeroMQ

/// Makes the desk's records durable, then publishes their events: one thread owning the PUB
/// socket (`bus.bind`) and a database connection. Each round commits its records in one
/// transaction (``OrderRoundStore``) and only after COMMIT sends the events, in `seq` order.
/// `seq` is one counter over fills and orders that continues after a restart and is never reused.
///
/// Nothing is published that is not durable (docs/operations.md, "What is durable when"):
/// - PostgreSQL away: the round goes to the local journal (fsynced), then is published, and is
///   applied to PostgreSQL in order when it answers again.
/// - PostgreSQL refuses a round for a record's content: the round is split until that record is
///   found; it goes to `quarantine` with the refusal, the rest is stored, the engine goes on.
/// - Neither PostgreSQL nor the journal can take a round (journal full, disk full): nothing is
///   published, the records wait, intake stops (``IntakeGate``) and the desk takes no new
///   orders until one of them can; the engine says so in its log and metrics.
public final class EventWriter: Sendable {
    private let pending = Mutex<[[DeskRecord]]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    private let startError = Mutex<(any Error)?>(nil)
    private let connectionString: String
    private let endpoint: String
    private let context: ZMQContext
    private let logger: Logger
    public let published = Atomic<Int>(0)
    /// Called after a batch's events were published: fills, so strategies learn their positions.
    private let onPublished: @Sendable ([(seq: Int64, event: BusEvent, payload: String)]) -> Void
    /// Gateway requests and report acknowledgements, handed on once their rows are committed.
    private let onGateway: @Sendable ([DeskRecord]) -> Void
    private let security: SocketSecurity?
    /// Where a round goes when PostgreSQL cannot take it: durable there, it is published at once
    /// and applied to PostgreSQL, in order, when it answers again.
    private let journal: SegmentJournal?
    /// The next `seq` after every event ever published from the journal: a journal segment lost
    /// or unreadable can never make a `seq` be used twice.
    private let seqFloor: SequenceFloor?
    /// Closed while rounds can be made durable nowhere.
    private let gate: IntakeGate?
    /// Monotonic milliseconds of the writer loop's last turn (the watchdog's check).
    public let lastTurn = Atomic<UInt64>(0)
    /// Events published, by kind, and REJECTED order events (metrics).
    public let orderEvents = Atomic<Int>(0)
    public let fillEvents = Atomic<Int>(0)
    public let rejectedEvents = Atomic<Int>(0)
    /// Rounds journaled during an outage (for tests and metrics).
    public let journaledRounds = Atomic<Int>(0)
    /// Records the database refused for their content (kept in `quarantine`), and journal
    /// records that could not be read back (quarantined as bytes).
    public let quarantinedRecords = Atomic<Int>(0)
    public let quarantinedJournalRecords = Atomic<Int>(0)
    /// Whether rounds wait because neither PostgreSQL nor the journal can take them.
    private let blocked = Atomic<Bool>(false)
    public var isBlocked: Bool { blocked.load(ordering: .acquiring) }
    /// Records still not durable when the writer had to stop (PostgreSQL away, journal full).
    public let abandonedRecords = Atomic<Int>(0)
    /// Whether the last attempt to reach PostgreSQL succeeded (metrics; a content refusal counts
    /// as reached).
    public let databaseReachable = Atomic<Bool>(true)

    /// Records in one round at most: a round is one transaction and, in an outage, one journal
    /// record, so it stays far below the journal's record bound. An enqueued batch is never split.
    static let maxRecordsPerRound = 2_000
    /// Events queued per subscriber at most (ZMQ_SNDHWM on the bus).
    static let busSendHighWaterMark: Int32 = 100_000

    public init(connectionString: String, endpoint: String, context: ZMQContext, logger: Logger,
                onPublished: @escaping @Sendable ([(seq: Int64, event: BusEvent, payload: String)]) -> Void = { _ in },
                onGateway: @escaping @Sendable ([DeskRecord]) -> Void = { _ in }, security: SocketSecurity? = nil,
                journal: SegmentJournal? = nil, seqFloor: SequenceFloor? = nil, gate: IntakeGate? = nil) {
        self.security = security
        self.journal = journal
        self.seqFloor = seqFloor
        self.gate = gate
        self.connectionString = connectionString
        self.endpoint = endpoint
        self.context = context
        self.logger = logger
        self.onPublished = onPublished
        self.onGateway = onGateway
    }

    public func enqueue(_ records: [DeskRecord]) {
        guard !records.isEmpty else { return }
        pending.withLock { $0.append(records) }
        wake.signal()
    }

    /// Binds the PUB socket and reads the next `seq`; throws why not.
    public func start() throws {
        let thread = Thread { [self] in
            ThreadName.setCurrent("event writer")
            run()
            finished.signal()
        }
        thread.name = "event writer"
        thread.start()
        started.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    /// Writes and publishes what is pending, then ends.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
        finished.signal()
    }

    /// A round as the journal keeps it: its id (so applying it twice is a no-op), the first `seq`
    /// its events were published with, and its records.
    struct JournalRound: Codable {
        var roundID: String
        var firstSeq: Int64
        var records: [DeskRecord]
        /// For a part of a split round: the whole round's id, where the part starts in it and how
        /// many records it had, so the part's id and its own parts' ids come out as they would
        /// have on the direct path (absent in journals written before splitting existed).
        var rootID: String?
        var rootOffset: Int?
        var rootCount: Int?

        init(roundID: String, firstSeq: Int64, records: [DeskRecord]) {
            self.roundID = roundID
            self.firstSeq = firstSeq
            self.records = records
        }

        init(_ round: OrderRound) {
            self.init(roundID: round.roundID, firstSeq: round.firstSeq, records: round.records)
            rootID = round.rootID
            rootOffset = round.rootOffset
            rootCount = round.rootCount
        }

        var round: OrderRound {
            OrderRound(records: records, firstSeq: firstSeq, roundID: roundID, root: rootID.map { ($0, rootOffset ?? 0, rootCount ?? records.count) })
        }
    }

    private func run() {
        let socket: ZMQSocket
        let store = OrderRoundStore(connectionString: connectionString)
        var nextSeq: Int64
        var ids = UUIDv7Generator()
        do {
            socket = try ZMQSocket(context: context, type: .pub, linger: 2_000)
            // Bounded: a subscriber that stops reading costs at most this many queued events; past
            // it the PUB drops for that subscriber alone, which sees the gap in seq and asks the
            // replay endpoint (docs/protocol.md). Unlimited, one stuck subscriber grew memory for ever.
            try socket.setSendHighWaterMark(Self.busSendHighWaterMark)
            // Subscribers send only subscriptions (topic prefixes): cap what libzmq reads from them.
            try socket.setMaxMessageSize(4_096)
            try security?.applyServer(to: socket, as: .bus)
            try socket.bind(endpoint)
            // Rounds journaled before a crash or during an outage first, so seq continues after them.
            _ = replayJournal(store)
            nextSeq = try store.nextSeq()
            if let last = try journaledMaxSeq() { nextSeq = max(nextSeq, last + 1) }
            if let seqFloor { nextSeq = max(nextSeq, seqFloor.value) }
        } catch {
            startError.withLock { $0 = error }
            started.signal()
            return
        }
        started.signal()
        logger.info("event bus ready", metadata: ["endpoint": "\(endpoint)", "next_seq": "\(nextSeq)"])
        var backoff = 0.05
        var lastReplayAttempt: UInt64 = 0
        // A round that could not be made durable is retried as the same round (same batches, same
        // id): if a failed attempt left it in the journal after all, the copies are one round.
        var retry: (batches: Int, roundID: String)?
        loop: while true {
            lastTurn.store(monotonicNanoseconds() / 1_000_000, ordering: .relaxed)
            let finishing = stopping.load(ordering: .acquiring)
            let batches = takeRound(exactly: retry?.batches)
            if let journal, !journal.isEmpty, monotonicNanoseconds() - lastReplayAttempt > 500_000_000 {
                lastReplayAttempt = monotonicNanoseconds()
                _ = replayJournal(store)
            }
            if !batches.isEmpty {
                let roundID = retry?.roundID ?? ids.next(now: SystemClock().now()).description
                let round = OrderRound(records: batches.flatMap { $0 }, firstSeq: nextSeq, roundID: roundID)
                switch makeDurable(round, store: store) {
                case .blocked(let why):
                    pending.withLock { $0.insert(contentsOf: batches, at: 0) }
                    retry = (batches.count, roundID)
                    if !blocked.exchange(true, ordering: .acquiringAndReleasing) {
                        gate?.close(.eventStorageBlocked)
                        logger.critical("order records can reach neither PostgreSQL nor the journal: nothing is published, no new orders or ticks are taken until one of them can",
                                        metadata: ["error": "\(why)"])
                    }
                    if finishing && backoff > 2 {
                        let left = pending.withLock { $0.reduce(0) { $0 + $1.count } }
                        abandonedRecords.store(left, ordering: .relaxed)
                        logger.critical("stopping with order records that could not be made durable (none of them was published)",
                                        metadata: ["records": "\(left)"])
                        break loop
                    }
                    _ = wake.wait(timeout: .now() + backoff)
                    // At most 2 s: the writer's turn is the watchdog's sign of life (5 s).
                    backoff = min(backoff * 2, 2)
                    continue
                case .durable(let quarantined):
                    retry = nil
                    if blocked.exchange(false, ordering: .acquiringAndReleasing) {
                        gate?.open(.eventStorageBlocked)
                        logger.notice("order records are durable again: intake and orders resume")
                    }
                    publish(round, quarantined: quarantined, batches: batches, socket: socket)
                    if let last = round.lastSeq { nextSeq = last + 1 }
                    backoff = 0.05
                }
            } else if finishing {
                if let journal, !journal.isEmpty, backoff < 2 {
                    // A last chance for journaled rounds; they stay on disk for the next start otherwise.
                    _ = replayJournal(store)
                    backoff *= 4
                    if !journal.isEmpty { Thread.sleep(forTimeInterval: 0.2); continue }
                }
                break loop
            }
            _ = wake.wait(timeout: .now() + .milliseconds(100))
        }
        store.close()
        socket.close()
    }

    /// Pending batches for one round: whole batches, up to ``maxRecordsPerRound`` records (at
    /// least one batch), or exactly `count` batches (a retried round).
    private func takeRound(exactly count: Int?) -> [[DeskRecord]] {
        pending.withLock { p -> [[DeskRecord]] in
            var records = 0, taken = 0
            for batch in p {
                if let count {
                    if taken == count { break }
                } else if taken > 0 && records + batch.count > Self.maxRecordsPerRound {
                    break
                }
                records += batch.count
                taken += 1
            }
            defer { p.removeFirst(taken) }
            return Array(p.prefix(taken))
        }
    }

    enum Durability {
        /// In PostgreSQL or the journal; the indices of records quarantined instead.
        case durable(quarantined: Set<Int>)
        /// Neither could take it.
        case blocked(String)
    }

    /// PostgreSQL first (unless older rounds wait in the journal: order is kept), the journal if
    /// PostgreSQL is away.
    private func makeDurable(_ round: OrderRound, store: OrderRoundStore) -> Durability {
        var databaseError = "older rounds wait in the journal"
        if journal?.isEmpty ?? true {
            do {
                let quarantined = try applyIsolating(round, store)
                databaseReachable.store(true, ordering: .relaxed)
                return .durable(quarantined: quarantined)
            } catch {
                databaseReachable.store(false, ordering: .relaxed)
                databaseError = "\(error)"
                if journal == nil { return .blocked(databaseError) }
            }
        }
        guard let journal else { return .blocked(databaseError) }
        do {
            // The floor first: once any part of the round is in the journal its seqs are taken,
            // whatever happens next (a crash, a failed replay at the next start). If the append
            // then fails, the round is retried with the same seqs; only a crash before it gets
            // through leaves those seqs unused (a gap, never a reuse).
            if let last = round.lastSeq { try seqFloor?.raise(to: last + 1) }
            try journalRound(round, journal)
            journaledRounds.add(1, ordering: .relaxed)
            return .durable(quarantined: [])
        } catch {
            return .blocked("PostgreSQL: \(databaseError); journal: \(error)")
        }
    }

    /// Applies a round; a record the database refuses for its content is quarantined and the
    /// rest applied (``PoisonIsolation``). Returns the quarantined records' indices.
    private func applyIsolating(_ round: OrderRound, _ store: OrderRoundStore) throws -> Set<Int> {
        var quarantined = Set<Int>()
        try PoisonIsolation.write(Array(round.records.indices)[...]) { part in
            guard let first = part.first, let last = part.last else { return }
            try store.apply(round.part(first..<(last + 1)), deduplicate: journal != nil)
        } quarantine: { index, error in
            try store.quarantine(round, index: index, error: error)
            quarantined.insert(index)
            quarantinedRecords.add(1, ordering: .relaxed)
            logger.error("PostgreSQL refused an order record for its content; it is in quarantine, the rest is stored",
                         metadata: ["round": "\(round.roundID)", "index": "\(index)", "sqlstate": "\(error.sqlState ?? "")",
                                    "error": "\(error.message)"])
        }
        return quarantined
    }

    /// Appends a round to the journal, split into several records if one would be too large.
    private func journalRound(_ round: OrderRound, _ journal: SegmentJournal) throws {
        let bytes = Array(try JSONEncoder().encode(JournalRound(round)))
        if bytes.count <= journal.maxRecordBytes || round.records.count == 1 {
            try journal.append(bytes)
            return
        }
        let middle = round.records.count / 2
        try journalRound(round.part(0..<middle), journal)
        try journalRound(round.part(middle..<round.records.count), journal)
    }

    /// Sends a durable round's events in `seq` order, then tells the strategies and gateways.
    /// A gateway report whose records were quarantined is acknowledged as `quarantined`, never
    /// as `applied`.
    private func publish(_ round: OrderRound, quarantined: Set<Int>, batches: [[DeskRecord]], socket: ZMQSocket) {
        for (_, event, payload) in round.published {
            _ = try? socket.send([Array(event.topic.utf8), Array(payload.utf8)])
        }
        published.add(round.published.count, ordering: .relaxed)
        for (_, event, _) in round.published {
            if event.kind == .fill { fillEvents.add(1, ordering: .relaxed) } else { orderEvents.add(1, ordering: .relaxed) }
            if event.kind == .order && event.order.state.status == .rejected { rejectedEvents.add(1, ordering: .relaxed) }
        }
        onPublished(round.published)
        var gateway: [DeskRecord] = []
        var start = 0
        for batch in batches {
            let spoiled = quarantined.contains { $0 >= start && $0 < start + batch.count }
            for record in batch {
                switch record {
                case .gatewayRequest, .reconciliation:
                    gateway.append(record)
                case .gatewayAck(let peer, let reportID, let status):
                    gateway.append(.gatewayAck(peer: peer, reportID: reportID, status: spoiled ? "quarantined" : status))
                default:
                    break
                }
            }
            start += batch.count
        }
        if !gateway.isEmpty { onGateway(gateway) }
    }

    /// Applies journaled rounds to PostgreSQL, oldest first; `false` if it stopped on a failure.
    /// A record that cannot be read back is quarantined as bytes and passed over; one whose
    /// records the database refuses is split as any round is: nothing blocks the rounds behind.
    private func replayJournal(_ store: OrderRoundStore) -> Bool {
        guard let journal, !journal.isEmpty else { return true }
        var applied = 0
        do {
            while true {
                let records = try journal.read(limit: 16)
                if records.isEmpty { break }
                for record in records {
                    lastTurn.store(monotonicNanoseconds() / 1_000_000, ordering: .relaxed)
                    if let problem = record.corruption {
                        try quarantineUnreadable(record, problem, store)
                    } else if let round = try? JSONDecoder().decode(JournalRound.self, from: Data(record.payload)) {
                        _ = try applyIsolating(round.round, store)
                        applied += 1
                    } else {
                        try quarantineUnreadable(record, "a journal record that does not decode as a round", store)
                    }
                    try journal.consume(through: record.next)
                }
            }
            databaseReachable.store(true, ordering: .relaxed)
            if applied > 0 { logger.notice("applied journaled order records to PostgreSQL", metadata: ["rounds": "\(applied)"]) }
            return true
        } catch {
            store.close()
            if error is DatabaseError { databaseReachable.store(false, ordering: .relaxed) }
            logger.warning("replaying the order journal stopped; it is retried", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func quarantineUnreadable(_ record: SegmentJournal.Record, _ problem: String, _ store: OrderRoundStore) throws {
        try store.quarantineJournalRecord(key: "events:\(record.start.segment):\(record.start.offset)", reason: problem, bytes: record.payload)
        quarantinedJournalRecords.add(1, ordering: .relaxed)
        logger.critical("an order journal record could not be read back; its bytes are in quarantine and replay goes on",
                        metadata: ["segment": "\(record.start.segment)", "offset": "\(record.start.offset)", "problem": "\(problem)"])
    }

    /// The highest seq in the journal (rounds not yet in PostgreSQL). Only needed for a journal
    /// written before the seq floor existed: the floor is raised before any journaled event is
    /// published, so it covers every journaled seq, readable or not.
    private func journaledMaxSeq() throws -> Int64? {
        guard let journal, !journal.isEmpty, (seqFloor?.value ?? 0) == 0 else { return nil }
        var last: Int64?
        for record in try journal.read(limit: .max) where record.corruption == nil {
            guard let round = try? JSONDecoder().decode(JournalRound.self, from: Data(record.payload)) else { continue }
            let events = round.records.reduce(0) { if case .event = $1 { $0 + 1 } else { $0 } }
            if events > 0 { last = max(last ?? .min, round.firstSeq + Int64(events) - 1) }
        }
        return last
    }
}
