import Engine
import Foundation
import Logging
import Postgres
import TestSupport
import Testing
import TradingCore
import ZeroMQ

/// Text from outside (a strategy's reason, a broker's rejection) reaches `trades`, `trade_logs`
/// and the bus only through the JSON writer and query parameters: whatever it holds comes back
/// equal, never spliced into JSON or SQL.
@Suite("Text round trips: the database and the bus give back what went in")
struct TextRoundTripTests {
    static let awkward = "exit \"now\" \\ C:\\path\nsecond line\tafter a tab — निफ्टी ₹2,450 ✓"

    @Test func anOrdersReasonsWithQuotesBackslashesControlsAndNonASCIIComeBackEqualFromTheDatabaseAndTheBus() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "texts")
        let context = try ZMQContext()
        let endpoint = "inproc://texts-bus"
        let writer = EventWriter(connectionString: url, endpoint: endpoint, context: context, logger: Logger(label: "test"))
        try writer.start()
        defer { writer.stop() }
        let subscriber = try ZMQSocket(context: context, type: .sub)
        try subscriber.connect(endpoint)
        try subscriber.subscribe("")
        try subscriber.setReceiveTimeout(milliseconds: 10_000)
        Thread.sleep(forTimeInterval: 0.3)  // the subscription reaches the publisher

        // A live order (its broker's gateway connected) with the strategy's reason, rejected by
        // the broker with a reason of its own: both texts are the awkward one.
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 5))
        desk.liveBrokers = [ids.brokerID]
        desk.setConnectedBrokers([ids.brokerID])
        desk.sessionActions = false  // any time of day (no MIS cut-off)
        let now = SystemClock().now()
        _ = desk.advance(to: now)
        let intent = OrderIntent(strategyID: ids.strategyID, userID: ids.userID, brokerID: ids.brokerID, symbol: "RELIANCE", exchange: "NSE",
                                 side: .buy, quantity: 1, referencePrice: FixedDecimal(2_450), time: now, reason: Self.awkward)
        let placed = desk.submit(intent, now: now)
        let orderID = try #require(placed.compactMap { if case .order(let o) = $0 { o.orderID } else { nil } }.first)
        let rejected = desk.onGatewayReport(GatewayReport(kind: .rejected, reportID: "r1", orderID: orderID, reason: Self.awkward, time: now)).records
        writer.enqueue(placed.filter { if case .gatewayRequest = $0 { false } else { true } })
        writer.enqueue(rejected)

        var last: JSONValue?
        while let frames = try subscriber.receive(), frames.count >= 2 {
            let event = try JSONValue.parse(frames[1])
            if event["order_id"]?.stringValue == orderID { last = event }
            if event["status"]?.stringValue == "REJECTED" { break }
        }
        #expect(last?["status"]?.stringValue == "REJECTED")
        #expect(last?["reason"]?.stringValue == Self.awkward, "the bus: \(String(describing: last))")

        let row = try db.query("SELECT status, metadata->>'reason', metadata->>'intent' FROM trades WHERE order_id = $1", [orderID]).rows
        #expect(row == [["REJECTED", Self.awkward, Self.awkward]])
        let logs = try db.query("""
            SELECT message FROM trade_logs l JOIN trades t USING (trade_id) WHERE t.order_id = $1 ORDER BY l.log_id
            """, [orderID]).rows.compactMap { $0[0] }
        #expect(logs.contains("sent to gateway: " + Self.awkward) && logs.contains("rejected by the broker: " + Self.awkward), "\(logs)")
    }
}
