import Dispatch
import Foundation
public import Logging
import Postgres
import Storage
public import Synchronization
public import TradingCore
public import ZeroMQ

/// Makes the desk's records durable, then publishes their events: one thread owning the PUB
/// socket (`bus.bind`) and a database connection. Each round commits every pending record in one
/// transaction — trades, trade_logs, positions, position_history, and the events with their
/// `seq` in `bus_events` — and only after COMMIT sends the events, in `seq` order. `seq` is one
/// counter over fills and orders that continues from `max(seq)` after a restart.
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
    private let onPublished: @Sendable ([BusEvent]) -> Void
    /// Gateway requests and report acknowledgements, handed on once their rows are committed.
    private let onGateway: @Sendable ([DeskRecord]) -> Void
    private let security: SocketSecurity?
    /// Where a round goes when PostgreSQL cannot take it: durable there, it is published at once
    /// and applied to PostgreSQL, in order, when it answers again.
    private let journal: SegmentJournal?
    /// Monotonic milliseconds of the writer loop's last turn (the watchdog's check).
    public let lastTurn = Atomic<UInt64>(0)
    /// Events published, by kind, and REJECTED order events (metrics).
    public let orderEvents = Atomic<Int>(0)
    public let fillEvents = Atomic<Int>(0)
    public let rejectedEvents = Atomic<Int>(0)
    /// Rounds journaled during an outage (for tests and metrics).
    public let journaledRounds = Atomic<Int>(0)

    public init(connectionString: String, endpoint: String, context: ZMQContext, logger: Logger,
                onPublished: @escaping @Sendable ([BusEvent]) -> Void = { _ in },
                onGateway: @escaping @Sendable ([DeskRecord]) -> Void = { _ in }, security: SocketSecurity? = nil,
                journal: SegmentJournal? = nil) {
        self.security = security
        self.journal = journal
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
    }

    private func run() {
        let socket: ZMQSocket
        let db: LazyConnection
        var nextSeq: Int64
        var ids = UUIDv7Generator()
        do {
            socket = try ZMQSocket(context: context, type: .pub, linger: 2_000)
            try socket.setSendHighWaterMark(0)
            try security?.applyServer(to: socket)
            try socket.bind(endpoint)
            db = LazyConnection(connectionString: connectionString)
            // Rounds journaled before a crash or during an outage first, so seq continues after them.
            _ = replayJournal(db)
            nextSeq = Int64(try db.get().query("SELECT coalesce(max(seq), 0) + 1 FROM bus_events").scalar ?? "1") ?? 1
            if let last = try journaledMaxSeq() { nextSeq = max(nextSeq, last + 1) }
        } catch {
            startError.withLock { $0 = error }
            started.signal()
            return
        }
        started.signal()
        logger.info("event bus ready", metadata: ["endpoint": "\(endpoint)", "next_seq": "\(nextSeq)"])
        var backoff = 0.05
        var lastReplayAttempt: UInt64 = 0
        while true {
            lastTurn.store(monotonicNanoseconds() / 1_000_000, ordering: .relaxed)
            let finishing = stopping.load(ordering: .acquiring)
            let batches = pending.withLock { p -> [[DeskRecord]] in
                defer { p.removeAll() }
                return p
            }
            if let journal, !journal.isEmpty, monotonicNanoseconds() - lastReplayAttempt > 500_000_000 {
                lastReplayAttempt = monotonicNanoseconds()
                _ = replayJournal(db)
            }
            if !batches.isEmpty {
                let records = batches.flatMap { $0 }
                let prepared = prepare(records, firstSeq: nextSeq, roundID: ids.next(now: SystemClock().now()).description)
                do {
                    // While older rounds wait in the journal, newer ones queue behind them there.
                    if let journal, !journal.isEmpty { throw JournalBacklog() }
                    try apply(prepared, db: try db.get())
                } catch {
                    db.close()
                    if let journal {
                        do {
                            let round = JournalRound(roundID: prepared.roundID, firstSeq: prepared.firstSeq, records: records)
                            try journal.append(Array(try JSONEncoder().encode(round)))
                            journaledRounds.add(1, ordering: .relaxed)
                            if !(error is JournalBacklog) {
                                logger.error("PostgreSQL did not take order records; journaled them locally", metadata: ["error": "\(error)"])
                            }
                        } catch let journalError {
                            logger.critical("order records reached neither PostgreSQL nor the journal; retrying",
                                            metadata: ["error": "\(error)", "journal_error": "\(journalError)"])
                            pending.withLock { $0.insert(contentsOf: batches, at: 0) }
                            Thread.sleep(forTimeInterval: backoff)
                            backoff = min(backoff * 2, 5)
                            if finishing && backoff > 2 { break }
                            continue
                        }
                    } else {
                        // Nothing was committed: keep the records, in order, and try again.
                        logger.error("storing order records failed; retrying", metadata: ["error": "\(error)", "records": "\(records.count)"])
                        pending.withLock { $0.insert(contentsOf: batches, at: 0) }
                        if finishing && backoff > 2 { break }
                        Thread.sleep(forTimeInterval: backoff)
                        backoff = min(backoff * 2, 5)
                        continue
                    }
                }
                // Durable (in PostgreSQL or the journal): publish in seq order.
                for (seq, event, payload) in prepared.published {
                    _ = try? socket.send([Array(event.topic.utf8), Array(payload.utf8)])
                    nextSeq = seq + 1
                }
                published.add(prepared.published.count, ordering: .relaxed)
                for (_, event, _) in prepared.published {
                    if event.kind == .fill { fillEvents.add(1, ordering: .relaxed) } else { orderEvents.add(1, ordering: .relaxed) }
                    if event.kind == .order && event.order.state.status == .rejected { rejectedEvents.add(1, ordering: .relaxed) }
                }
                onPublished(prepared.published.map(\.1))
                if !prepared.gateway.isEmpty { onGateway(prepared.gateway) }
                backoff = 0.05
            } else if finishing {
                if let journal, !journal.isEmpty, backoff < 2 {
                    // A last chance for journaled rounds; they stay on disk for the next start otherwise.
                    _ = replayJournal(db)
                    backoff *= 4
                    if !journal.isEmpty { Thread.sleep(forTimeInterval: 0.2); continue }
                }
                break
            }
            _ = wake.wait(timeout: .now() + .milliseconds(100))
        }
        db.close()
        socket.close()
    }

    struct JournalBacklog: Error {}

    /// Applies journaled rounds to PostgreSQL, oldest first; `false` if it stopped on a failure.
    private func replayJournal(_ db: LazyConnection) -> Bool {
        guard let journal, !journal.isEmpty else { return true }
        var applied = 0
        do {
            while true {
                let records = try journal.read(limit: 16)
                if records.isEmpty { break }
                for record in records {
                    let round = try JSONDecoder().decode(JournalRound.self, from: Data(record.payload))
                    try apply(prepare(round.records, firstSeq: round.firstSeq, roundID: round.roundID), db: try db.get())
                    try journal.consume(through: record.next)
                    applied += 1
                }
            }
            if applied > 0 { logger.notice("applied journaled order records to PostgreSQL", metadata: ["rounds": "\(applied)"]) }
            return true
        } catch {
            db.close()
            if case SegmentJournal.Failure.corrupt = error {
                logger.critical("order journal is corrupt; replay stopped", metadata: ["error": "\(error)"])
            }
            return false
        }
    }

    /// The highest seq in the journal (rounds not yet in PostgreSQL).
    private func journaledMaxSeq() throws -> Int64? {
        guard let journal, !journal.isEmpty else { return nil }
        var last: Int64?
        for record in try journal.read(limit: .max) {
            let round = try JSONDecoder().decode(JournalRound.self, from: Data(record.payload))
            let events = round.records.reduce(0) { if case .event = $1 { $0 + 1 } else { $0 } }
            if events > 0 { last = round.firstSeq + Int64(events) - 1 }
        }
        return last
    }

    /// One transaction for a whole round, in a handful of statements however many fills it holds:
    /// the latest state of each order, position and strategy day (rows repeat within a round as
    /// an order moves), then the append-only rows in bulk (`unnest`), then the events with
    /// consecutive `seq` from `firstSeq`. Foreign keys are satisfied by that order.
    struct PreparedRound {
        var roundID: String
        var firstSeq: Int64
        var orders: [DeskOrder] = []
        var positions: [PositionRecord] = []
        var days: [StrategyDay] = []
        var logs = Array(repeating: [String?](), count: 4)
        var history = Array(repeating: [String?](), count: 6)
        var marks: [(String, FixedDecimal)] = []
        var halts: [(String, String)] = []
        var strategyHalts: [(strategyID: String, userID: String, reason: String, breach: String)] = []
        var dayStarts: [(time: Timestamp, lifting: [String])] = []
        var events = Array(repeating: [String?](), count: 5)
        var published: [(Int64, BusEvent, String)] = []
        var gateway: [DeskRecord] = []
    }

    /// Everything a round writes, with its events' seq and payloads, computed once: the same for
    /// a direct commit and for a replay from the journal.
    private func prepare(_ records: [DeskRecord], firstSeq: Int64, roundID: String) -> PreparedRound {
        var round = PreparedRound(roundID: roundID, firstSeq: firstSeq)
        var orders: [String: DeskOrder] = [:], orderOrder: [String] = []
        var positions: [String: PositionRecord] = [:], positionOrder: [String] = []
        var days: [String: StrategyDay] = [:], dayOrder: [String] = []
        var seq = firstSeq
        for record in records {
            switch record {
            case .order(let order):
                if orders.updateValue(order, forKey: order.tradeID) == nil { orderOrder.append(order.tradeID) }
            case .position(let position):
                if positions.updateValue(position, forKey: position.positionID) == nil { positionOrder.append(position.positionID) }
            case .performance(let day):
                let key = "\(day.strategyID)|\(day.day)"
                if days.updateValue(day, forKey: key) == nil { dayOrder.append(key) }
            case .tradeLog(let tradeID, let level, let message, let data):
                for (i, v) in [tradeID, level, message, data].enumerated() { round.logs[i].append(v) }
            case .positionHistory(let h):
                for (i, v) in [h.positionID, h.price.description, String(h.quantity), OrderRecords.decimal(h.pnl), h.action.rawValue,
                               h.time.description].enumerated() { round.history[i].append(v) }
            case .mark(let positionID, let price):
                round.marks.append((positionID, price))
            case .halt(let userID, let reason):
                round.halts.append((userID, reason))
            case .strategyHalt(let strategyID, let userID, let reason, let breach):
                round.strategyHalts.append((strategyID, userID, reason, breach))
            case .dayStart(_, let time, let lifting):
                round.dayStarts.append((time, lifting))
            case .gatewayRequest, .gatewayAck:
                round.gateway.append(record)
            case .event(let event):
                let payload = event.json(seq: seq)
                for (i, v) in [String(seq), event.topic, event.kind.rawValue, event.order.tradeID, payload].enumerated() { round.events[i].append(v) }
                round.published.append((seq, event, payload))
                seq += 1
            }
        }
        round.orders = orderOrder.map { orders[$0]! }
        round.positions = positionOrder.map { positions[$0]! }
        round.days = dayOrder.map { days[$0]! }
        return round
    }

    /// One transaction for a prepared round; a round already applied (by id) is skipped whole.
    private func apply(_ round: PreparedRound, db: PostgresConnection) throws {
        let logs = round.logs, history = round.history, events = round.events
        try db.transaction { conn in
            if journal != nil {
                let fresh = try conn.query("INSERT INTO event_journal_rounds (round_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
                                           [round.roundID]).affectedRows
                if fresh == 0 { return }
            }
            for (positionID, price) in round.marks {
                try conn.query("UPDATE positions SET current_price = $2::numeric WHERE position_id = $1::uuid AND status <> 'CLOSED'",
                               [positionID, price.description])
            }
            for order in round.orders { try OrderRecords.upsert(order, conn) }
            for position in round.positions { try OrderRecords.upsert(position, conn) }
            if !logs[0].isEmpty {
                try conn.query("""
                    INSERT INTO trade_logs (trade_id, log_level, message, data)
                    SELECT t, l, m, d::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS x(t, l, m, d)
                    """, logs.map { PostgresArrayLiteral.text($0) })
            }
            if !history[0].isEmpty {
                try conn.query("""
                    INSERT INTO position_history (position_id, price, quantity, pnl, action, "timestamp")
                    SELECT * FROM unnest($1::uuid[], $2::numeric[], $3::int[], $4::numeric[], $5::text[], $6::timestamptz[])
                    """, history.map { PostgresArrayLiteral.text($0) })
            }
            for day in round.days { try OrderRecords.upsert(day, conn) }
            for (time, lifting) in round.dayStarts {
                // A new IST day: the halts of the breaches it lifts, raised before it, are lifted
                // (with audit rows).
                try conn.query("""
                    WITH r AS (
                        UPDATE halts SET resumed_at = now(), resumed_by = 'engine:day-start'
                        WHERE resumed_at IS NULL AND breach = ANY($2::text[]) AND created_at < $1::timestamptz
                        RETURNING user_id, strategy_id, reason)
                    INSERT INTO audit_log (actor, action, target_user_id, target, details)
                    SELECT 'engine:day-start', 'resume', user_id, CASE WHEN strategy_id IS NULL THEN 'user' ELSE 'strategy' END,
                           jsonb_build_object('reason', reason, 'strategy_id', strategy_id) FROM r
                    """, [time.description, PostgresArrayLiteral.text(lifting)])
            }
            for h in round.strategyHalts {
                try conn.query("""
                    WITH h AS (
                        INSERT INTO halts (user_id, strategy_id, reason, source, created_by, breach)
                        SELECT $1::uuid, $2::uuid, $3, 'breach', 'breaker', $4 WHERE NOT EXISTS
                            (SELECT 1 FROM halts WHERE strategy_id = $2::uuid AND resumed_at IS NULL)
                        RETURNING user_id)
                    INSERT INTO audit_log (actor, action, target_user_id, target, details)
                    SELECT 'engine:breaker', 'halt', user_id, 'strategy',
                           jsonb_build_object('reason', $3::text, 'strategy_id', $2::text, 'breach', $4::text) FROM h
                    """, [h.userID, h.strategyID, h.reason, h.breach])
            }
            for (userID, reason) in round.halts {
                // The halt and its audit row together (docs/security.md).
                try conn.query("""
                    WITH h AS (
                        INSERT INTO halts (user_id, reason, source, created_by, breach)
                        SELECT $1::uuid, $2, 'breach', 'risk', CASE WHEN $2 LIKE 'daily loss%' THEN 'daily_loss' ELSE 'drawdown' END
                        WHERE NOT EXISTS
                            (SELECT 1 FROM halts WHERE user_id = $1::uuid AND strategy_id IS NULL AND resumed_at IS NULL)
                        RETURNING user_id)
                    INSERT INTO audit_log (actor, action, target_user_id, target, details)
                    SELECT 'engine:risk', 'halt', user_id, 'user', jsonb_build_object('reason', $2::text, 'source', 'breach') FROM h
                    """, [userID, reason])
            }
            if !events[0].isEmpty {
                try conn.query("""
                    INSERT INTO bus_events (seq, topic, event, trade_id, payload)
                    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[], $5::text[])
                    """, events.map { PostgresArrayLiteral.text($0) })
            }
        }
    }
}

/// SQL for the desk's rows.
enum OrderRecords {
    static func upsert(_ order: DeskOrder, _ conn: PostgresConnection) throws {
        let i = order.intent
        let metadata = order.reason.map { reason -> String in
            var out: [UInt8] = Array("{\"reason\":".utf8)
            TickJSONEncoder.appendString(reason, to: &out)
            out += Array(",\"intent\":".utf8)
            TickJSONEncoder.appendString(i.reason, to: &out)
            return String(decoding: out + [UInt8(ascii: "}")], as: UTF8.self)
        } ?? "{\"intent\":\"\(i.reason.replacingOccurrences(of: "\"", with: "'"))\"}"
        try conn.query("""
            INSERT INTO trades (trade_id, strategy_id, broker_id, symbol, exchange, instrument_type, order_type, transaction_type,
                                quantity, price, trigger_price, stoploss, target, status, order_id, parent_order_id,
                                order_timestamp, execution_timestamp, average_price, filled_quantity, metadata,
                                product, validity, algo_id, charges)
            VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $21, $6, $7, $8::int, $9::numeric, $10::numeric, $11::numeric, $12::numeric,
                    $13, $14, $15, $16::timestamptz, $17::timestamptz, $18::numeric, $19::int, $20::jsonb, $22, $23, $24, $25::numeric)
            ON CONFLICT (trade_id) DO UPDATE SET status = EXCLUDED.status, quantity = EXCLUDED.quantity, price = EXCLUDED.price,
                trigger_price = EXCLUDED.trigger_price, execution_timestamp = EXCLUDED.execution_timestamp,
                average_price = EXCLUDED.average_price, filled_quantity = EXCLUDED.filled_quantity, metadata = EXCLUDED.metadata,
                charges = EXCLUDED.charges
            """, [order.tradeID, i.strategyID, i.brokerID, i.symbol, i.exchange, i.type.rawValue, i.side.rawValue,
                  String(order.state.quantity), order.state.price?.description, order.state.triggerPrice?.description,
                  i.stoploss?.description, i.target?.description, order.state.status.rawValue, order.orderID, order.parentOrderID,
                  order.orderTime.description, order.executionTime?.description, order.state.averagePrice?.description,
                  String(order.state.filledQuantity), metadata, order.instrumentType ?? "EQ", (order.product ?? .mis).rawValue,
                  (order.validity ?? .day).rawValue, order.algoID, FixedDecimal(units: order.charges ?? 0).description])
    }

    static func upsert(_ p: PositionRecord, _ conn: PostgresConnection) throws {
        try conn.query("""
            INSERT INTO positions (position_id, trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price,
                                   current_price, realized_pnl, status, opened_at, closed_at, product, charges, gross_realized_pnl)
            VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $13, $6::int, $7::numeric, $8::numeric, $9::numeric, $10,
                    $11::timestamptz, $12::timestamptz, $14, $15::numeric, $16::numeric)
            ON CONFLICT (position_id) DO UPDATE SET quantity = EXCLUDED.quantity, average_price = EXCLUDED.average_price,
                current_price = EXCLUDED.current_price, realized_pnl = EXCLUDED.realized_pnl, status = EXCLUDED.status,
                closed_at = EXCLUDED.closed_at, product = EXCLUDED.product, charges = EXCLUDED.charges,
                gross_realized_pnl = EXCLUDED.gross_realized_pnl
            """, [p.positionID, p.openingTradeID, p.userID, p.symbol, p.exchange, String(p.quantity), p.averagePrice.description,
                  p.currentPrice.description, decimal(p.realizedPnL), p.status.rawValue, p.openedAt.description, p.closedAt?.description,
                  p.instrumentType ?? "EQ", p.product?.rawValue, decimal(p.charges ?? 0), decimal(p.grossRealizedPnL ?? p.realizedPnL)])
    }

    static func upsert(_ d: StrategyDay, _ conn: PostgresConnection) throws {
        let (y, m, dd) = CivilCalendar.civil(fromDays: d.day)
        let date = String(format: "%04d-%02d-%02d", Int(y), Int(m), Int(dd))
        let pnls = d.closedPnLs.map { decimal($0) }.joined(separator: ",")
        try conn.query("""
            INSERT INTO strategy_performance (strategy_id, date, total_trades, winning_trades, losing_trades, total_pnl,
                                              max_drawdown, sharpe_ratio, win_rate, metrics, gross_pnl, charges)
            VALUES ($1::uuid, $2::date, $3::int, $4::int, $5::int, round($6::numeric, 2), round($7::numeric, 2),
                    $8::numeric, $9::numeric, $10::jsonb, round($11::numeric, 2), round($12::numeric, 2))
            ON CONFLICT (strategy_id, date) DO UPDATE SET total_trades = EXCLUDED.total_trades,
                winning_trades = EXCLUDED.winning_trades, losing_trades = EXCLUDED.losing_trades, total_pnl = EXCLUDED.total_pnl,
                max_drawdown = EXCLUDED.max_drawdown, sharpe_ratio = EXCLUDED.sharpe_ratio, win_rate = EXCLUDED.win_rate,
                metrics = EXCLUDED.metrics, gross_pnl = EXCLUDED.gross_pnl, charges = EXCLUDED.charges
            """, [d.strategyID, date, String(d.trades), String(d.winning), String(d.losing), decimal(d.totalPnL),
                  decimal(d.maxDrawdown), d.sharpeRatio.map { String(format: "%.4f", $0) }, d.winRate.map { String(format: "%.2f", $0) },
                  "{\"closed_trades\":\(d.closedPnLs.count),\"total_pnl_exact\":\(decimal(d.totalPnL)),\"gross_pnl_exact\":\(decimal(d.grossPnL)),\"charges_exact\":\(decimal(d.charges)),\"closed_pnl\":[\(pnls)]}",
                  decimal(d.grossPnL), decimal(d.charges)])
    }

    /// 1/10,000 units as decimal text.
    static func decimal(_ units: Int128) -> String { MoneyText.exact(units) }
}
