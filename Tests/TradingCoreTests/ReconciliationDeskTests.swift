import Foundation
import Testing
import TradingCore

@Suite("Reconciliation of a live broker's account with the desk")
struct ReconciliationDeskTests {
    let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!
    let gateway = GatewayDeskTests()

    func limit(_ side: OrderSide, _ quantity: Int64, at price: Int64, symbol: String = "RELIANCE") -> OrderIntent {
        OrderIntent(strategyID: "s1", userID: "u1", brokerID: "live1", symbol: symbol, exchange: "NSE", side: side, type: .limit,
                    quantity: quantity, limitPrice: FixedDecimal(price), referencePrice: FixedDecimal(price), time: t0, reason: "test")
    }

    /// A live desk with one accepted (OPEN) limit order; its id.
    func deskWithOpenOrder(seed: UInt64, quantity: Int64 = 10) -> (TradingDesk, String) {
        var desk = gateway.liveDesk(seed: seed)
        let id = GatewayDeskTests.requests(desk.submit(limit(.buy, quantity, at: 2450), now: t0))[0].order.orderID
        #expect(desk.onGatewayReport(gateway.report(.accepted, id)).outcome == .applied)
        return (desk, id)
    }

    static func result(_ records: [DeskRecord]) -> Reconciliation? {
        records.lazy.compactMap { if case .reconciliation(let r, _) = $0 { return r } else { return nil } }.first
    }

    func execution(_ exec: String, _ orderID: String?, quantity: Int64, price: Int64 = 2450, side: OrderSide = .buy,
                   brokerOrderID: String = "B1", symbol: String = "RELIANCE") -> BrokerSnapshot.Execution {
        BrokerSnapshot.Execution(execID: exec, brokerOrderID: brokerOrderID, orderID: orderID, symbol: symbol, exchange: "NSE", side: side,
                                 quantity: quantity, price: FixedDecimal(price))
    }

    func order(_ orderID: String?, _ status: OrderStatus, quantity: Int64 = 10, filled: Int64 = 0, brokerOrderID: String = "B1",
               price: Int64? = 2450, reason: String? = nil) -> BrokerSnapshot.Order {
        BrokerSnapshot.Order(brokerOrderID: brokerOrderID, orderID: orderID, status: status, symbol: "RELIANCE", exchange: "NSE", side: .buy,
                             quantity: quantity, filledQuantity: filled, price: price.map { FixedDecimal($0) }, reason: reason)
    }

    func position(_ quantity: Int64, symbol: String = "RELIANCE") -> BrokerSnapshot.Position {
        BrokerSnapshot.Position(symbol: symbol, exchange: "NSE", product: "MIS", quantity: quantity)
    }

    @Test func aMissedExecutionIsAppliedOnceAndASecondReconciliationOfTheSameAccountChangesNothing() throws {
        var (desk, id) = deskWithOpenOrder(seed: 11)
        let snapshot = BrokerSnapshot(brokerID: "live1", orders: [order(id, .filled, filled: 10)],
                                      executions: [execution("T1", id, quantity: 6), execution("T2", id, quantity: 4, price: 2452)],
                                      positions: [position(10)])
        let first = desk.reconcile(snapshot, requestID: "r1", peer: [1], time: t0)
        let result = try #require(Self.result(first))
        #expect(result.applied == 2 && result.isClean && result.level == "INFO", "\(result)")
        #expect(TradingDeskTests.events(first).map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" }
                == ["fill:PARTIALLY_FILLED", "order:PARTIALLY_FILLED", "fill:FILLED", "order:FILLED"])
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 10)

        let second = desk.reconcile(snapshot, requestID: "r2", peer: [1], time: t0)
        let again = try #require(Self.result(second))
        #expect(again.applied == 0 && again.isClean, "the filled order is remembered as ended at the broker: \(again)")
        #expect(TradingDeskTests.events(second).isEmpty)
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 10)
        // A report of an execution reconciliation already applied is a duplicate.
        #expect(desk.onGatewayReport(gateway.report(.fill, id, exec: "T1", quantity: 6, price: 2450)).records.isEmpty)
    }

    @Test func anExecutionAlreadyReportedIsNotAppliedAgain() throws {
        var (desk, id) = deskWithOpenOrder(seed: 12)
        #expect(desk.onGatewayReport(gateway.report(.fill, id, exec: "T1", quantity: 4, price: 2450)).outcome == .applied)
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1", orders: [order(id, .partiallyFilled, filled: 4)],
                                                    executions: [execution("T1", id, quantity: 4)], positions: [position(4)]),
                                     requestID: "r", peer: [1], time: t0)
        let result = try #require(Self.result(records))
        #expect(result.applied == 0 && result.isClean, "\(result)")
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 4)
    }

    @Test func ordersAndPositionsNotTheEnginesAreReportedAndLeftAlone() throws {
        var (desk, id) = deskWithOpenOrder(seed: 13)
        #expect(desk.onGatewayReport(gateway.report(.fill, id, exec: "T1", quantity: 4, price: 2450)).outcome == .applied)
        let snapshot = BrokerSnapshot(
            brokerID: "live1",
            orders: [order(id, .partiallyFilled, filled: 4), order(nil, .filled, quantity: 3, filled: 3, brokerOrderID: "MANUAL-7")],
            executions: [execution("T1", id, quantity: 4), execution("M1", nil, quantity: 3, brokerOrderID: "MANUAL-7")],
            positions: [position(7), position(-50, symbol: "INFY")])
        let result = try #require(Self.result(desk.reconcile(snapshot, requestID: "r", peer: [1], time: t0)))
        #expect(result.unknownOrders == ["MANUAL-7"] && result.foreignPositions == ["NSE:INFY -50"], "\(result)")
        #expect(result.isClean && result.level == "WARNING", "a manual trade explains the RELIANCE position: \(result)")
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 4, "a manual trade is not the strategy's")
        #expect(desk.brokerHold("live1") == nil)
    }

    @Test func aDifferenceNothingExplainsHoldsTheBrokersNewOrdersUntilACleanReconciliation() throws {
        var (desk, id) = deskWithOpenOrder(seed: 14)
        #expect(desk.onGatewayReport(gateway.report(.fill, id, exec: "T1", quantity: 10, price: 2450)).outcome == .applied)
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1", orders: [order(id, .filled, filled: 10)],
                                                    executions: [execution("T1", id, quantity: 10)], positions: [position(7)]),
                                     requestID: "r1", peer: [9], time: t0)
        let result = try #require(Self.result(records))
        #expect(!result.isClean && result.level == "ERROR")
        #expect(result.differences == ["NSE:RELIANCE: the broker's day position is 7, the engine's fills there today make 10"], "\(result.differences)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.json(includingRequest: true).utf8)) as? [String: Any])
        #expect(json["status"] as? String == "halted" && json["request_id"] as? String == "r1")
        guard case .reconciliation(_, let peer) = records.last! else { Issue.record("the result is the last record"); return }
        #expect(peer == [9], "the result goes back to the gateway that answered")

        let refused = TradingDeskTests.events(desk.submit(limit(.sell, 1, at: 2460), now: t0))
        #expect(refused.map(\.order.state.status) == [.rejected])
        #expect(refused.first?.order.reason == "halted: reconciliation difference at live broker live1")

        let clean = desk.reconcile(BrokerSnapshot(brokerID: "live1", orders: [order(id, .filled, filled: 10)],
                                                  executions: [execution("T1", id, quantity: 10)], positions: [position(10)]),
                                   requestID: "r2", peer: [9], time: t0)
        #expect(Self.result(clean)?.isClean == true)
        #expect(desk.brokerHold("live1") == nil)
        #expect(GatewayDeskTests.requests(desk.submit(limit(.sell, 1, at: 2460), now: t0)).count == 1)
    }

    @Test func aPendingOrderTheBrokerNeverGotIsSentAgainAndAnAcceptedOneItLacksIsADifference() throws {
        var (desk, open) = deskWithOpenOrder(seed: 15)
        let pending = GatewayDeskTests.requests(desk.submit(limit(.buy, 2, at: 2440), now: t0))[0].order.orderID
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r", peer: [1], time: t0)
        let result = try #require(Self.result(records))
        #expect(result.resent == 1)
        // Sent again, then, with the difference the other makes, both cancelled as the halt would.
        #expect(GatewayDeskTests.requests(records).map { "\($0.kind):\($0.order.orderID)" }.sorted()
                == ["cancel:\(open)", "cancel:\(pending)", "new:\(pending)"].sorted())
        #expect(result.differences.count == 1 && result.differences[0].hasPrefix("order \(open) (OPEN"), "\(result.differences)")
    }

    @Test func theBrokersCancellationAndModificationAreBroughtIntoTheEnginesOrders() throws {
        var (desk, first) = deskWithOpenOrder(seed: 16)
        let second = GatewayDeskTests.requests(desk.submit(limit(.buy, 5, at: 2440), now: t0))[0].order.orderID
        #expect(desk.onGatewayReport(gateway.report(.accepted, second)).outcome == .applied)
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1", orders: [
            order(first, .cancelled, reason: "cancelled by the user in Kite"),
            order(second, .open, quantity: 8, brokerOrderID: "B2", price: 2435),
        ]), requestID: "r", peer: [1], time: t0)
        let result = try #require(Self.result(records))
        #expect(result.ended == 1 && result.modified == 1 && result.isClean, "\(result)")
        let events = TradingDeskTests.events(records)
        let ended = try #require(events.first { $0.order.orderID == first })
        #expect(ended.order.state.status == .cancelled && ended.order.reason == "cancelled by the user in Kite")
        let changed = try #require(events.last { $0.order.orderID == second })
        #expect(changed.order.state.quantity == 8 && changed.order.state.price == FixedDecimal(2435))
        let refs = desk.ordersAtBroker("live1")
        #expect(refs.map(\.orderID) == [first, second] && refs.map(\.status) == [.cancelled, .open])
        #expect(refs.last?.brokerOrderID == "B2", "the broker's order id is learnt from the snapshot")
    }

    @Test func anExecutionOfAnOrderTheEngineEndedIsADifference() throws {
        var (desk, id) = deskWithOpenOrder(seed: 17)
        _ = desk.cancel(orderID: id, reason: "test", time: t0)
        #expect(desk.onGatewayReport(gateway.report(.cancelled, id)).outcome == .applied)
        let result = try #require(Self.result(desk.reconcile(
            BrokerSnapshot(brokerID: "live1", orders: [order(id, .filled, filled: 10)], executions: [execution("T9", id, quantity: 10)],
                           positions: [position(10)]),
            requestID: "r", peer: [1], time: t0)))
        #expect(result.differences.contains { $0.contains("execution T9") && $0.contains("already ended CANCELLED") }, "\(result.differences)")
    }

    @Test func whileReconcilingOrAfterTheSessionExpiredTheBrokersOrdersAreRejectedWithTheReason() throws {
        var desk = gateway.liveDesk(seed: 18)
        desk.beginReconciliation("live1")
        #expect(TradingDeskTests.events(desk.submit(limit(.buy, 1, at: 2450), now: t0)).first?.order.reason
                == "halted: reconciling live broker live1 with its gateway")
        _ = desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r", peer: [1], time: t0)
        desk.setBrokerSession("live1", active: false, reason: "TokenException: Incorrect `api_key` or `access_token`.")
        #expect(TradingDeskTests.events(desk.submit(limit(.buy, 1, at: 2450), now: t0)).first?.order.reason
                == "halted: broker session expired for live broker live1: TokenException: Incorrect `api_key` or `access_token`.")
        desk.setBrokerSession("live1", active: true, reason: nil)
        #expect(GatewayDeskTests.requests(desk.submit(limit(.buy, 1, at: 2450), now: t0)).count == 1)
    }

    /// Failed before: a DAY order whose close the gateway missed (down at 15:30) was, the next
    /// morning, "working at the engine, the broker does not have it": a difference that halted.
    @Test func aWorkingOrderOfAnEarlierDayMissingFromTheBrokersBookExpiredAtItsClose() throws {
        var (desk, open) = deskWithOpenOrder(seed: 24)
        let pending = GatewayDeskTests.requests(desk.submit(limit(.buy, 2, at: 2440), now: t0))[0].order.orderID
        let nextDay = Timestamp(nanosecondsSinceEpoch: t0.nanosecondsSinceEpoch + Timestamp.nanosecondsPerDay)
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r", peer: [1], time: nextDay)
        let result = try #require(Self.result(records))
        #expect(result.isClean && result.ended == 2 && result.resent == 0, "\(result)")
        #expect(GatewayDeskTests.requests(records).isEmpty, "nothing sent on another day")
        let ended = TradingDeskTests.events(records).filter { $0.kind == .order }.map { ($0.order.orderID, $0.order.state.status) }
        #expect(ended.contains { $0 == (open, .cancelled) } && ended.contains { $0 == (pending, .rejected) }, "\(ended)")
    }

    /// Failed before: the working orders were cancelled only later, by the halt, with the bare
    /// reason "strategy halted": nothing on the bus said a reconciliation was why.
    @Test func aDifferenceCancelsTheBrokersWorkingOrdersSayingWhy() throws {
        var (desk, id) = deskWithOpenOrder(seed: 23)
        let records = desk.reconcile(BrokerSnapshot(brokerID: "live1", orders: [order(id, .partiallyFilled, filled: 3)]),
                                     requestID: "r1", peer: [9], time: t0)
        #expect(Self.result(records)?.isClean == false)
        let cancels = GatewayDeskTests.requests(records).filter { $0.kind == .cancel }
        #expect(cancels.map(\.order.orderID) == [id] && cancels.first?.reason == "strategy halted: reconciliation difference at live broker live1",
                "\(cancels)")
    }

    /// Failed before: only `session active` lifted the hold, which a gateway restarted with the
    /// renewed token never sends (it never saw the expiry), so the broker stayed refused.
    @Test func aCompleteSnapshotEndsASessionHold() throws {
        var desk = gateway.liveDesk(seed: 22)
        desk.setBrokerSession("live1", active: false, reason: "TokenException")
        #expect(desk.brokerHold("live1")?.contains("session expired") == true)
        desk.beginReconciliation("live1")
        _ = desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r", peer: [2], time: t0)
        #expect(desk.brokerHold("live1") == nil, "the new gateway read the account: its session works")
    }

    @Test func ordersRestoredAtStartAreReconciledAgainstTheirNets() throws {
        var desk = gateway.liveDesk(seed: 19)
        desk.restoreBroker("live1", nets: ["RELIANCE|NSE": 25], day: SessionCalendar.istDay(t0), ended: [])
        let clean = try #require(Self.result(desk.reconcile(BrokerSnapshot(brokerID: "live1", positions: [position(25)]),
                                                            requestID: "r", peer: [1], time: t0)))
        #expect(clean.isClean && clean.foreignPositions.isEmpty, "\(clean)")
        let flat = try #require(Self.result(desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r2", peer: [1], time: t0)))
        #expect(flat.differences == ["NSE:RELIANCE: the broker's day position is 0, the engine's fills there today make 25"])
    }

    /// Failed before: the engine compared all its fills ever with the broker's positions, so a
    /// CNC buy moved to holdings overnight (or a position closed by hand yesterday) was a
    /// difference at every later reconnect, halting the broker's strategies for good.
    @Test func onlyTodaysFillsAreComparedWithTheBrokersDayPositions() throws {
        var desk = gateway.liveDesk(seed: 20)
        let yesterday = Timestamp(nanosecondsSinceEpoch: t0.nanosecondsSinceEpoch - Timestamp.nanosecondsPerDay)
        desk.restoreBroker("live1", nets: ["RELIANCE|NSE": 25], day: SessionCalendar.istDay(yesterday), ended: [])
        let next = try #require(Self.result(desk.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r", peer: [1], time: t0)))
        #expect(next.isClean && next.foreignPositions.isEmpty, "yesterday's 25 moved nothing today: \(next)")
        // Today's fills count from zero, and the day's close does not carry them into the next day.
        var (live, id) = deskWithOpenOrder(seed: 21)
        live.restoreBroker("live1", nets: ["RELIANCE|NSE": 25], day: SessionCalendar.istDay(yesterday), ended: [])
        #expect(live.onGatewayReport(gateway.report(.fill, id, exec: "T1", quantity: 10, price: 2450)).outcome == .applied)
        let today = try #require(Self.result(live.reconcile(BrokerSnapshot(brokerID: "live1", orders: [order(id, .filled, filled: 10)],
                                                                           executions: [execution("T1", id, quantity: 10)], positions: [position(10)]),
                                                            requestID: "r2", peer: [1], time: t0)))
        #expect(today.isClean, "\(today)")
        let tomorrow = Timestamp(nanosecondsSinceEpoch: t0.nanosecondsSinceEpoch + Timestamp.nanosecondsPerDay)
        let later = try #require(Self.result(live.reconcile(BrokerSnapshot(brokerID: "live1"), requestID: "r3", peer: [1], time: tomorrow)))
        #expect(later.isClean, "\(later)")
    }
}

@Suite("Reconcile messages from a gateway")
struct ReconcileMessageTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func aSnapshotInTwoPartsIsAssembledInPartOrder() throws {
        let two = try GatewayMessages.reconcilePart(parse(#"""
            {"request_id": "r1", "broker_id": "Zerodha-1", "part": 2, "parts": 2,
             "executions": [{"exec_id": "T2", "broker_order_id": "B1", "symbol": "INFY", "exchange": "nse", "transaction_type": "SELL",
                             "fill_quantity": 3, "fill_price": 1500.05, "ts": "2026-11-24T10:00:00+05:30"}],
             "positions": [{"symbol": "INFY", "exchange": "NSE", "product": "CNC", "quantity": -3}]}
            """#)).get()
        let one = try GatewayMessages.reconcilePart(parse(#"""
            {"request_id": "r1", "broker_id": "zerodha-1", "part": 1, "parts": 2,
             "orders": [{"broker_order_id": "B1", "order_id": null, "status": "FILLED", "symbol": "INFY", "exchange": "NSE",
                         "transaction_type": "SELL", "quantity": 3, "filled_quantity": 3, "price": 1500}],
             "executions": [{"exec_id": "T1", "broker_order_id": "B0", "symbol": "INFY", "exchange": "NSE", "transaction_type": "BUY",
                             "fill_quantity": 1, "fill_price": 1499}]}
            """#)).get()
        #expect(two.brokerID == "zerodha-1" && two.snapshot.executions[0].exchange == "NSE")
        var assembly = ReconcileAssembly(requestID: "r1", brokerID: "zerodha-1")
        #expect(try assembly.add(two).get() == nil, "one part of two is not a snapshot yet")
        let whole = try #require(try assembly.add(one).get())
        #expect(whole.executions.map(\.execID) == ["T1", "T2"] && whole.orders.count == 1 && whole.positions[0].quantity == -3)
        #expect(whole.executions[1].price == FixedDecimal("1500.05") && whole.executions[1].signedQuantity == -3)
    }

    @Test func badSnapshotsAreRefusedNamingTheField() throws {
        let cases: [(String, String)] = [
            (#"{"broker_id": "b", "part": 1, "parts": 1}"#, "request_id"),
            (#"{"request_id": "r", "broker_id": "b", "part": 2, "parts": 1}"#, "part must not exceed parts"),
            (#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 1, "orders": {}}"#, "orders must be a list"),
            (#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 1, "orders": [{"broker_order_id": "x", "status": "DONE"}]}"#, "status"),
            (#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 1, "executions": [{"exec_id": "e", "broker_order_id": "x", "symbol": "A", "exchange": "NSE", "transaction_type": "BUY", "fill_quantity": 0, "fill_price": 1}]}"#, "fill_quantity"),
            (#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 1, "executions": [{"exec_id": "e", "broker_order_id": "x", "symbol": "A", "exchange": "NSE", "transaction_type": "BUY", "fill_quantity": 1, "fill_price": 1, "ts": "yesterday"}]}"#, "ts"),
            (#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 1, "positions": [{"symbol": "A", "exchange": "NSE", "quantity": 10000000000}]}"#, "quantity"),
        ]
        for (text, named) in cases {
            guard case .failure(let problem) = GatewayMessages.reconcilePart(try parse(text)) else { Issue.record("accepted: \(text)"); continue }
            #expect(problem.message.contains(named), "\(problem.message) should name \(named)")
        }
        var assembly = ReconcileAssembly(requestID: "r", brokerID: "b")
        _ = assembly.add(try GatewayMessages.reconcilePart(parse(#"{"request_id": "r", "broker_id": "b", "part": 1, "parts": 3}"#)).get())
        guard case .failure = assembly.add(try GatewayMessages.reconcilePart(parse(#"{"request_id": "r", "broker_id": "b", "part": 2, "parts": 2}"#)).get()) else {
            Issue.record("parts changing within a snapshot must be refused"); return
        }
    }

    @Test func aGatewayThatCannotReadItsBrokerSaysWhyAndTheSessionMessageIsStrict() throws {
        let part = try GatewayMessages.reconcilePart(parse(#"{"request_id": "r", "broker_id": "b", "error": "NetworkException: timed out"}"#)).get()
        #expect(part.error == "NetworkException: timed out")
        let expired = try GatewayMessages.session(parse(#"{"broker_id": "B", "status": "expired", "reason": "TokenException"}"#)).get()
        #expect(expired.brokerID == "b" && !expired.active && expired.reason == "TokenException")
        #expect(try GatewayMessages.session(parse(#"{"broker_id": "b", "status": "active"}"#)).get().active)
        guard case .failure(let problem) = GatewayMessages.session(try parse(#"{"broker_id": "b", "status": "gone"}"#)) else {
            Issue.record("an unknown status must be refused"); return
        }
        #expect(problem.message.contains("status"))
    }
}
