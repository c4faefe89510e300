import Foundation
import Postgres
import Storage
import TestSupport
import Testing
import TradingCore

/// Orders still working at a stop are taken up again at start (failed on 1106958: a restarted
/// desk knew nothing of them, so a paper limit or bracket order stayed OPEN in `trades` forever
/// and a live order's later report was answered `unknown_order`).
@Suite("Working orders across a restart")
struct WorkingOrderStoreTests {
    @Test func workingOrdersAreStoredAndTakenUpAgainWithTheirFillsAndBracketLinks() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        try db.query("DELETE FROM trades WHERE trade_id = $1::uuid", [ids.tradeID])
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func intent(_ side: OrderSide, _ quantity: Int64, type: OrderType = .market, limit: Int64? = nil, bracket: Bool = false) -> OrderIntent {
            OrderIntent(strategyID: ids.strategyID, userID: ids.userID, brokerID: ids.brokerID, symbol: "INFY", exchange: "NSE", side: side,
                        type: type, quantity: quantity, limitPrice: limit.map { FixedDecimal($0) }, stoploss: bracket ? FixedDecimal(1_450) : nil,
                        target: bracket ? FixedDecimal(1_550) : nil, referencePrice: FixedDecimal(1_500), time: t0, reason: "test")
        }
        var before = TradingDesk(ids: UUIDv7Generator(seed: 1))
        before.paperModel = PaperModel(maxFillQuantityPerTick: 3)
        var records = before.submit(intent(.buy, 10, type: .limit, limit: 1_480), now: t0)
        records += before.onTick(Tick(symbol: "INFY", exchange: "NSE", timestamp: t0, price: FixedDecimal(1_480)))  // 3 of 10: PARTIAL
        records += before.submit(intent(.buy, 3, bracket: true), now: t0)  // fills 3: a stoploss and a target
        let store = OrderRoundStore(connectionString: url)
        defer { store.close() }
        try store.apply(OrderRound(records: records, firstSeq: try store.nextSeq(), roundID: UUID().uuidString.lowercased()), deduplicate: false)

        let loaded = try WorkingOrderStore.load(db)
        let expected = before.workingOrderIDs.compactMap { before.workingOrder($0) }
        #expect(loaded.map(\.orderID).sorted() == expected.map(\.orderID).sorted() && loaded.count == 3)
        for order in expected {
            let back = try #require(loaded.first { $0.orderID == order.orderID })
            #expect(back.state.status == order.state.status && back.state.filledQuantity == order.state.filledQuantity
                    && back.state.quantity == order.state.quantity && back.state.price == order.state.price
                    && back.state.triggerPrice == order.state.triggerPrice && back.parentOrderID == order.parentOrderID
                    && back.intent.side == order.intent.side && back.intent.type == order.intent.type, "\(order.orderID)")
        }
        // A restarted desk takes them up: the limit goes on filling, the bracket still cancels the other.
        var after = TradingDesk(ids: UUIDv7Generator(seed: 2))
        after.paperModel = before.paperModel
        // As serve does: the positions first (6 held: 3 from the limit, 3 from the bracketed entry).
        after.restore(positionID: "p", openingTradeID: "t", userID: ids.userID, symbol: "INFY", exchange: "NSE",
                      quantity: before.position(userID: ids.userID, symbol: "INFY", exchange: "NSE"), averagePrice: FixedDecimal(1_490),
                      openedAt: t0, strategyID: ids.strategyID, brokerID: ids.brokerID, product: .mis)
        #expect(after.restoreWorking(loaded, time: t0).isEmpty)
        let more = after.onTick(Tick(symbol: "INFY", exchange: "NSE", timestamp: t0, price: FixedDecimal(1_480)))
        let limit = expected.first { $0.intent.type == .limit && $0.parentOrderID == nil }!
        #expect(more.contains { if case .event(let e) = $0 { e.kind == .fill && e.order.orderID == limit.orderID && e.order.state.filledQuantity == 6 } else { false } })
        let hit = after.onTick(Tick(symbol: "INFY", exchange: "NSE", timestamp: t0, price: FixedDecimal(1_560)))
        #expect(hit.contains { if case .event(let e) = $0 { e.order.state.status == .cancelled && e.order.reason?.contains("one-cancels-other") == true } else { false } })
        // A repeated execution is still recognised after the restart.
        let duplicate = try #require(loaded.first { $0.orderID == limit.orderID }?.state)
        var probe = duplicate
        let firstExec = try #require(try db.query("SELECT data->>'exec_id' FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id'", [limit.tradeID]).scalar)
        #expect(try probe.apply(.filled(executionID: firstExec, quantity: 3, price: FixedDecimal(1_480))) == .duplicate)
    }
    /// Found in review: orders left from before a stop came back whatever their age. What the
    /// clock would have done while the engine was down is done at start.
    @Test func atStartAYesterdaysDayOrderExpiresAndAnOrderOfAStoppedStrategyIsCancelled() {
        let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
        func limit(_ strategy: String) -> OrderIntent {
            OrderIntent(strategyID: strategy, userID: "u", brokerID: "b", symbol: "INFY", exchange: "NSE", side: .buy, type: .limit, quantity: 5,
                        limitPrice: FixedDecimal(1_400), referencePrice: FixedDecimal(1_500), time: t0, reason: "r", product: .cnc)
        }
        var before = TradingDesk(ids: UUIDv7Generator(seed: 3))
        _ = before.submit(limit("s1"), now: t0)
        _ = before.submit(limit("s2"), now: t0)
        let orders = before.workingOrderIDs.compactMap { before.workingOrder($0) }
        var sameDay = TradingDesk(ids: UUIDv7Generator(seed: 4))
        let noon = Timestamp.parseRFC3339("2026-11-24T12:00:00+05:30")!
        let stopped = sameDay.restoreWorking(orders, time: noon, running: ["s1"])
        let cancelled = stopped.compactMap { if case .event(let e) = $0, e.order.state.status == .cancelled { e.order } else { nil } }
        #expect(cancelled.map(\.intent.strategyID) == ["s2"] && cancelled.first?.reason == "its strategy is not running (found at start)")
        #expect(sameDay.workingOrderIDs.count == 1)
        var nextDay = TradingDesk(ids: UUIDv7Generator(seed: 5))
        let expired = nextDay.restoreWorking(orders, time: Timestamp.parseRFC3339("2026-11-25T09:20:00+05:30")!, running: ["s1", "s2"])
        let reasons = expired.compactMap { if case .event(let e) = $0, e.order.state.status == .cancelled { e.order.reason } else { nil } }
        #expect(reasons == ["expired: end of the NSE session at 15:30 IST (found at start)", "expired: end of the NSE session at 15:30 IST (found at start)"])
        #expect(nextDay.workingOrderIDs.isEmpty)
    }
}
