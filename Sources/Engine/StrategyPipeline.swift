import Dispatch
import Foundation
public import Logging
import Synchronization
public import TradingCore

/// A strategy row ready to run: its identity, type, parameters and the strategy built from them.
public struct StrategySpec: Sendable, Equatable {
    public var identity: StrategyIdentity
    public var type: String
    public var parameters: StrategyParameters
    /// The filled position it starts with (its orders' net fills, after a restart).
    public var initialPosition: Int64

    public init(identity: StrategyIdentity, type: String, parameters: StrategyParameters, initialPosition: Int64 = 0) {
        self.identity = identity
        self.type = type
        self.parameters = parameters
        self.initialPosition = initialPosition
    }

    public static func == (lhs: StrategySpec, rhs: StrategySpec) -> Bool {
        lhs.identity == rhs.identity && lhs.type == rhs.type && lhs.parameters.values == rhs.parameters.values
    }
}

/// A closed bar and the indicator values its strategies declared for it.
public struct ClosedBar: Sendable {
    public var bar: Bar
    /// Indicator name -> values (stored as one `indicator_values` row each).
    public var indicators: [String: [String: Double]]
}

/// Where the pipeline's results go. Called from the shard queues; implementations must be
/// thread-safe and must not block for long (buffer, then write elsewhere).
public protocol PipelineSink: Sendable {
    func closedBars(_ bars: [ClosedBar])
    func intents(_ intents: [OrderIntent])
    /// A strategy that threw was stopped (the others go on).
    func strategyFailed(_ identity: StrategyIdentity, error: String)
    /// Ticks fully processed (for progress and benchmarks).
    func processed(ticks: Int)
}

/// Bars, indicators and strategies on serial Dispatch queues, each owning a shard of the
/// instruments (by a hash of symbol and exchange): every strategy of one instrument sees its ticks
/// and bars in order on one queue, and different instruments run in parallel. Ticks arrive in
/// batches, one `async` per shard per batch (never one per tick). Feed time moves every shard's
/// bars forward, so a symbol that stops trading still has its bar closed on time.
public final class StrategyPipeline: Sendable {
    private let shards: [Shard]
    private let sink: any PipelineSink
    private let logger: Logger

    /// - Parameter maxBatchesInFlight: batches handed to a shard and not yet processed, at most;
    ///   `submit` waits past it, so a slow strategy slows intake instead of growing memory.
    public init(shardCount: Int, calendar: SessionCalendar, graceNanoseconds: Int64, sink: any PipelineSink, logger: Logger,
                maxInstruments: Int = 100_000, maxBatchesInFlight: Int = 32) {
        self.sink = sink
        self.logger = logger
        let count = max(1, shardCount)
        self.shards = (0..<count).map {
            Shard(index: $0, aggregator: BarAggregator(calendar: calendar, graceNanoseconds: graceNanoseconds,
                                                       maxInstruments: max(1, maxInstruments / count)),
                  sink: sink, logger: logger, maxBatchesInFlight: maxBatchesInFlight)
        }
    }

    public var shardCount: Int { shards.count }

    /// The watchdog's check: every shard runs a no-op within `timeoutMilliseconds` (a shard stuck
    /// in a strategy, or a backlog that long, makes the engine unhealthy).
    public func isResponsive(timeoutMilliseconds: Int) -> Bool {
        let group = DispatchGroup()
        for shard in shards { shard.queue.async(group: group) {} }
        return group.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success
    }

    func shardIndex(symbol: String, exchange: String) -> Int {
        var hasher = FNV1a()
        hasher.add(symbol)
        hasher.add(exchange)
        return Int(hasher.value % UInt64(shards.count))
    }

    /// Hands a batch of ticks (in arrival order) to the shards.
    public func submit(_ batch: [Tick]) {
        guard !batch.isEmpty else { return }
        var parts = Array(repeating: [Tick](), count: shards.count)
        var feed: [String: Timestamp] = [:]
        for tick in batch {
            parts[shardIndex(symbol: tick.symbol, exchange: tick.exchange)].append(tick)
            if let t = feed[tick.exchange], t >= tick.timestamp {} else { feed[tick.exchange] = tick.timestamp }
        }
        let feedTimes = feed
        for (index, shard) in shards.enumerated() {
            let ticks = parts[index]
            shard.inFlight.wait()
            shard.queue.async {
                shard.process(ticks, feed: feedTimes)
                shard.inFlight.signal()
            }
        }
    }

    /// Replaces the running strategies (start, stop, restart changed ones) at this point of the
    /// tick stream: ticks before it went to the old set, ticks after it go to the new one.
    public func apply(_ specs: [StrategySpec], make: @escaping @Sendable (StrategySpec) throws -> any TradingStrategy) {
        var parts = Array(repeating: [StrategySpec](), count: shards.count)
        for spec in specs {
            let symbol = Self.symbol(of: spec), exchange = Self.exchange(of: spec)
            parts[shardIndex(symbol: symbol, exchange: exchange)].append(spec)
        }
        for (index, shard) in shards.enumerated() {
            let mine = parts[index]
            shard.queue.async { shard.apply(mine, make: make) }
        }
    }

    static func symbol(of spec: StrategySpec) -> String {
        if case .string(let s)? = spec.parameters.values["symbol"] { return s }
        return ""
    }

    static func exchange(of spec: StrategySpec) -> String {
        if case .string(let s)? = spec.parameters.values["exchange"] { return s }
        return "NSE"
    }

    /// Published fills and final order states move the strategies' positions: a fill turns
    /// pending quantity into filled quantity; a rejection or cancellation drops what was pending.
    public func ordersUpdated(_ events: [BusEvent]) {
        var parts = Array(repeating: [BusEvent](), count: shards.count)
        for event in events {
            parts[shardIndex(symbol: event.order.intent.symbol, exchange: event.order.intent.exchange)].append(event)
        }
        for (index, shard) in shards.enumerated() where !parts[index].isEmpty {
            let mine = parts[index]
            shard.queue.async { shard.ordersUpdated(mine) }
        }
    }

    /// Intents the desk refused without making an order (nothing was published for them): what
    /// they made pending is dropped, so the strategies see the position they really have.
    public func intentsRefused(_ intents: [OrderIntent]) {
        var parts = Array(repeating: [OrderIntent](), count: shards.count)
        for intent in intents { parts[shardIndex(symbol: intent.symbol, exchange: intent.exchange)].append(intent) }
        for (index, shard) in shards.enumerated() where !parts[index].isEmpty {
            let mine = parts[index]
            shard.queue.async { shard.intentsRefused(mine) }
        }
    }

    /// Seeds bars in progress rebuilt from stored ticks (after a restart), before any tick.
    public func resume(_ bars: [Bar], feedTimes: [String: Timestamp]) {
        var parts = Array(repeating: [Bar](), count: shards.count)
        for bar in bars { parts[shardIndex(symbol: bar.symbol, exchange: bar.exchange)].append(bar) }
        for (index, shard) in shards.enumerated() {
            let mine = parts[index]
            shard.queue.async { shard.resume(mine, feedTimes: feedTimes) }
        }
    }

    /// Waits until every shard has processed everything submitted so far.
    public func drain() {
        for shard in shards { shard.queue.sync {} }
    }

    /// At shutdown: drain, then hand every open bar to the sink as it is. Returns the running
    /// strategies' ids.
    @discardableResult
    public func stop() -> [String] {
        drain()
        var running: [String] = []
        for shard in shards {
            shard.queue.sync {
                shard.flushBars()
                running += shard.runningIDs
            }
        }
        return running
    }

    /// Ids of running strategies (the ones that started and have not failed).
    public var runningStrategyIDs: [String] {
        shards.flatMap { shard in shard.queue.sync { shard.runningIDs } }
    }

    /// Ticks that arrived older than a closed bar of theirs, over all shards.
    public var lateTicks: Int {
        shards.reduce(0) { total, shard in total + shard.queue.sync { shard.aggregator.lateTicks } }
    }

    /// Ticks that made no bars because their exchange was new and every kept exchange had open
    /// bars (``BarAggregator/maxExchanges``), over all shards.
    public var barTicksOverExchangeLimit: Int {
        shards.reduce(0) { total, shard in total + shard.queue.sync { shard.aggregator.ticksOverExchangeLimit } }
    }

    /// Instruments with bars in progress, and ticks that made no bars because the table was
    /// full (`bars.max_instruments`), over all shards.
    public var barCounts: (instruments: Int, overLimit: Int) {
        shards.reduce((0, 0)) { total, shard in
            let (i, o) = shard.queue.sync { (shard.aggregator.instrumentCount, shard.aggregator.ticksOverInstrumentLimit) }
            return (total.0 + i, total.1 + o)
        }
    }
}

/// One serial queue and the state only it touches.
// @unchecked Sendable is safe here: every mutable property below is read and written only from
// blocks running on `queue`, a serial DispatchQueue (the pipeline never touches them otherwise),
// so accesses are serialized and each block sees the previous block's writes (libdispatch
// guarantees the happens-before between blocks of one serial queue); `aggregator` and `runners`
// assert it at every access (dispatchPrecondition).
final class Shard: @unchecked Sendable {
    let queue: DispatchQueue
    let sink: any PipelineSink
    let logger: Logger
    /// The shard's bars, asserted on its queue at every access (in place: no copy per tick).
    @QueueConfined var aggregator: BarAggregator
    /// Running strategies by instrument ("SYMBOL|EXCHANGE"), asserted on the queue likewise.
    @QueueConfined var runners: [String: [Runner]]

    final class Runner {
        let spec: StrategySpec
        let strategy: any TradingStrategy
        /// Filled quantity (signed), from the fills the desk published.
        var filled: Int64 = 0
        /// Intents not yet filled, rejected or cancelled (signed): the strategy sees the position
        /// it will have, so a second signal before the fill arrives is not a second order.
        var pending: Int64 = 0
        var position: Int64 { filled + pending }
        init(spec: StrategySpec, strategy: any TradingStrategy) {
            self.spec = spec
            self.strategy = strategy
        }
    }

    /// Batches submitted and not yet processed (see `StrategyPipeline.init`).
    let inFlight: DispatchSemaphore

    init(index: Int, aggregator: BarAggregator, sink: any PipelineSink, logger: Logger, maxBatchesInFlight: Int) {
        self.inFlight = DispatchSemaphore(value: max(1, maxBatchesInFlight))
        let queue = DispatchQueue(label: "algotrader.pipeline.shard\(index)")
        self.queue = queue
        _aggregator = QueueConfined(wrappedValue: aggregator, queue: queue)
        _runners = QueueConfined(wrappedValue: [:], queue: queue)
        self.sink = sink
        self.logger = logger
    }

    var runningIDs: [String] { runners.values.flatMap { $0.map(\.spec.identity.strategyID) } }

    static func key(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    func process(_ ticks: [Tick], feed: [String: Timestamp]) {
        var intents: [OrderIntent] = []
        var closed: [Bar] = []
        for tick in ticks {
            let bars = aggregator.add(tick)
            if !bars.isEmpty {
                closed += bars
                deliver(bars, into: &intents)
            }
            if let list = runners[Self.key(tick.symbol, tick.exchange)] {
                for runner in list { run(runner, &intents) { try $0.onTick(tick, position: $1) } }
            }
        }
        for (exchange, time) in feed {
            let bars = aggregator.advance(exchange: exchange, to: time)
            if !bars.isEmpty {
                closed += bars
                deliver(bars, into: &intents)
            }
        }
        if !closed.isEmpty { sink.closedBars(closed.map(annotate)) }
        if !intents.isEmpty { sink.intents(intents) }
        if !ticks.isEmpty { sink.processed(ticks: ticks.count) }
    }

    private func deliver(_ bars: [Bar], into intents: inout [OrderIntent]) {
        for bar in bars {
            guard let list = runners[Self.key(bar.symbol, bar.exchange)] else { continue }
            for runner in list where runner.strategy.barIntervals.contains(bar.interval) {
                run(runner, &intents) { try $0.onBar(bar, position: $1) }
            }
        }
    }

    private func annotate(_ bar: Bar) -> ClosedBar {
        var values: [String: [String: Double]] = [:]
        for runner in runners[Self.key(bar.symbol, bar.exchange)] ?? [] {
            for (name, v) in runner.strategy.indicatorValues(for: bar) { values[name] = v }
        }
        return ClosedBar(bar: bar, indicators: values)
    }

    /// Calls a strategy; one that throws is stopped and reported, the rest go on.
    private func run(_ runner: Runner, _ intents: inout [OrderIntent], _ call: (any TradingStrategy, Int64) throws -> [OrderIntent]) {
        do {
            for intent in try call(runner.strategy, runner.position) {
                runner.pending += intent.side == .buy ? intent.quantity : -intent.quantity
                intents.append(intent)
            }
        } catch {
            let key = Self.key(runner.strategy.symbol, runner.strategy.exchange)
            runners[key]?.removeAll { $0 === runner }
            logger.error("strategy failed and was stopped", metadata: ["strategy": "\(runner.spec.identity.strategyID)", "error": "\(error)"])
            sink.strategyFailed(runner.spec.identity, error: "\(error)")
        }
    }

    func apply(_ specs: [StrategySpec], make: (StrategySpec) throws -> any TradingStrategy) {
        var existing: [String: Runner] = [:]
        for list in runners.values { for runner in list { existing[runner.spec.identity.strategyID] = runner } }
        var next: [String: [Runner]] = [:]
        for spec in specs {
            let runner: Runner
            if let old = existing[spec.identity.strategyID], old.spec == spec {
                runner = old  // unchanged: keeps its state and position
            } else {
                do {
                    runner = Runner(spec: spec, strategy: try make(spec))
                    runner.filled = spec.initialPosition
                    if let old = existing[spec.identity.strategyID] {
                        runner.filled = old.filled
                        runner.pending = old.pending
                    }
                } catch {
                    sink.strategyFailed(spec.identity, error: "\(error)")
                    continue
                }
            }
            next[Self.key(runner.strategy.symbol, runner.strategy.exchange), default: []].append(runner)
        }
        runners = next
    }

    func ordersUpdated(_ events: [BusEvent]) {
        for event in events {
            let intent = event.order.intent
            guard let runner = runners[Self.key(intent.symbol, intent.exchange)]?.first(where: { $0.spec.identity.strategyID == intent.strategyID }) else { continue }
            let sign: Int64 = intent.side == .buy ? 1 : -1
            // A bracket child (stoploss/target) or an order the engine placed for the strategy (MIS
            // square-off, flatten, a loss halt's exit) was never one of its intents: its fill
            // moves the position, but nothing was pending for it. Counting it as pending kept a
            // squared-off strategy believing it was still long, and it sold from flat.
            let child = event.order.parentOrderID != nil || event.order.intent.placedByEngine
            switch event.kind {
            case .fill:
                let quantity = (event.fillQuantity ?? 0) * sign
                runner.filled += quantity
                if !child { runner.pending -= quantity }
            case .order:
                let status = event.order.state.status
                if !child && (status == .rejected || status == .cancelled) {
                    runner.pending -= event.order.state.remainingQuantity * sign
                }
            }
        }
    }

    func intentsRefused(_ intents: [OrderIntent]) {
        for intent in intents {
            guard let runner = runners[Self.key(intent.symbol, intent.exchange)]?.first(where: { $0.spec.identity.strategyID == intent.strategyID }) else { continue }
            runner.pending -= intent.side == .buy ? intent.quantity : -intent.quantity
        }
    }

    func resume(_ bars: [Bar], feedTimes: [String: Timestamp]) {
        for bar in bars { aggregator.resume(bar, feedTime: feedTimes[bar.exchange] ?? bar.start) }
    }

    func flushBars() {
        let bars = aggregator.flush()
        if !bars.isEmpty { sink.closedBars(bars.map(annotate)) }
    }
}

/// FNV-1a over strings: a stable shard assignment (Swift's `Hasher` is seeded per process).
struct FNV1a {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ text: String) {
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
        value = (value ^ 0xFF) &* 0x100_0000_01B3
    }
}
