import Foundation
import Logging
import Engine
import Postgres
import TestSupport
import Testing
import TradingCore
import ZeroMQ

@Suite("Breach halts stored with their audit row")
struct EventWriterHaltTests {
    @Test func aRiskBreachHaltIsStoredOnceAndAuditedAsTheEngines() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "breach")
        let context = try ZMQContext()
        let writer = EventWriter(connectionString: url, endpoint: "inproc://breach-bus", context: context, logger: Logger(label: "test"))
        try writer.start()
        writer.enqueue([.halt(userID: ids.userID, reason: "daily_loss_limit breached")])
        writer.enqueue([.halt(userID: ids.userID, reason: "daily_loss_limit breached again")])
        writer.stop()
        #expect(try db.query("SELECT count(*) FROM halts WHERE user_id = $1::uuid AND source = 'breach' AND resumed_at IS NULL", [ids.userID]).scalar == "1",
                "one active halt however many breaches")
        let audit = try db.query("SELECT actor, action, details->>'reason' FROM audit_log WHERE target_user_id = $1::uuid", [ids.userID]).rows
        #expect(audit.count == 1)
        #expect(audit.first == ["engine:risk", "halt", "daily_loss_limit breached"])
    }

    @Test func aBreakersStrategyHaltIsStoredAndTheNextDaysStartLiftsOnlyTheBreachesItNames() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "breaker")
        let other = try SampleRows.userStrategyBrokerTrade(db, username: "drawdown")
        let context = try ZMQContext()
        let writer = EventWriter(connectionString: url, endpoint: "inproc://breaker-bus", context: context, logger: Logger(label: "test"))
        try writer.start()
        writer.enqueue([.halt(userID: ids.userID, reason: "daily loss 120 reached the limit 100"),
                        .halt(userID: other.userID, reason: "drawdown from the equity peak reached 10%"),
                        .strategyHalt(strategyID: ids.strategyID, userID: ids.userID, reason: "strategy loss 50 reached its max_loss 50",
                                      breach: "strategy_loss")])
        writer.enqueue([.strategyHalt(strategyID: other.strategyID, userID: other.userID, reason: "breaker: 60 order messages for 2 intents",
                                      breach: "order_ratio")])
        writer.stop()
        let halts = try db.query("SELECT breach, strategy_id IS NOT NULL FROM halts WHERE resumed_at IS NULL ORDER BY breach").rows
        #expect(halts == [["daily_loss", "f"], ["drawdown", "f"], ["order_ratio", "t"], ["strategy_loss", "t"]])

        let next = try ZMQContext()
        let dayWriter = EventWriter(connectionString: url, endpoint: "inproc://day-bus", context: next, logger: Logger(label: "test"))
        try dayWriter.start()
        let tomorrow = Timestamp(nanosecondsSinceEpoch: SystemClock().now().nanosecondsSinceEpoch + 86_400_000_000_000)
        // The default day start lifts a strategy's own loss halt; the user's daily loss halt waits
        // for an admin (CONTRACT.md section 5).
        dayWriter.enqueue([.dayStart(day: SessionCalendar.istDay(tomorrow), time: tomorrow, lifting: ["strategy_loss"])])
        dayWriter.enqueue([.dayStart(day: SessionCalendar.istDay(tomorrow), time: tomorrow, lifting: ["strategy_loss"])])
        dayWriter.stop()
        #expect(try db.query("SELECT breach FROM halts WHERE resumed_at IS NULL ORDER BY breach").rows
                == [["daily_loss"], ["drawdown"], ["order_ratio"]], "only the strategy loss halt is lifted, once")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE actor = 'engine:day-start' AND action = 'resume'").scalar == "1")

        // Configured to (controls.lift_daily_loss_halts_at_day_start), it lifts daily loss halts too.
        let third = try ZMQContext()
        let liftingWriter = EventWriter(connectionString: url, endpoint: "inproc://day-bus-2", context: third, logger: Logger(label: "test"))
        try liftingWriter.start()
        liftingWriter.enqueue([.dayStart(day: SessionCalendar.istDay(tomorrow), time: tomorrow, lifting: ["daily_loss", "strategy_loss"])])
        liftingWriter.stop()
        #expect(try db.query("SELECT breach FROM halts WHERE resumed_at IS NULL ORDER BY breach").rows == [["drawdown"], ["order_ratio"]],
                "never drawdown or order-ratio halts")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE actor = 'engine:day-start' AND action = 'resume'").scalar == "2")
    }
}
