import Foundation
import Postgres
import Storage
import TestSupport
import Testing
import TradingCore

/// A reconciliation's outcome is stored with its round (docs/protocol.md, "Reconciliation").
/// Failed before migration 16: `halts.breach` refused 'reconcile', so the halt and its log went to
/// quarantine and the strategies traded again after a restart.
@Suite("Reconciliation outcomes in PostgreSQL")
struct ReconciliationStoreTests {
    @Test func aDifferenceHaltsTheBrokersStrategiesDurablyWithItsLogAndAudit() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        var result = Reconciliation(brokerID: ids.brokerID, requestID: "r1")
        result.differences = ["NSE:RELIANCE: the broker holds 5, the engine 0"]
        let store = OrderRoundStore(connectionString: url)
        defer { store.close() }
        try store.apply(OrderRound(records: [.reconciliation(result, peer: [1, 2])], firstSeq: try store.nextSeq(),
                                   roundID: UUID().uuidString.lowercased()), deduplicate: false)

        #expect(try db.query("SELECT count(*) FROM quarantine").scalar == "0")
        let halt = try db.query("SELECT breach, source, created_by, reason FROM halts WHERE strategy_id = $1::uuid AND resumed_at IS NULL",
                                [ids.strategyID]).rows
        #expect(halt.count == 1 && halt[0][0] == "reconcile" && halt[0][1] == "breach" && halt[0][2] == "reconcile"
                && halt[0][3]?.contains("the broker holds 5") == true, "\(halt)")
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND log_level = 'ERROR'").scalar == "1")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE actor = 'engine:reconcile' AND action = 'halt'").scalar == "1")

        // A clean one is logged and halts nothing more.
        let clean = Reconciliation(brokerID: ids.brokerID, requestID: "r2")
        try store.apply(OrderRound(records: [.reconciliation(clean, peer: [1, 2])], firstSeq: try store.nextSeq(),
                                   roundID: UUID().uuidString.lowercased()), deduplicate: false)
        #expect(try db.query("SELECT count(*) FROM system_logs WHERE component = 'reconcile' AND log_level = 'INFO'").scalar == "1")
        #expect(try db.query("SELECT count(*) FROM halts").scalar == "1")
    }
}
