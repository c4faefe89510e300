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
}
