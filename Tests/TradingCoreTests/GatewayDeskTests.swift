import Foundation
import Testing
import TradingCore

@Suite("Trading desk with a live broker: gateway requests and execution reports")
struct GatewayDeskTests {
    let t0 = Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!

    func intent(_ side: OrderSide, _ quantity: Int64, at price: Int64, broker: String = "live1", stoploss: Int64? = nil,
                target: Int64? = nil) -> OrderIntent {
        OrderIntent(strategyID: "s1", userID: "u1", brokerID: broker, symbol: "RELIANCE", exchange: "NSE", side: side, quantity: quantity,
                    stoploss: stoploss.map { FixedDecimal($0) }, target: target.map { FixedDecimal($0) },
                    referencePrice: FixedDecimal(price), time: t0, reason: "test")
    }

    func liveDesk(seed: UInt64) -> TradingDesk {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: seed))
        desk.liveBrokers = ["live1"]
        desk.controls.algoID = "TEST-ALGO-1"
        desk.setConnectedBrokers(["live1"])
        return desk
    }

    static func requests(_ records: [DeskRecord]) -> [GatewayRequest] {
        records.compactMap { if case .gatewayRequest(let r) = $0 { return r } else { return nil } }
    }

    func report(_ kind: GatewayReport.Kind, _ orderID: String, exec: String? = nil, quantity: Int64? = nil, price: Int64? = nil) -> GatewayReport {
        GatewayReport(kind: kind, reportID: UUID().uuidString, orderID: orderID, execID: exec, quantity: quantity,
                      price: price.map { FixedDecimal($0) }, time: t0)
    }

    @Test func aLiveOrderIsPendingUntilTheGatewayAcceptsAndFillsIt() throws {
        var desk = liveDesk(seed: 1)
        let placed = desk.submit(intent(.buy, 10, at: 2450), now: t0)
        #expect(TradingDeskTests.events(placed).map { $0.order.state.status } == [.pending])
        let request = try #require(Self.requests(placed).first)
        #expect(request.kind == .new)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(request.json().utf8)) as? [String: Any])
        #expect(json["order_id"] as? String == request.order.orderID && json["broker_id"] as? String == "live1")
        #expect((json["reference_price"] as? NSNumber)?.intValue == 2450 && json["order_type"] as? String == "MARKET")
        #expect(desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0, price: FixedDecimal(2400))).isEmpty,
                "ticks do not fill a live order")
        let id = request.order.orderID
        let accepted = desk.onGatewayReport(report(.accepted, id))
        #expect(accepted.outcome == .applied)
        #expect(TradingDeskTests.events(accepted.records).map { $0.order.state.status } == [.open])
        let part = desk.onGatewayReport(report(.fill, id, exec: "e1", quantity: 4, price: 2451))
        #expect(TradingDeskTests.events(part.records).map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" }
                == ["fill:PARTIALLY_FILLED", "order:PARTIALLY_FILLED"])
        let again = desk.onGatewayReport(report(.fill, id, exec: "e1", quantity: 4, price: 2451))
        #expect(again.outcome == .duplicate && again.records.isEmpty, "a report seen twice changes nothing")
        let rest = desk.onGatewayReport(report(.fill, id, exec: "e2", quantity: 6, price: 2452))
        #expect(TradingDeskTests.events(rest.records).last?.order.state.status == .filled)
        #expect(TradingDeskTests.events(rest.records).last?.order.state.averagePrice == FixedDecimal("2451.6"))
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 10)
        let late = desk.onGatewayReport(report(.fill, id, exec: "e2", quantity: 6, price: 2452))
        #expect(late.outcome == .unknownOrder && late.records.isEmpty, "a repeat after the order completed changes nothing")
    }

    @Test func aFillBeforeTheAcceptedReportImpliesAcceptance() {
        var desk = liveDesk(seed: 2)
        let id = Self.requests(desk.submit(intent(.buy, 5, at: 100), now: t0))[0].order.orderID
        let fill = desk.onGatewayReport(report(.fill, id, exec: "x", quantity: 5, price: 100))
        #expect(TradingDeskTests.events(fill.records).map { "\($0.kind.rawValue):\($0.order.state.status.rawValue)" }
                == ["order:OPEN", "fill:FILLED", "order:FILLED"])
        let lateAccept = desk.onGatewayReport(report(.accepted, id))
        #expect(lateAccept.outcome == .unknownOrder)
    }

    @Test func aFillAboveTheOrderedQuantityIsRefused() {
        var desk = liveDesk(seed: 3)
        let id = Self.requests(desk.submit(intent(.buy, 5, at: 100), now: t0))[0].order.orderID
        let over = desk.onGatewayReport(report(.fill, id, exec: "x", quantity: 6, price: 100))
        guard case .refused = over.outcome else { Issue.record("expected refused, got \(over.outcome)"); return }
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 0)
    }

    @Test func cancelAndModifyOfALiveOrderAreRequestsAppliedOnTheReport() throws {
        var desk = liveDesk(seed: 4)
        let id = Self.requests(desk.submit(intent(.buy, 5, at: 100), now: t0))[0].order.orderID
        _ = desk.onGatewayReport(report(.accepted, id))
        let modify = Self.requests(desk.modify(orderID: id, quantity: 8, price: nil, triggerPrice: nil, time: t0))
        #expect(modify.map(\.kind) == [.modify])
        #expect(desk.workingOrder(id)?.state.quantity == 5, "unchanged until the gateway reports it")
        _ = desk.onGatewayReport(GatewayReport(kind: .modified, reportID: "m", orderID: id, quantity: 8, time: t0))
        #expect(desk.workingOrder(id)?.state.quantity == 8)
        let cancel = Self.requests(desk.cancel(orderID: id, reason: "operator", time: t0))
        #expect(cancel.map(\.kind) == [.cancel] && cancel[0].reason == "operator")
        #expect(desk.workingOrder(id)?.state.status == .open)
        let done = desk.onGatewayReport(GatewayReport(kind: .cancelled, reportID: "c", orderID: id, reason: "operator", time: t0))
        #expect(TradingDeskTests.events(done.records).map { $0.order.state.status } == [.cancelled])
        #expect(desk.workingOrder(id) == nil)
    }

    @Test func aBrokerWithoutAGatewayIsHaltedAndRejectsOrders() {
        var desk = liveDesk(seed: 5)
        desk.setConnectedBrokers([])
        let events = TradingDeskTests.events(desk.submit(intent(.buy, 5, at: 100), now: t0))
        #expect(events.map { $0.order.state.status } == [.rejected])
        #expect(events.first?.order.reason?.contains("no gateway connected") == true)
        let paper = TradingDeskTests.events(desk.submit(intent(.buy, 5, at: 100, broker: "paper1"), now: t0))
        #expect(paper.last?.order.state.status == .filled, "paper brokers are not affected")
    }

    @Test func bracketChildrenOfALiveEntryGoToTheGatewayAndOneCancelsTheOther() throws {
        var desk = liveDesk(seed: 6)
        let entry = Self.requests(desk.submit(intent(.buy, 10, at: 100, stoploss: 95, target: 110), now: t0))[0].order.orderID
        let filled = desk.onGatewayReport(report(.fill, entry, exec: "e", quantity: 10, price: 100))
        let children = Self.requests(filled.records)
        #expect(children.map(\.kind) == [.new, .new])
        #expect(children.map(\.order.intent.type) == [.stopLossMarket, .limit])
        #expect(children.allSatisfy { $0.order.parentOrderID == entry && $0.order.intent.side == .sell })
        let target = children[1].order.orderID, stop = children[0].order.orderID
        let hit = desk.onGatewayReport(report(.fill, target, exec: "t", quantity: 10, price: 110))
        let cancels = Self.requests(hit.records)
        #expect(cancels.map(\.kind) == [.cancel] && cancels.first?.order.orderID == stop, "one-cancels-other asks the gateway")
        #expect(desk.position(userID: "u1", symbol: "RELIANCE", exchange: "NSE") == 0)
    }

    @Test func aHaltAsksTheGatewayToCancelWorkingLiveOrders() {
        var desk = liveDesk(seed: 7)
        let id = Self.requests(desk.submit(intent(.buy, 5, at: 100), now: t0))[0].order.orderID
        _ = desk.onGatewayReport(report(.accepted, id))
        let cancels = Self.requests(desk.setHalts(users: ["u1"], engine: false, time: t0))
        #expect(cancels.map(\.kind) == [.cancel] && cancels[0].order.orderID == id)
    }

    @Test func aPaperOrderIsModifiedAtOnceWithAnOrderEvent() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 8))
        let placed = desk.submit(OrderIntent(strategyID: "s1", userID: "u1", brokerID: "p", symbol: "RELIANCE", exchange: "NSE", side: .buy,
                                             type: .limit, quantity: 5, limitPrice: FixedDecimal(99), referencePrice: FixedDecimal(100),
                                             time: t0, reason: "test"), now: t0)
        let id = TradingDeskTests.events(placed)[0].order.orderID
        let modified = TradingDeskTests.events(desk.modify(orderID: id, quantity: nil, price: FixedDecimal(97), triggerPrice: nil, time: t0))
        #expect(modified.count == 1 && modified[0].order.state.price == FixedDecimal(97) && modified[0].order.reason == "modified")
        #expect(desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: t0, price: FixedDecimal(98))).isEmpty)
        let refused = desk.modify(orderID: id, quantity: 0, price: nil, triggerPrice: nil, time: t0)
        #expect(refused.isEmpty, "a quantity not above the filled is refused")
    }

    @Test func flattenCancelsWorkingOrdersAndClosesEveryPositionEvenWhenHalted() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 10))
        func paper(_ side: OrderSide, _ q: Int64, _ symbol: String, _ price: Int64, type: OrderType = .market, limit: Int64? = nil) -> OrderIntent {
            OrderIntent(strategyID: "s1", userID: "u1", brokerID: "p", symbol: symbol, exchange: "NSE", side: side, type: type, quantity: q,
                        limitPrice: limit.map { FixedDecimal($0) }, referencePrice: FixedDecimal(price), time: t0, reason: "test")
        }
        _ = desk.submit(paper(.buy, 10, "A", 100), now: t0)
        _ = desk.submit(paper(.sell, 4, "B", 50), now: t0)
        _ = desk.submit(paper(.buy, 1, "A", 100, type: .limit, limit: 90), now: t0)
        _ = desk.onTick(Tick(symbol: "A", exchange: "NSE", timestamp: t0, price: FixedDecimal(104)))
        _ = desk.setHalts(users: ["u1"], engine: false, time: t0)
        let (result, records) = desk.flatten(userID: "u1", time: t0)
        #expect(result.closingOrders == 2 && result.skipped.isEmpty)
        let fills = TradingDeskTests.events(records).filter { $0.kind == .fill }
        #expect(fills.map { "\($0.order.intent.symbol):\($0.order.intent.side.rawValue):\($0.fillQuantity ?? 0):\($0.fillPrice!)" }
                == ["A:SELL:10:104", "B:BUY:4:50"], "closed at the last traded prices although the user is halted")
        #expect(desk.position(userID: "u1", symbol: "A", exchange: "NSE") == 0 && desk.position(userID: "u1", symbol: "B", exchange: "NSE") == 0)
    }

    @Test func aStrategysFlattenClosesOnlyThePositionsItLastTradedAndCancelsOnlyItsOrders() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 12))
        func paper(_ strategy: String, _ side: OrderSide, _ q: Int64, _ symbol: String, type: OrderType = .market, limit: Int64? = nil) -> OrderIntent {
            OrderIntent(strategyID: strategy, userID: "u1", brokerID: "p", symbol: symbol, exchange: "NSE", side: side, type: type, quantity: q,
                        limitPrice: limit.map { FixedDecimal($0) }, referencePrice: FixedDecimal(100), time: t0, reason: "test")
        }
        _ = desk.submit(paper("s1", .buy, 10, "A"), now: t0)
        _ = desk.submit(paper("s2", .buy, 3, "B"), now: t0)
        _ = desk.submit(paper("s1", .buy, 1, "B", type: .limit, limit: 90), now: t0)
        _ = desk.submit(paper("s2", .buy, 1, "A", type: .limit, limit: 90), now: t0)
        let (result, records) = desk.flatten(userID: "u1", strategyID: "s1", time: t0)
        #expect(result.closingOrders == 1 && result.cancelRequests == 1, "\(result)")
        let events = TradingDeskTests.events(records)
        #expect(events.filter { $0.kind == .fill }.map { "\($0.order.intent.strategyID):\($0.order.intent.symbol):\($0.order.intent.side.rawValue)" }
                == ["s1:A:SELL"])
        #expect(events.filter { $0.order.state.status == .cancelled }.map(\.order.intent.strategyID) == ["s1"])
        #expect(desk.position(userID: "u1", symbol: "A", exchange: "NSE") == 0 && desk.position(userID: "u1", symbol: "B", exchange: "NSE") == 3,
                "s2's position in B stays")
    }
}

@Suite("Trading desk halts a silent exchange")
struct SilentExchangeDeskTests {
    @Test func ordersOnASilentExchangeAreRejectedOthersPass() {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 11))
        desk.haltedExchanges = ["NSE"]
        let t = Timestamp(nanosecondsSinceEpoch: 1_000)
        func intent(_ exchange: String) -> OrderIntent {
            OrderIntent(strategyID: "s", userID: "u", brokerID: "b", symbol: "X", exchange: exchange, side: .buy, quantity: 1,
                        referencePrice: FixedDecimal(10), time: t, reason: "test")
        }
        let nse = TradingDeskTests.events(desk.submit(intent("NSE"), now: t))
        #expect(nse.first?.order.reason == "halted: the NSE feed is silent")
        #expect(TradingDeskTests.events(desk.submit(intent("BSE"), now: t)).last?.order.state.status == .filled)
    }
}
