import Engine
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
import TradingCore

/// Collects what the pipeline produces.
final class CollectingSink: PipelineSink, Sendable {
    let bars = Mutex<[ClosedBar]>([])
    let intentsSeen = Mutex<[OrderIntent]>([])
    let failures = Mutex<[String]>([])
    let ticks = Atomic<Int>(0)
    func closedBars(_ bars: [ClosedBar]) { self.bars.withLock { $0 += bars } }
    func intents(_ intents: [OrderIntent]) { intentsSeen.withLock { $0 += intents } }
    func strategyFailed(_ identity: StrategyIdentity, error: String) { failures.withLock { $0.append(identity.strategyID) } }
    func processed(ticks: Int) { self.ticks.add(ticks, ordering: .relaxed) }
}

/// A strategy that throws on its third tick.
final class ExplodingStrategy: TradingStrategy {
    let identity: StrategyIdentity
    let symbol: String
    let exchange = "NSE"
    var barIntervals: Set<BarInterval> { [] }
    var seen = 0
    struct Boom: Error {}
    init(identity: StrategyIdentity, symbol: String) {
        self.identity = identity
        self.symbol = symbol
    }
    func onTick(_ tick: Tick, position: Int64) throws -> [OrderIntent] {
        seen += 1
        if seen == 3 { throw Boom() }
        return []
    }
}

/// Buys 10 on its first tick, then only records the position it is told it has.
final class PositionProbeStrategy: TradingStrategy, Sendable {
    let identity: StrategyIdentity
    let symbol = "RELIANCE"
    let exchange = "NSE"
    var barIntervals: Set<BarInterval> { [] }
    let seen = Mutex<[Int64]>([])
    init(identity: StrategyIdentity) { self.identity = identity }
    func onTick(_ tick: Tick, position: Int64) throws -> [OrderIntent] {
        let first = seen.withLock { list in list.append(position); return list.count == 1 }
        guard first else { return [] }
        return [OrderIntent(strategyID: identity.strategyID, userID: identity.userID, brokerID: identity.brokerID, symbol: symbol,
                            exchange: exchange, side: .buy, quantity: 10, referencePrice: tick.price, time: tick.timestamp, reason: "probe")]
    }
}

@Suite("Strategy pipeline on Dispatch shards")
struct StrategyPipelineTests {
    static func spec(_ id: String, type: String, _ params: [String: ParameterValue]) -> StrategySpec {
        StrategySpec(identity: StrategyIdentity(strategyID: id, userID: "u", name: id, brokerID: "b"), type: type,
                     parameters: StrategyParameters(params))
    }

    static let make: @Sendable (StrategySpec) throws -> any TradingStrategy = { spec in
        if spec.type == "exploding" {
            guard case .string(let symbol)? = spec.parameters.values["symbol"] else { throw ExplodingStrategy.Boom() }
            return ExplodingStrategy(identity: spec.identity, symbol: symbol)
        }
        return try StrategyFactory.make(type: spec.type, identity: spec.identity, parameters: spec.parameters)
    }

    @Test func aThrowingStrategyIsStoppedWhileTheOthersRunInOrder() {
        let sink = CollectingSink()
        let pipeline = StrategyPipeline(shardCount: 3, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: Logger(label: "t"))
        pipeline.apply([
            Self.spec("sma", type: "sma_crossover", ["symbol": .string("RELIANCE"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("10")]),
            Self.spec("boom", type: "exploding", ["symbol": .string("RELIANCE")]),
            Self.spec("sma-infy", type: "sma_crossover", ["symbol": .string("INFY"), "fast": .number("3"), "slow": .number("8"), "quantity": .number("1")]),
        ], make: Self.make)
        var rng = SplitMix64(seed: 5)
        var price: Int64 = 24_500_000
        var prices: [FixedDecimal] = []
        var batch: [Tick] = []
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        for i in 0..<5_000 {
            price += (Int64(rng.next() % 9) - 4) * 500
            prices.append(FixedDecimal(units: price))
            batch.append(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0.adding(nanoseconds: Int64(i) * 100_000_000), price: FixedDecimal(units: price), quantity: 1))
            batch.append(Tick(symbol: "INFY", exchange: "NSE", timestamp: t0.adding(nanoseconds: Int64(i) * 100_000_000), price: FixedDecimal(units: 15_000_000 + Int64(i % 50) * 500), quantity: 1))
            if batch.count >= 256 { pipeline.submit(batch); batch.removeAll() }
        }
        pipeline.submit(batch)
        pipeline.drain()
        #expect(sink.failures.withLock { $0 } == ["boom"])
        #expect(Set(pipeline.runningStrategyIDs) == ["sma", "sma-infy"])
        #expect(sink.ticks.load(ordering: .relaxed) == 10_000)
        let reliance = sink.intentsSeen.withLock { $0 }.filter { $0.strategyID == "sma" }
        let model = SMACrossoverModel.signals(prices: prices, fast: 5, slow: 20, quantity: 10)
        #expect(reliance.count == model.count && !model.isEmpty)
        for (got, want) in zip(reliance, model) {
            #expect(got.side.rawValue == want.side && got.quantity == want.quantity && got.referencePrice == prices[want.index])
        }
        #expect(sink.intentsSeen.withLock { $0 }.contains { $0.strategyID == "sma-infy" })
        // 500 s of ticks from 10:00: the 1min bars up to 10:08 closed on feed time.
        let closed = sink.bars.withLock { $0 }.filter { $0.bar.interval == .oneMinute && $0.bar.symbol == "RELIANCE" }
        #expect(closed.count == 8)
        #expect(closed.allSatisfy { $0.indicators["sma_crossover"] != nil }, "sma_crossover declares its averages on 1min bars")
        pipeline.stop()
        #expect(sink.bars.withLock { $0 }.filter { $0.bar.interval == .oneDay }.count == 2, "open bars are handed over at stop")
    }

    @Test func reloadKeepsUnchangedStrategiesAndStartsNewOnes() {
        let sink = CollectingSink()
        let pipeline = StrategyPipeline(shardCount: 2, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: Logger(label: "t"))
        let a = Self.spec("a", type: "sma_crossover", ["symbol": .string("A"), "fast": .number("2"), "slow": .number("3"), "quantity": .number("1")])
        let b = Self.spec("b", type: "sma_crossover", ["symbol": .string("B"), "fast": .number("2"), "slow": .number("3"), "quantity": .number("1")])
        pipeline.apply([a], make: Self.make)
        pipeline.drain()
        #expect(pipeline.runningStrategyIDs == ["a"])
        pipeline.apply([a, b], make: Self.make)
        pipeline.drain()
        #expect(Set(pipeline.runningStrategyIDs) == ["a", "b"])
        pipeline.apply([b], make: Self.make)
        pipeline.drain()
        #expect(pipeline.runningStrategyIDs == ["b"])
    }
    /// Failed on 1106958: the engine's own closing order (flatten, MIS square-off, a loss halt's
    /// exit) was counted as the strategy's pending intent, so after it the strategy still
    /// believed it was long and sold from flat.
    @Test func afterTheEngineClosesAStrategysPositionTheStrategySeesItFlat() {
        let sink = CollectingSink()
        let pipeline = StrategyPipeline(shardCount: 1, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: Logger(label: "t"))
        let probe = PositionProbeStrategy(identity: StrategyIdentity(strategyID: "s1", userID: "u1", name: "probe", brokerID: "b1"))
        pipeline.apply([Self.spec("s1", type: "probe", [:])]) { _ in probe }
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func tick(_ i: Int64) -> Tick { Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0.adding(nanoseconds: i * 1_000_000_000), price: FixedDecimal(2_450)) }
        func events(_ records: [DeskRecord]) -> [BusEvent] { records.compactMap { if case .event(let e) = $0 { e } else { nil } } }
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 9))
        _ = desk.advance(to: t0)
        pipeline.submit([tick(0)])
        pipeline.drain()
        let intents = sink.intentsSeen.withLock { $0 }
        #expect(intents.count == 1)
        pipeline.ordersUpdated(events(intents.flatMap { desk.submit($0, now: t0) }))
        pipeline.submit([tick(1)])
        pipeline.drain()
        let (_, closing) = desk.flatten(userID: "u1", time: t0.adding(nanoseconds: 2_000_000_000))
        pipeline.ordersUpdated(events(closing))
        pipeline.submit([tick(3)])
        pipeline.drain()
        #expect(probe.seen.withLock { $0 } == [0, 10, 0], "long after its own fill, flat after the engine's close")
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 0)
    }
}
