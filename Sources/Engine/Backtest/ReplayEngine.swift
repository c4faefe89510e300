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

    /// `strategies`: each row with the instruments its strategy trades; `process`, the process
    /// of the one `external` row among them.
    init(config: EngineConfig, strategies: [(row: StrategyRow, instruments: [(symbol: String, exchange: String)])],
         process: LockStepProcess? = nil) throws {
        let calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
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
    /// back to the strategies before the next batch.
    public func run(db: DatabaseConnection, from: Timestamp, to: Timestamp, factor: Double?, progress: (Int) -> Void) throws {
        // A process answers tick by tick; built-in strategies take a batch at a time.
        let batchSize = factor == nil && external == nil ? 2_000 : 1
        var firstTickTime: Int64?
        let wallStart = monotonicNanoseconds()
        let instruments = traders.keys.map { (symbol: $0.symbol, exchange: $0.exchange) }
        try TickHistory.stream(db, instruments: instruments, from: from, to: to, pageSize: factor == nil ? 20_000 : 1_000) { ticks in
            var index = 0
            while index < ticks.count {
                // A batch spans at most 50 ms of exchange time (live, fills reach the strategy
                // within milliseconds; a sparse feed so replays tick by tick) and batchSize ticks.
                var stop = index + 1
                let horizon = ticks[index].timestamp.nanosecondsSinceEpoch + 50_000_000
                while stop < ticks.count && stop - index < batchSize && ticks[stop].timestamp.nanosecondsSinceEpoch <= horizon { stop += 1 }
                let batch = Array(ticks[index..<stop])
                index = stop
                if let factor {
                    // Paced: wait until this tick's exchange time, scaled, has passed on the wall clock.
                    let first = firstTickTime ?? batch[0].timestamp.nanosecondsSinceEpoch
                    firstTickTime = first
                    let due = wallStart + UInt64(Double(batch[0].timestamp.nanosecondsSinceEpoch - first) / factor)
                    let now = monotonicNanoseconds()
                    if due > now { Thread.sleep(forTimeInterval: Double(due - now) / 1e9) }
                }
                try step(batch)
                progress(self.ticks)
            }
        }
        pipeline.stop()
        external?.process.finish()
    }

    private func step(_ batch: [Tick]) throws {
        pipeline.submit(batch)
        pipeline.drain()
        if let failure = sink.failure.withLock({ $0 }) { throw ReplayFailure(message: "a strategy failed: \(failure)") }
        // The desk sees each tick, then the intents that tick produced (their time is its time).
        let intents = sink.take().enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        var next = 0
        var records: [DeskRecord] = []
        for tick in batch {
            external?.queue(tick: tick)
            records += desk.advance(to: tick.timestamp)
            records += desk.onTick(tick)
            while next < intents.count && intents[next].time <= tick.timestamp {
                records += desk.submit(intents[next], now: intents[next].time)
                next += 1
            }
            absorb(&records)
            for strategyID in traders[Instrument(symbol: tick.symbol, exchange: tick.exchange)] ?? [] { ledgers[strategyID]?.tick(tick) }
            ticks += 1
        }
        for intent in intents[next...] { records += desk.submit(intent, now: intent.time) }
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
