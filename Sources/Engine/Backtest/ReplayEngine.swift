public import Config
import Dispatch
import Foundation
import Logging
public import Storage
import Synchronization
public import TradingCore

/// The pipeline's results during a replay: intents and fills are handed back synchronously
/// between batches, so the run is a pure function of the ticks.
final class ReplaySink: PipelineSink {
    let pending = Mutex<[OrderIntent]>([])
    let failure = Mutex<String?>(nil)
    /// Kept only when a strategy process is replayed (it receives closed bars).
    let keepBars: Bool
    let bars = Mutex<[Bar]>([])
    init(keepBars: Bool) { self.keepBars = keepBars }
    func closedBars(_ bars: [ClosedBar]) {
        if keepBars { self.bars.withLock { $0 += bars.map(\.bar) } }
    }
    func takeBars() -> [Bar] { bars.withLock { let out = $0; $0 = []; return out } }
    func intents(_ intents: [OrderIntent]) { pending.withLock { $0 += intents } }
    func strategyFailed(_ identity: StrategyIdentity, error: String) { failure.withLock { $0 = error } }
    func processed(ticks: Int) {}
    func take() -> [OrderIntent] { pending.withLock { let out = $0; $0 = []; return out } }
}

/// The live components wired for the replayed strategies: a one-shard ``StrategyPipeline`` and
/// one paper ``TradingDesk`` configured as `serve` configures it (risk, instruments, calendar,
/// controls, charges), with no database writes and no bus. Several strategies share the desk as
/// they do live, so one user's daily loss and drawdown span all of that user's strategies. An
/// `external` strategy's process is driven in lock step (``ReplayedProcess``): tick by tick, each
/// event answered before the next.
public final class ReplayEngine {
    let pipeline: StrategyPipeline
    let sink: ReplaySink
    private let external: ReplayedProcess?
    public private(set) var desk: TradingDesk
    /// Per strategy id: its figures, orders and equity curve.
    public private(set) var ledgers: [String: BacktestLedger] = [:]
    /// An instrument as a dictionary key (no string built per tick on the replay's hot path).
    private struct Instrument: Hashable {
        let symbol: String, exchange: String
    }
    /// Per instrument: the strategies that trade it.
    private let traders: [Instrument: [String]]
    /// Ticks streamed so far, of every instrument.
    public private(set) var ticks = 0
    /// The exchanges' session hours, where a replay on bars places its ticks.
    private let sessions: [String: TradingCalendar.Session]
    /// A replay on bars (see ``priced(_:)``), and each instrument's last tick price.
    private var onBars = false
    private var lastPrices: [Instrument: FixedDecimal] = [:]

    /// `strategies`: each row with the instruments its strategy trades; `process`, the process
    /// of the one `external` row among them.
    init(config: EngineConfig, strategies: [(row: StrategyRow, instruments: [(symbol: String, exchange: String)])],
         process: LockStepProcess? = nil) throws {
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        sessions = config.tradingCalendar.sessions
        external = process.map(ReplayedProcess.init)
        sink = ReplaySink(keepBars: process != nil)
        var logger = Logger(label: "algotrader.replay")
        logger.logLevel = .error
        pipeline = StrategyPipeline(shardCount: 1, calendar: calendar, graceNanoseconds: Int64(config.barCloseGraceMilliseconds) * 1_000_000,
                                    sink: sink, logger: logger, maxInstruments: config.barMaxInstruments)
        let builtIn = strategies.filter { $0.row.type != ExternalStrategyConfig.type }
        pipeline.apply(builtIn.map { StrategySpec(identity: $0.row.identity, type: $0.row.type, parameters: $0.row.parameters) }) { spec in
            try StrategyFactory.make(type: spec.type, identity: spec.identity, parameters: spec.parameters, calendar: calendar)
        }
        pipeline.drain()
        var traders: [Instrument: [String]] = [:]
        for s in strategies {
            for i in s.instruments { traders[Instrument(symbol: i.symbol, exchange: i.exchange), default: []].append(s.row.identity.strategyID) }
            ledgers[s.row.identity.strategyID] = BacktestLedger()
        }
        self.traders = traders
        let users = Set(strategies.map(\.row.identity.userID))
        desk = TradingDesk(ids: UUIDv7Generator(seed: 1))
        desk.riskSettings = try DeskState.riskSettings(config.databaseURL).filter { users.contains($0.key) }
        desk.apply(try DeskState.settings(config, strategies: strategies.map { ($0.row.identity.strategyID, $0.row.parameters) }))
    }

    /// Streams the ticks of the strategies' instruments from `from` to `to` in exchange-time
    /// order, in batches (a server-side cursor), each through the pipeline and then the desk, as
    /// the engine does: the desk sees the batch's ticks, then the intents they produced; fills go
    /// back to the strategies before the next batch. With `bars` (a replay on bars: the range
    /// holds no ticks) the ticks are made from those stored bars (``BarTicks``).
    public func run(db: DatabaseConnection, from: Timestamp, to: Timestamp, factor: Double?,
                    bars: [(symbol: String, exchange: String, interval: BarInterval)]? = nil, progress: (Int) -> Void) throws {
        var pacing = Pacing(factor: factor)
        onBars = bars != nil
        if let bars {
            var maker = BarTicks(sessions: sessions)
            try BarHistory.stream(db, series: bars, from: from, to: to, pageSize: factor == nil ? 20_000 : 1_000) { page in
                try feed(maker.add(page), pacing: &pacing, progress: progress)
            }
            try feed(maker.finish(), pacing: &pacing, progress: progress)
        } else {
            let instruments = traders.keys.map { (symbol: $0.symbol, exchange: $0.exchange) }
            try TickHistory.stream(db, instruments: instruments, from: from, to: to, pageSize: factor == nil ? 20_000 : 1_000) { ticks in
                try feed(ticks, pacing: &pacing, progress: progress)
            }
        }
        pipeline.stop()
        external?.process.finish()
    }

    /// `--speed`: a replay paced against the wall clock, or (`factor` nil) as fast as it goes.
    struct Pacing {
        let factor: Double?
        var firstTickTime: Int64?
        let wallStart = monotonicNanoseconds()

        /// Waits until `time`, scaled, has passed on the wall clock since the first tick.
        mutating func wait(for time: Timestamp) {
            guard let factor else { return }
            let first = firstTickTime ?? time.nanosecondsSinceEpoch
            firstTickTime = first
            let due = wallStart + UInt64(max(0, Double(time.nanosecondsSinceEpoch - first) / factor))
            let now = monotonicNanoseconds()
            if due > now { Thread.sleep(forTimeInterval: Double(due - now) / 1e9) }
        }
    }

    private func feed(_ ticks: [Tick], pacing: inout Pacing, progress: (Int) -> Void) throws {
        // A process answers event by event (the ticks of one instant together, so every bar
        // they close reaches it after all of them); built-in strategies take a batch at a time.
        let batchSize = pacing.factor == nil && external == nil ? 2_000 : 1
        var index = 0
        while index < ticks.count {
            // A batch spans at most 50 ms of exchange time (live, fills reach the strategy
            // within milliseconds; a sparse feed so replays tick by tick) and batchSize ticks,
            // and never splits an instant.
            var stop = index + 1
            let horizon = ticks[index].timestamp.nanosecondsSinceEpoch + 50_000_000
            while stop < ticks.count && (ticks[stop].timestamp == ticks[stop - 1].timestamp
                                         || (stop - index < batchSize && ticks[stop].timestamp.nanosecondsSinceEpoch <= horizon)) {
                stop += 1
            }
            let batch = Array(ticks[index..<stop])
            index = stop
            pacing.wait(for: batch[0].timestamp)
            try step(batch)
            progress(self.ticks)
        }
    }

    /// A replay on bars prices a built-in strategy's MARKET order at its instrument's last tick
    /// when the desk takes it, which for an order made as a bar closed is the next bar's open
    /// (the documented bar fill rule); its reference was the closed bar's close. A replay of
    /// ticks keeps the strategy's price, as live trading does.
    private func priced(_ intent: OrderIntent) -> OrderIntent {
        guard onBars, intent.type == .market, let last = lastPrices[Instrument(symbol: intent.symbol, exchange: intent.exchange)] else {
            return intent
        }
        var repriced = intent
        repriced.referencePrice = last
        return repriced
    }

    private func step(_ batch: [Tick]) throws {
        pipeline.submit(batch)
        pipeline.drain()
        if let failure = sink.failure.withLock({ $0 }) { throw ReplayFailure(message: "a strategy failed: \(failure)") }
        // The desk sees each tick, then the intents that tick produced (their time is its time).
        let intents = sink.take().enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        var next = 0
        var records: [DeskRecord] = []
        // An intent of an instant waits until the desk has seen its own instrument's tick of that
        // instant: a bar closed by another instrument's tick fills at its own instrument's price
        // of that instant, not its last. Once the instant is over it goes before the desk's
        // clock moves on (a 15:20:00 intent before the 15:20 square-off, as live).
        var held: [OrderIntent] = []
        for tick in batch {
            if let first = held.first, first.time < tick.timestamp {
                for intent in held { records += desk.submit(priced(intent), now: intent.time) }
                held = []
            }
            external?.queue(tick: tick)
            records += desk.advance(to: tick.timestamp)
            records += desk.onTick(tick)
            let instrument = Instrument(symbol: tick.symbol, exchange: tick.exchange)
            lastPrices[instrument] = tick.price
            held.removeAll { intent in
                guard intent.symbol == tick.symbol && intent.exchange == tick.exchange else { return false }
                records += desk.submit(priced(intent), now: intent.time)
                return true
            }
            while next < intents.count && intents[next].time <= tick.timestamp {
                let intent = intents[next]
                if intent.time < tick.timestamp || (intent.symbol == tick.symbol && intent.exchange == tick.exchange) {
                    records += desk.submit(priced(intent), now: intent.time)
                } else {
                    held.append(intent)
                }
                next += 1
            }
            absorb(&records)
            for strategyID in traders[instrument] ?? [] { ledgers[strategyID]?.tick(tick) }
            ticks += 1
        }
        for intent in held + intents[next...] { records += desk.submit(priced(intent), now: intent.time) }
        absorb(&records)
        if let external, let now = batch.last?.timestamp {
            external.queue(bars: sink.takeBars())
            try external.drain { action in
                var made: [DeskRecord]
                var refusal: String?
                switch action {
                case .submit(let intent): made = desk.submit(intent, now: intent.time)
                case .cancel(let orderID): made = desk.cancel(orderID: orderID, reason: "cancelled by the strategy process", time: now)
                case .modify(let orderID, let quantity, let price, let trigger):
                    (made, refusal) = desk.modifyChecked(orderID: orderID, quantity: quantity, price: price, triggerPrice: trigger, time: now)
                }
                absorb(&made)
                return refusal
            }
        }
    }

    /// Records go to their strategies' ledgers; fill and order events go back to the strategies,
    /// as the bus does live.
    private func absorb(_ records: inout [DeskRecord]) {
        guard !records.isEmpty else { return }
        var byStrategy: [String: [DeskRecord]] = [:]
        for record in records {
            let strategyID: String? = switch record {
            case .order(let o): o.intent.strategyID
            case .event(let e): e.order.intent.strategyID
            case .performance(let d): d.strategyID
            case .strategyHalt(let strategyID, _, _, _): strategyID
            default: nil
            }
            if let strategyID, ledgers[strategyID] != nil { byStrategy[strategyID, default: []].append(record) }
        }
        for (strategyID, mine) in byStrategy { ledgers[strategyID]?.record(mine) }
        let events = records.compactMap { if case .event(let e) = $0 { e } else { nil } }
        external?.queue(events: events)
        if !events.isEmpty {
            pipeline.ordersUpdated(events)
            pipeline.drain()
        }
        records = []
    }
}

public struct ReplayFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
