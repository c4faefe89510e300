import Testing
import TradingCore

@Suite("Paper simulator default model")
struct PaperSimulatorTests {
    let t = Timestamp(nanosecondsSinceEpoch: 0)

    @Test func marketFillsAtOnceAtTheTriggeringTicksPrice() {
        var venue = PaperSimulator()
        let fills = venue.place(PaperOrder(orderID: "m", side: .buy, type: .market, quantity: 10), at: FixedDecimal(100), time: t)
        #expect(fills == [PaperFill(orderID: "m", quantity: 10, price: FixedDecimal(100), time: t)])
        #expect(venue.working.isEmpty)
    }

    @Test func limitFillsAtOrThroughItsPriceAtTheLimitPrice() {
        var venue = PaperSimulator()
        _ = venue.place(PaperOrder(orderID: "b", side: .buy, type: .limit, quantity: 5, limitPrice: FixedDecimal(99)), at: FixedDecimal(100), time: t)
        _ = venue.place(PaperOrder(orderID: "s", side: .sell, type: .limit, quantity: 5, limitPrice: FixedDecimal(102)), at: FixedDecimal(100), time: t)
        #expect(venue.onTick(price: FixedDecimal(units: 990_001), time: t).isEmpty, "99.0001 does not reach a 99 bid")
        #expect(venue.onTick(price: FixedDecimal(98), time: t) == [PaperFill(orderID: "b", quantity: 5, price: FixedDecimal(99), time: t)],
                "through the price: filled at the limit, not the tick")
        #expect(venue.onTick(price: FixedDecimal(102), time: t).map(\.orderID) == ["s"], "at the price")
    }

    @Test func stopOrdersTriggerAtOrThroughTheTrigger() {
        var venue = PaperSimulator()
        _ = venue.place(PaperOrder(orderID: "slm", side: .sell, type: .stopLossMarket, quantity: 3, triggerPrice: FixedDecimal(95)), at: FixedDecimal(100), time: t)
        _ = venue.place(PaperOrder(orderID: "sl", side: .buy, type: .stopLoss, quantity: 2, limitPrice: FixedDecimal(106), triggerPrice: FixedDecimal(105)), at: FixedDecimal(100), time: t)
        #expect(venue.onTick(price: FixedDecimal(96), time: t).isEmpty)
        #expect(venue.onTick(price: FixedDecimal(94), time: t) == [PaperFill(orderID: "slm", quantity: 3, price: FixedDecimal(94), time: t)],
                "SL-M fills at the tick that triggered it")
        #expect(venue.onTick(price: FixedDecimal(107), time: t).isEmpty, "SL triggered at 107, but 107 is above its 106 limit")
        #expect(venue.onTick(price: FixedDecimal(106), time: t) == [PaperFill(orderID: "sl", quantity: 2, price: FixedDecimal(106), time: t)])
    }

    @Test func cancelledOrdersNeverFill() {
        var venue = PaperSimulator()
        _ = venue.place(PaperOrder(orderID: "b", side: .buy, type: .limit, quantity: 5, limitPrice: FixedDecimal(99)), at: FixedDecimal(100), time: t)
        let first = venue.cancel("b"), second = venue.cancel("b")
        #expect(first)
        #expect(!second, "already gone")
        #expect(venue.onTick(price: FixedDecimal(90), time: t).isEmpty)
    }
}

@Suite("Pre-trade risk checks")
struct RiskCheckTests {
    let settings = RiskSettings(dailyLossLimit: FixedDecimal(5_000), maxPositionSize: FixedDecimal(100_000),
                                maxDrawdownPercent: FixedDecimal(10), maxRiskPerTrade: FixedDecimal(2))

    @Test func positionSizeCapsTheResultingPositionsValue() {
        let ok = RiskCheck.evaluate(side: .buy, quantity: 40, price: FixedDecimal(2_500), stoploss: nil, settings: settings, context: RiskContext(position: 0))
        #expect(ok == .accept, "40 × 2,500 = 100,000: at the cap")
        let over = RiskCheck.evaluate(side: .buy, quantity: 41, price: FixedDecimal(2_500), stoploss: nil, settings: settings, context: RiskContext(position: 0))
        guard case .reject(let reason) = over else { Issue.record("expected a rejection"); return }
        #expect(reason.contains("max_position_size"))
        let adding = RiskCheck.evaluate(side: .buy, quantity: 1, price: FixedDecimal(2_500), stoploss: nil, settings: settings, context: RiskContext(position: 40))
        #expect(adding != .accept, "the resulting position counts, not the order alone")
    }

    @Test func riskPerTradeCapsTheLossToTheStoploss() {
        // 2% of 100,000 = 2,000: 10 × (2,500 − 2,300) = 2,000 is allowed, 2,001 is not.
        #expect(RiskCheck.evaluate(side: .buy, quantity: 10, price: FixedDecimal(2_500), stoploss: FixedDecimal(2_300), settings: settings, context: RiskContext(position: 0)) == .accept)
        #expect(RiskCheck.evaluate(side: .buy, quantity: 10, price: FixedDecimal(2_500), stoploss: FixedDecimal(units: 22_999_999), settings: settings, context: RiskContext(position: 0)) != .accept)
    }

    @Test func dailyLossAndDrawdownBreachesHaltButReducingOrdersPass() {
        let lossDay = RiskContext(position: 10, dayPnL: -5_000 * 10_000)
        guard case .rejectAndHalt = RiskCheck.evaluate(side: .buy, quantity: 1, price: FixedDecimal(100), stoploss: nil, settings: settings, context: lossDay) else {
            Issue.record("a daily loss at the limit halts"); return
        }
        #expect(RiskCheck.evaluate(side: .sell, quantity: 10, price: FixedDecimal(100), stoploss: nil, settings: settings, context: lossDay) == .accept,
                "selling the long position only reduces risk")
        let drawn = RiskContext(position: 0, equity: 90 * 10_000, equityPeak: 100 * 10_000)
        guard case .rejectAndHalt = RiskCheck.evaluate(side: .buy, quantity: 1, price: FixedDecimal(1), stoploss: nil, settings: settings, context: drawn) else {
            Issue.record("a 10% drawdown halts"); return
        }
        let halted = RiskContext(position: -5, halted: true)
        #expect(RiskCheck.evaluate(side: .buy, quantity: 5, price: FixedDecimal(1), stoploss: nil, settings: settings, context: halted) == .accept, "covering a short while halted")
        #expect(RiskCheck.evaluate(side: .buy, quantity: 6, price: FixedDecimal(1), stoploss: nil, settings: settings, context: halted) != .accept, "flipping to long adds risk")
    }

    @Test func inactiveOrMissingSettingsCheckNothingButHalts() {
        var off = settings
        off.isActive = false
        #expect(RiskCheck.evaluate(side: .buy, quantity: 1_000_000, price: FixedDecimal(2_500), stoploss: nil, settings: off, context: RiskContext(position: 0)) == .accept)
        #expect(RiskCheck.evaluate(side: .buy, quantity: 1, price: FixedDecimal(1), stoploss: nil, settings: nil, context: RiskContext(position: 0, halted: true)) != .accept)
    }
}
