import Foundation
import Testing
import TradingCore

@Suite("Trading desk: intents to orders, fills, positions and events")
struct TradingDeskTests {
    let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!

    func intent(_ side: OrderSide, _ quantity: Int64, at price: Int64, type: OrderType = .market, limit: Int64? = nil, user: String = "u1") -> OrderIntent {
        OrderIntent(strategyID: "s1", userID: user, brokerID: "b1", symbol: "RELIANCE", exchange: "NSE", side: side, type: type,
                    quantity: quantity, limitPrice: limit.map { FixedDecimal($0) }, referencePrice: FixedDecimal(price), time: t0, reason: "test")
    }

    static func events(_ records: [DeskRecord]) -> [BusEvent] {
        records.compactMap { if case .event(let e) = $0 { return e } else { return nil } }
    }

    @Test func aMarketOrderOpensFillsAndReportsInContractOrder() throws {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 1))
        let records = desk.submit(intent(.buy, 10, at: 2450), now: t0)
        let events = Self.events(records)
        #expect(events.map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" } == ["order:OPEN", "fill:FILLED", "order:FILLED"])
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 10)
        let fill = try #require(events.first { $0.kind == .fill })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(fill.json(seq: 7).utf8)) as? [String: Any])
        for key in ["seq", "event", "trade_id", "order_id", "parent_order_id", "user_id", "strategy_id", "broker_id", "symbol", "exchange",
                    "transaction_type", "order_type", "quantity", "fill_quantity", "fill_price", "filled_quantity", "average_price", "status", "ts"] {
            #expect(json.keys.contains(key), "fill payload has \(key)")
        }
        #expect(json["seq"] as? Int == 7 && json["status"] as? String == "FILLED" && (json["fill_price"] as? NSNumber)?.intValue == 2450)
        #expect(fill.topic == "fill.u1.s1")
        let orderEvent = try #require(events.last)
        let orderJSON = try #require(try JSONSerialization.jsonObject(with: Data(orderEvent.json(seq: 8).utf8)) as? [String: Any])
        for key in ["price", "trigger_price", "stoploss", "target", "reason"] { #expect(orderJSON.keys.contains(key)) }
        #expect(orderJSON["fill_price"] == nil)
    }

    @Test func overTheUsersPositionLimitIsRejectedWithAReasonAndNoFill() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 2))
        desk.riskSettings["u1"] = RiskSettings(dailyLossLimit: FixedDecimal(10_000), maxPositionSize: FixedDecimal(20_000),
                                               maxDrawdownPercent: FixedDecimal(50), maxRiskPerTrade: FixedDecimal(5))
        let events = Self.events(desk.submit(intent(.buy, 10, at: 2450), now: t0))
        #expect(events.count == 1)
        #expect(events[0].order.state.status == .rejected)
        #expect(events[0].order.reason?.contains("max_position_size") == true)
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 0)
    }

    @Test func limitOrdersWaitForATickAtOrThroughTheirPrice() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 3))
        let placed = Self.events(desk.submit(intent(.buy, 5, at: 2450, type: .limit, limit: 2440), now: t0))
        #expect(placed.map(\.kind) == [.order])
        #expect(desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0, price: FixedDecimal(2445))).isEmpty)
        let filled = Self.events(desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0, price: FixedDecimal(2439))))
        #expect(filled.map(\.kind) == [.fill, .order])
        #expect(filled[0].fillPrice == FixedDecimal(2440))
    }

    @Test func positionRowsFollowOpenIncreaseDecreaseCloseAndFlips() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 4))
        var history: [String] = []
        var rows: [PositionRecord] = []
        for (side, qty, price) in [(OrderSide.buy, Int64(10), Int64(100)), (.buy, 5, 110), (.sell, 6, 120), (.sell, 12, 90)] {
            for record in desk.submit(intent(side, qty, at: price), now: t0) {
                if case .positionHistory(let h) = record { history.append("\(h.action.rawValue) \(h.quantity)") }
                if case .position(let p) = record { rows.append(p) }
            }
        }
        #expect(history == ["OPEN 10", "INCREASE 5", "DECREASE 6", "CLOSE 9", "OPEN 3"])
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == -3)
        let closed = rows[3], reopened = rows[4]
        #expect(closed.status == .closed && closed.quantity == 0)
        #expect(closed.positionID != reopened.positionID, "a new row for the short side")
        #expect(reopened.realizedPnL == 0, "the new row's P&L is its own")
        #expect(closed.realizedPnL == 1_000_000 + (9 * 900_000 - 9_300_000), "100 on the decrease, then 9 × 90 − the remaining 930 of cost: −20 in all")
    }
}

@Suite("Trading desk risk state")
struct TradingDeskRiskTests {
    @Test func aDailyLossBreachHaltsTheUserButReducingOrdersStillFill() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 9))
        desk.riskSettings["u"] = RiskSettings(dailyLossLimit: FixedDecimal(500), maxPositionSize: FixedDecimal(1_000_000),
                                              maxDrawdownPercent: FixedDecimal(99), maxRiskPerTrade: FixedDecimal(99))
        func intent(_ side: OrderSide, _ q: Int64, _ price: Int64) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: side, quantity: q,
                        referencePrice: FixedDecimal(price), time: t0, reason: "t")
        }
        _ = desk.submit(intent(.buy, 100, 100), now: t0)
        _ = desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(94)))  // −600 unrealized
        let blocked = TradingDeskTests.events(desk.submit(intent(.buy, 1, 94), now: t0))
        #expect(blocked.first?.order.state.status == .rejected && blocked.first?.order.reason?.contains("daily loss") == true)
        #expect(desk.haltedUsers.contains("u"))
        let exit = TradingDeskTests.events(desk.submit(intent(.sell, 100, 94), now: t0))
        #expect(exit.map(\.kind) == [.order, .fill, .order], "the reducing order fills while halted")
        #expect(desk.position(userID: "u", symbol: "X", exchange: "NSE") == 0)
    }
}

@Suite("Trading desk halts")
struct TradingDeskHaltTests {
    @Test func aHaltCancelsWorkingOrdersAndBlocksNewRiskUntilLifted() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 11))
        func intent(_ side: OrderSide, _ q: Int64, type: OrderType = .market, limit: Int64? = nil) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: side, type: type, quantity: q,
                        limitPrice: limit.map { FixedDecimal($0) }, referencePrice: FixedDecimal(100), time: t0, reason: "t")
        }
        _ = desk.submit(intent(.buy, 5), now: t0)
        _ = desk.submit(intent(.buy, 5, type: .limit, limit: 90), now: t0)
        let cancelled = TradingDeskTests.events(desk.setHalts(users: ["u"], engine: false, time: t0))
        #expect(cancelled.map { $0.order.state.status } == [.cancelled], "the working LIMIT order is cancelled")
        let blocked = TradingDeskTests.events(desk.submit(intent(.buy, 1), now: t0))
        #expect(blocked.first?.order.state.status == .rejected)
        let reduce = TradingDeskTests.events(desk.submit(intent(.sell, 5), now: t0))
        #expect(reduce.contains { $0.kind == .fill }, "reducing the position is allowed while halted")
        _ = desk.setHalts(users: [], engine: true, time: t0)
        #expect(TradingDeskTests.events(desk.submit(intent(.buy, 1), now: t0)).first?.order.state.status == .rejected, "engine-wide halt")
        _ = desk.setHalts(users: [], engine: false, time: t0)
        #expect(TradingDeskTests.events(desk.submit(intent(.buy, 1), now: t0)).contains { $0.kind == .fill }, "resumed")
    }
}

extension TradingDeskHaltTests {
    /// A halt committed while the engine was down cancels, at the next start, the orders it
    /// would have cancelled had the engine been up. Before, the halts were set before the
    /// working orders were taken up again and then never applied to them: the orders of a
    /// halted user stayed working (and a paper one could fill).
    @Test func ordersTakenUpAtStartAreCancelledWhenTheirUserOrStrategyIsAlreadyHalted() throws {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func intent(_ user: String, _ strategy: String) -> OrderIntent {
            OrderIntent(strategyID: strategy, userID: user, brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, type: .limit, quantity: 5,
                        limitPrice: FixedDecimal(90), referencePrice: FixedDecimal(100), time: t0, reason: "t")
        }
        var before = TradingDesk(ids: UUIDv7Generator(seed: 21))
        _ = before.submit(intent("u", "s"), now: t0)
        _ = before.submit(intent("v", "halted-strategy"), now: t0)
        _ = before.submit(intent("w", "free"), now: t0)
        let working = before.workingOrderIDs.compactMap { before.workingOrder($0) }
        #expect(working.count == 3)

        var after = TradingDesk(ids: UUIDv7Generator(seed: 22))
        _ = after.setHalts(users: ["u"], engine: false, time: t0)
        _ = after.setHaltedStrategies(["halted-strategy"], time: t0)
        let records = TradingDeskTests.events(after.restoreWorking(working, time: t0))
        let cancelled = Dictionary(uniqueKeysWithValues: records.filter { $0.order.state.status == .cancelled }
            .map { ($0.order.intent.strategyID, $0.order.reason ?? "") })
        #expect(cancelled == ["s": "trading halted (found at start)", "halted-strategy": "strategy halted (found at start)"])
        #expect(after.workingOrderIDs.compactMap { after.workingOrder($0)?.intent.strategyID } == ["free"], "the free user's order works on")
    }
}

extension TradingDeskHaltTests {
    /// A strategy's halt (an operator's, or any halt read again at a restart) cancels its
    /// working orders but the stoploss and target of what it holds. Before, it cancelled them
    /// too, leaving an open position without its stoploss.
    @Test func aStrategyHaltKeepsTheBracketsProtectingItsPosition() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 23))
        let entry = OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, quantity: 10,
                                stoploss: FixedDecimal(95), target: FixedDecimal(110), referencePrice: FixedDecimal(100), time: t0, reason: "entry")
        _ = desk.submit(entry, now: t0)
        let resting = OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, type: .limit,
                                  quantity: 5, limitPrice: FixedDecimal(90), referencePrice: FixedDecimal(100), time: t0, reason: "add")
        _ = desk.submit(resting, now: t0)
        let cancelled = TradingDeskTests.events(desk.setHaltedStrategies(["s"], time: t0)).filter { $0.order.state.status == .cancelled }
        #expect(cancelled.map { $0.order.intent.type } == [.limit] && cancelled.allSatisfy { $0.order.parentOrderID == nil },
                "only the resting entry is cancelled")
        let working = desk.workingOrderIDs.compactMap { desk.workingOrder($0) }
        #expect(working.count == 2 && working.allSatisfy { $0.parentOrderID != nil }, "the stoploss and the target keep working")
        let stopped = TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(94))))
        #expect(stopped.contains { $0.kind == .fill && $0.order.intent.type == .stopLossMarket }, "the stoploss still protects the position")
    }

    /// At a restart, a live order of a halted user still PENDING (the broker may or may not have
    /// it) is not sent to the broker again: only its cancel is.
    @Test func aHaltedUsersPendingLiveOrderIsNotResentAtStartOnlyCancelled() throws {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func liveDesk(_ seed: UInt64) -> TradingDesk { GatewayDeskTests().liveDesk(seed: seed) }
        var before = liveDesk(24)
        let intent = OrderIntent(strategyID: "s", userID: "u", brokerID: "live1", symbol: "X", exchange: "NSE", side: .buy, quantity: 5,
                                 referencePrice: FixedDecimal(100), time: t0, reason: "t")
        _ = before.submit(intent, now: t0)
        let pending = before.workingOrderIDs.compactMap { before.workingOrder($0) }
        #expect(pending.count == 1 && pending[0].state.status == .pending)

        var free = liveDesk(25)
        #expect(GatewayDeskTests.requests(free.restoreWorking(pending, time: t0)).map(\.kind) == [.new], "not halted: sent again")
        var halted = liveDesk(26)
        _ = halted.setHalts(users: ["u"], engine: false, time: t0)
        let requests = GatewayDeskTests.requests(halted.restoreWorking(pending, time: t0))
        #expect(requests.map(\.kind) == [.cancel], "halted: only the cancel goes out")
        #expect(requests.first?.reason == "trading halted (found at start)")
    }
}

@Suite("Strategy day figures and position marks")
struct StrategyDayTests {
    @Test func figuresFollowTheClosingExecutions() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 12))
        func intent(_ side: OrderSide, _ q: Int64, _ price: Int64) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: side, quantity: q,
                        referencePrice: FixedDecimal(price), time: t0, reason: "t")
        }
        var last: StrategyDay?
        for (side, price) in [(OrderSide.buy, Int64(100)), (.sell, 110), (.buy, 100), (.sell, 95), (.buy, 100), (.sell, 101)] {
            for record in desk.submit(intent(side, 10, price), now: t0) {
                if case .performance(let day) = record { last = day }
            }
        }
        let day = try! #require(last)
        #expect(day.trades == 6 && day.winning == 2 && day.losing == 1)
        #expect(day.totalPnL == (100 - 50 + 10) * 10_000, "+100, −50, +10")
        #expect(day.maxDrawdown == 50 * 10_000, "from the +100 peak down to +50")
        #expect(abs((day.winRate ?? 0) - 66.666_666) < 0.001)
        #expect(day.sharpeRatio != nil)
        #expect(day.day == SessionCalendar.istDay(t0))
    }

    @Test func openPositionsAreMarkedWhenTheirPriceMoves() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 13))
        _ = desk.submit(OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, quantity: 1,
                                    referencePrice: FixedDecimal(100), time: t0, reason: "t"), now: t0)
        #expect(desk.marks().count == 1)
        #expect(desk.marks().isEmpty, "unchanged price: nothing to write")
        _ = desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(101)))
        let moved = desk.marks()
        #expect(moved.count == 1)
        guard case .mark(_, let price)? = moved.first else { Issue.record("expected a mark"); return }
        #expect(price == FixedDecimal(101))
    }
}

@Suite("Bracket orders")
struct BracketOrderTests {
    @Test func stoplossAndTargetChildrenAreLinkedAndOneCancelsTheOther() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 14))
        let entry = OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: .buy, quantity: 10,
                                stoploss: FixedDecimal(95), target: FixedDecimal(110), referencePrice: FixedDecimal(100), time: t0, reason: "entry")
        let placed = TradingDeskTests.events(desk.submit(entry, now: t0))
        let parent = placed.first { $0.kind == .fill }!.order
        let children = placed.filter { $0.order.parentOrderID != nil }
        #expect(children.count == 2)
        #expect(children.allSatisfy { $0.order.parentOrderID == parent.orderID && $0.order.state.status == .open && $0.order.intent.side == .sell })
        #expect(Set(children.map { $0.order.intent.type }) == [.stopLossMarket, .limit])
        // The target trades first: it fills at 110 and the stoploss is cancelled.
        let hit = TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(111))))
        #expect(hit.filter { $0.kind == .fill }.map(\.fillPrice) == [FixedDecimal(110)])
        let cancelled = hit.filter { $0.order.state.status == .cancelled }
        #expect(cancelled.count == 1 && cancelled[0].order.intent.type == .stopLossMarket)
        #expect(cancelled[0].order.reason?.contains("one-cancels-other") == true)
        #expect(desk.position(userID: "u", symbol: "X", exchange: "NSE") == 0)
        #expect(TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(90)))).isEmpty,
                "the cancelled stoploss never fires")
    }

    /// Found in review: a loss halt cancelled the strategy's bracket stoploss with its other
    /// working orders, leaving the position it protected open and unprotected.
    @Test func aStrategyLossHaltKeepsTheBracketThatProtectsThePosition() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 16))
        desk.strategyPolicies["s"] = StrategyOrderPolicy(maxLoss: FixedDecimal(10))
        func intent(_ side: OrderSide, _ quantity: Int64, at price: Int64, bracket: Bool = false) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: side, quantity: quantity,
                        stoploss: bracket ? FixedDecimal(90) : nil, target: bracket ? FixedDecimal(120) : nil,
                        referencePrice: FixedDecimal(price), time: t0, reason: "r")
        }
        let children = TradingDeskTests.events(desk.submit(intent(.buy, 10, at: 100, bracket: true), now: t0)).filter { $0.order.parentOrderID != nil }
        let loss = desk.submit(intent(.sell, 5, at: 97), now: t0)  // -15: past max_loss 10
        #expect(loss.contains { if case .strategyHalt = $0 { true } else { false } })
        let cancelled = TradingDeskTests.events(loss).filter { $0.order.state.status == .cancelled }.map(\.order.orderID)
        #expect(children.allSatisfy { !cancelled.contains($0.order.orderID) }, "the stoploss and target still protect what is held")
        #expect(desk.workingOrderIDs.count == 2)
        let stopped = TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(89))))
        #expect(stopped.contains { $0.kind == .fill } && desk.position(userID: "u", symbol: "X", exchange: "NSE") == 0)
    }

    /// Found by the model test (seed 19) and failed on 1106958: with the stoploss cancelled by an
    /// operator, the strategy sold its position itself and the target left working filled later,
    /// making the long-only strategy short. Bracket orders are cut to the position they protect.
    @Test func bracketOrdersShrinkWithThePositionAndGoWhenItIsClosedByOtherMeans() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 15))
        func intent(_ side: OrderSide, _ quantity: Int64, bracket: Bool = false) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: "NSE", side: side, quantity: quantity,
                        stoploss: bracket ? FixedDecimal(95) : nil, target: bracket ? FixedDecimal(110) : nil,
                        referencePrice: FixedDecimal(100), time: t0, reason: "r")
        }
        let children = TradingDeskTests.events(desk.submit(intent(.buy, 10, bracket: true), now: t0)).filter { $0.order.parentOrderID != nil }
        let stop = children.first { $0.order.intent.type == .stopLossMarket }!.order.orderID
        let target = children.first { $0.order.intent.type == .limit }!.order.orderID
        _ = desk.cancel(orderID: stop, reason: "operator", time: t0)
        let partial = TradingDeskTests.events(desk.submit(intent(.sell, 4), now: t0))
        #expect(partial.contains { $0.order.orderID == target && $0.order.state.quantity == 6 }, "the target is cut to the 6 left")
        let exit = TradingDeskTests.events(desk.submit(intent(.sell, 6), now: t0))
        #expect(exit.contains { $0.order.orderID == target && $0.order.state.status == .cancelled && $0.order.reason == "the position it protects is closed" })
        #expect(TradingDeskTests.events(desk.onTick(Tick(symbol: "X", exchange: "NSE", timestamp: t0, price: FixedDecimal(120)))).isEmpty)
        #expect(desk.position(userID: "u", symbol: "X", exchange: "NSE") == 0, "never short")
    }
}
