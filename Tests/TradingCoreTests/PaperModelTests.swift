import Testing
import TradingCore

@Suite("Paper simulator optional models: slippage, latency, partial fills, modify")
struct PaperModelTests {
    let t = Timestamp(nanosecondsSinceEpoch: 1_000_000_000)

    @Test func slippageMovesMarketFillsAgainstTheOrderRoundedHalfEven() {
        var venue = PaperSimulator(model: PaperModel(slippageBasisPoints: 5))
        let buy = venue.place(PaperOrder(orderID: "b", side: .buy, type: .market, quantity: 1), at: FixedDecimal("2450.05")!, time: t)
        // 2450.05 x 5 bp = 1.225025 -> 1.2250 (half-even at 4 decimals)
        #expect(buy.map(\.price) == [FixedDecimal("2451.275")!])
        let sell = venue.place(PaperOrder(orderID: "s", side: .sell, type: .market, quantity: 1), at: FixedDecimal(100), time: t)
        #expect(sell.map(\.price) == [FixedDecimal("99.95")!])
        _ = venue.place(PaperOrder(orderID: "l", side: .buy, type: .limit, quantity: 1, limitPrice: FixedDecimal(99)), at: FixedDecimal(100), time: t)
        let limitFills = venue.onTick(price: FixedDecimal(98), time: t)
        #expect(limitFills.map(\.price) == [FixedDecimal(99)], "a limit order never fills worse than its price")
    }

    @Test func latencyHoldsAnOrderUntilATickAtOrAfterItArrives() {
        var venue = PaperSimulator(model: PaperModel(latencyNanoseconds: 250_000_000))
        let placed = venue.place(PaperOrder(orderID: "m", side: .buy, type: .market, quantity: 4), at: FixedDecimal(100), time: t)
        let early = venue.onTick(price: FixedDecimal(101), time: t.adding(nanoseconds: 249_999_999))
        let arrived = venue.onTick(price: FixedDecimal(102), time: t.adding(nanoseconds: 250_000_000))
        #expect(placed.isEmpty && early.isEmpty)
        #expect(arrived.map(\.price) == [FixedDecimal(102)], "filled at the first tick after the latency, at that tick's price")
        #expect(venue.working.isEmpty)
    }

    @Test func maxFillQuantitySplitsAnOrderOverTicks() {
        var venue = PaperSimulator(model: PaperModel(maxFillQuantityPerTick: 4))
        let first = venue.place(PaperOrder(orderID: "m", side: .buy, type: .market, quantity: 10), at: FixedDecimal(100), time: t)
        #expect(first.map(\.quantity) == [4])
        let second = venue.onTick(price: FixedDecimal(101), time: t), third = venue.onTick(price: FixedDecimal(102), time: t)
        #expect(second.map(\.quantity) == [4] && third.map(\.quantity) == [2])
        #expect(venue.working.isEmpty)
    }

    @Test func modifyChangesQuantityAndPriceButNotBelowWhatFilled() {
        var venue = PaperSimulator(model: PaperModel(maxFillQuantityPerTick: 3))
        _ = venue.place(PaperOrder(orderID: "l", side: .buy, type: .limit, quantity: 10, limitPrice: FixedDecimal(99)), at: FixedDecimal(100), time: t)
        let first = venue.onTick(price: FixedDecimal(99), time: t)
        #expect(first.map(\.quantity) == [3])
        let tooSmall = venue.modify("l", quantity: 3, limitPrice: nil, triggerPrice: nil)
        #expect(!tooSmall, "not at or below the 3 filled")
        let changed = venue.modify("l", quantity: 5, limitPrice: FixedDecimal(98), triggerPrice: nil)
        #expect(changed)
        let above = venue.onTick(price: FixedDecimal(99), time: t), at = venue.onTick(price: FixedDecimal(98), time: t)
        #expect(above.isEmpty, "99 no longer reaches the new 98 limit")
        #expect(at.map(\.quantity) == [2], "5 ordered, 3 filled: 2 left")
        let unknown = venue.modify("gone", quantity: 1, limitPrice: nil, triggerPrice: nil)
        #expect(!unknown)
    }

    @Test func aDeskWithPartialFillsPublishesPartiallyFilledThenFilled() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 9))
        desk.paperModel = PaperModel(maxFillQuantityPerTick: 6)
        let intent = OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, quantity: 10,
                                 referencePrice: FixedDecimal(100), time: t, reason: "test")
        let placed = TradingDeskTests.events(desk.submit(intent, now: t))
        #expect(placed.map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" } == ["order:OPEN", "fill:PARTIALLY_FILLED", "order:PARTIALLY_FILLED"])
        let rest = TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t, price: FixedDecimal(104))))
        #expect(rest.map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" } == ["fill:FILLED", "order:FILLED"])
        #expect(rest[0].fillQuantity == 4 && rest[0].order.state.averagePrice == FixedDecimal("101.6"))
        #expect(desk.position(userID: "u", symbol: "X", exchange: "NSE") == 10)
    }
}
