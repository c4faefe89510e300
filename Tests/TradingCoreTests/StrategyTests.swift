import Foundation
import TestSupport
import Testing
import TradingCore

@Suite("Built-in strategies")
struct StrategyTests {
    static let identity = StrategyIdentity(strategyID: "s-1", userID: "u-1", name: "test", brokerID: "b-1")

    static func params(_ pairs: [String: ParameterValue]) -> StrategyParameters { StrategyParameters(pairs) }

    @Test func smaCrossoverSignalsExactlyWhereTheIndependentModelDoes() throws {
        var rng = SplitMix64(seed: 77)
        var p: Int64 = 24_500_000
        let prices: [FixedDecimal] = (0..<20_000).map { _ in
            p += (Int64(rng.next() % 9) - 4) * 500
            return FixedDecimal(units: p)
        }
        let strategy = try SMACrossoverStrategy(identity: Self.identity, parameters: Self.params([
            "symbol": .string("RELIANCE"), "exchange": .string("NSE"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("10"),
        ]))
        var position: Int64 = 0
        var got: [(Int, String, Int64)] = []
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        for (i, price) in prices.enumerated() {
            let tick = Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0.adding(nanoseconds: Int64(i) * 1_000_000), price: price)
            for intent in strategy.onTick(tick, position: position) {
                got.append((i, intent.side.rawValue, intent.quantity))
                position += intent.side == .buy ? intent.quantity : -intent.quantity
                #expect(intent.type == .market && intent.referencePrice == price && intent.brokerID == "b-1")
            }
        }
        let want = SMACrossoverModel.signals(prices: prices, fast: 5, slow: 20, quantity: 10).map { ($0.index, $0.side, $0.quantity) }
        #expect(want.count > 20, "the path crosses often enough to mean something")
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) { #expect(g == w) }
    }

    @Test func smaCrossoverNeverGoesShortAndNeedsTwoFullTicks() throws {
        let strategy = try SMACrossoverStrategy(identity: Self.identity, parameters: Self.params([
            "symbol": .string("X"), "fast": .number("1"), "slow": .number("2"), "quantity": .number("3"),
        ]))
        let t0 = Timestamp(nanosecondsSinceEpoch: 0)
        func tick(_ p: Int64) -> Tick { Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(p)) }
        #expect(strategy.onTick(tick(10), position: 0).isEmpty)
        #expect(strategy.onTick(tick(9), position: 0).isEmpty, "windows full now, but not on the previous tick")
        #expect(strategy.onTick(tick(8), position: 0).isEmpty, "a cross below while flat does not sell short")
        #expect(strategy.onTick(tick(12), position: 0).map(\.side) == [.buy])
        #expect(strategy.onTick(tick(5), position: 3).map(\.quantity) == [3], "sells the whole position")
    }

    @Test(arguments: [
        (["exchange": ParameterValue.string("NSE"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("10")], "symbol"),
        (["symbol": .string("A"), "fast": .number("20"), "slow": .number("5"), "quantity": .number("10")], "fast"),
        (["symbol": .string("A"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("0")], "quantity"),
        (["symbol": .string("A"), "fast": .number("5.5"), "slow": .number("20"), "quantity": .number("1")], "fast"),
        (["symbol": .string("A"), "fast": .number("5"), "slow": .string("20"), "quantity": .number("1")], "slow"),
        (["symbol": .string("A"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("1"), "fsat": .number("3")], "fsat"),
    ])
    func invalidParametersNameTheParameter(values: [String: ParameterValue], parameter: String) {
        #expect(throws: StrategyConfigurationError.self) {
            _ = try StrategyFactory.make(type: "sma_crossover", identity: Self.identity, parameters: Self.params(values))
        }
        do {
            _ = try StrategyFactory.make(type: "sma_crossover", identity: Self.identity, parameters: Self.params(values))
        } catch {
            #expect(error.parameter == parameter)
        }
    }

    @Test func unknownTypeIsRefused() {
        #expect(throws: StrategyConfigurationError(parameter: "strategy_type", "'martingale' is not a built-in type (sma_crossover, rsi_mean_reversion, opening_range_breakout)")) {
            _ = try StrategyFactory.make(type: "martingale", identity: Self.identity, parameters: Self.params([:]))
        }
    }

    @Test func rsiMeanReversionBuysWhenOversoldAndSellsWhenOverbought() throws {
        let strategy = try RSIMeanReversionStrategy(identity: Self.identity, parameters: Self.params([
            "symbol": .string("INFY"), "interval": .string("1min"), "period": .number("3"), "quantity": .number("5"),
        ]))
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func bar(_ i: Int, _ close: Int64) -> Bar {
            Bar(symbol: "INFY", exchange: "NSE", interval: .oneMinute, start: t0.adding(nanoseconds: Int64(i) * 60_000_000_000),
                open: FixedDecimal(close), high: FixedDecimal(close), low: FixedDecimal(close), close: FixedDecimal(close), volume: 1)
        }
        var position: Int64 = 0
        var sides: [OrderSide] = []
        for (i, close) in [100, 99, 98, 97, 96, 100, 104, 108, 112].enumerated() {
            for intent in strategy.onBar(bar(i, Int64(close)), position: position) {
                sides.append(intent.side)
                position += intent.side == .buy ? intent.quantity : -intent.quantity
            }
        }
        #expect(sides == [.buy, .sell])
        #expect(position == 0)
    }

    /// Failed on 1106958: the bar stored open at shutdown carried the previous bar's RSI.
    @Test func anOpenBarStoredAtShutdownCarriesItsOwnRSIAndAskingLeavesTheStrategyUntouched() throws {
        func strategy() throws -> RSIMeanReversionStrategy {
            try RSIMeanReversionStrategy(identity: Self.identity, parameters: Self.params([
                "symbol": .string("INFY"), "interval": .string("1min"), "period": .number("3"), "quantity": .number("5"),
            ]))
        }
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func bar(_ i: Int, _ close: Int64) -> Bar {
            Bar(symbol: "INFY", exchange: "NSE", interval: .oneMinute, start: t0.adding(nanoseconds: Int64(i) * 60_000_000_000),
                open: FixedDecimal(close), high: FixedDecimal(close), low: FixedDecimal(close), close: FixedDecimal(close), volume: 1)
        }
        let closes: [Int64] = [100, 102, 99, 104, 101]
        let asked = try strategy(), reference = try strategy()
        for (i, close) in closes.dropLast().enumerated() {
            _ = asked.onBar(bar(i, close), position: 0)
            _ = reference.onBar(bar(i, close), position: 0)
        }
        let open = bar(closes.count - 1, closes.last!)
        let provisional = asked.indicatorValues(for: open)["rsi"]?["value"]
        _ = reference.onBar(open, position: 0)
        let closed = reference.indicatorValues(for: open)["rsi"]?["value"]
        #expect(provisional != nil && provisional == closed, "the open bar's own RSI, as if it closed now: \(String(describing: provisional)) vs \(String(describing: closed))")
        #expect(provisional != asked.indicatorValues(for: bar(closes.count - 2, closes[closes.count - 2]))["rsi"]?["value"])
        _ = asked.onBar(open, position: 0)
        #expect(asked.indicatorValues(for: open)["rsi"]?["value"] == closed, "asking did not feed the bar twice")
    }

    @Test func openingRangeBreakoutEntersOnceAboveTheRangeAndStopsBelowIt() throws {
        let strategy = try OpeningRangeBreakoutStrategy(identity: Self.identity, parameters: Self.params([
            "symbol": .string("TCS"), "range_minutes": .number("15"), "quantity": .number("2"),
        ]))
        func tick(_ time: String, _ price: Int64) -> Tick {
            Tick(symbol: "TCS", exchange: "NSE", timestamp: Timestamp.parseRFC3339("2026-11-24T\(time):00+05:30")!, price: FixedDecimal(price))
        }
        var position: Int64 = 0
        var log: [String] = []
        for (time, price) in [("09:10", 500), ("09:16", 100), ("09:20", 110), ("09:29", 90), ("09:31", 105), ("09:32", 111),
                              ("09:40", 115), ("09:45", 89), ("09:50", 120)] {
            for intent in strategy.onTick(tick(time, Int64(price)), position: position) {
                log.append("\(time) \(intent.side.rawValue) \(intent.quantity)")
                position += intent.side == .buy ? intent.quantity : -intent.quantity
            }
        }
        #expect(log == ["09:32 BUY 2", "09:45 SELL 2"], "pre-open ticks are ignored; one entry a day")
    }
}
