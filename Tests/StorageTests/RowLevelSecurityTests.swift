import Postgres
import Storage
import TestSupport
import Testing

/// Row-level security (migration 4): as the non-owner role `algotrader_app`, a user sees,
/// changes and deletes only their own rows in every user-owned table, and nothing at all with
/// no user set.
@Suite("Row-level security isolates users")
struct RowLevelSecurityTests {
    /// Every user-owned table and how to find the owner of its rows (as the superuser).
    static let tables: [(name: String, owner: String)] = [
        ("users", "user_id"),
        ("brokers", "user_id"),
        ("strategies", "user_id"),
        ("risk_settings", "user_id"),
        ("user_sessions", "user_id"),
        ("positions", "user_id"),
        ("halts", "user_id"),
        ("trades", "(SELECT s.user_id FROM strategies s WHERE s.strategy_id = x.strategy_id)"),
        ("strategy_performance", "(SELECT s.user_id FROM strategies s WHERE s.strategy_id = x.strategy_id)"),
        ("trade_logs", "(SELECT s.user_id FROM trades t JOIN strategies s USING (strategy_id) WHERE t.trade_id = x.trade_id)"),
        ("position_history", "(SELECT p.user_id FROM positions p WHERE p.position_id = x.position_id)"),
        ("backtest_runs", "user_id"),
        ("backtest_trades", "(SELECT r.user_id FROM backtest_runs r WHERE r.run_id = x.run_id)"),
        ("backtest_performance", "(SELECT r.user_id FROM backtest_runs r WHERE r.run_id = x.run_id)"),
    ]
    /// Written only by the replay command (the engine's role): the application role reads them.
    static let readOnly: Set<String> = ["halts", "backtest_runs", "backtest_trades", "backtest_performance"]

    static func seed(_ db: PostgresConnection, _ name: String) throws -> String {
        try SampleRows.userOwnedRows(db, username: name)
    }

    @Test func eachUserSeesChangesAndDeletesOnlyTheirOwnRowsInEveryUserOwnedTable() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let users = try ["alice", "bob", "carol"].map { try Self.seed(db, $0) }

        for (table, owner) in Self.tables {
            let total = Int(try db.query("SELECT count(*) FROM \(table)").scalar ?? "0")!
            #expect(total >= 3, "\(table) holds rows of all three users")
            for user in users {
                let mine = Int(try db.query("SELECT count(*) FROM \(table) x WHERE \(owner) = $1::uuid", [user]).scalar ?? "0")!
                #expect(mine >= 1)
                try UserScope.run(db, userID: user) { conn in
                    let seen = Int(try conn.query("SELECT count(*) FROM \(table)").scalar ?? "-1")!
                    #expect(seen == mine, "\(table): \(seen) rows visible, \(mine) are the user's")
                    // Qualifying on another user's rows finds nothing to read, change or delete.
                    let others = users.filter { $0 != user }
                    for other in others {
                        #expect(try conn.query("SELECT count(*) FROM \(table) x WHERE \(owner) = $1::uuid", [other]).scalar == "0")
                    }
                }
                if Self.readOnly.contains(table) {
                    // Not granted at all: a halt is lifted by an admin (`algotrader resume`), never by its
                    // user; a backtest is written by the replay alone.
                    #expect(throws: PostgresError.self) {
                        try UserScope.run(db, userID: user) { conn in try conn.query("UPDATE \(table) SET \(Self.touch(table))") }
                    }
                } else {
                    let updated = try UserScope.run(db, userID: user) { conn in
                        try conn.query("UPDATE \(table) x SET \(Self.touch(table)) WHERE \(owner) <> $1::uuid", [user]).affectedRows
                    }
                    #expect(updated == 0, "\(table): no other user's row updated")
                }
                if table == "users" || Self.readOnly.contains(table) {
                    #expect(throws: PostgresError.self, "\(table): DELETE is not granted to the application role at all") {
                        try UserScope.run(db, userID: user) { conn in try conn.query("DELETE FROM \(table)") }
                    }
                    continue
                }
                // DELETE in a transaction rolled back, so the next user still has rows to test.
                var deleted = -1
                do {
                    try UserScope.run(db, userID: user) { conn in
                        deleted = try conn.query("DELETE FROM \(table) x WHERE \(owner) <> $1::uuid", [user]).affectedRows
                        throw Rollback()
                    }
                } catch is Rollback {}
                #expect(deleted == 0, "\(table): no other user's row deleted")
            }
            let anonymous = try UserScope.run(db, userID: nil) { conn in try conn.query("SELECT count(*) FROM \(table)").scalar }
            #expect(anonymous == "0", "\(table): no rows with no user set")
        }
        // INSERT for another user is refused by the policy's WITH CHECK.
        for (table, sql) in [("brokers", "INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1::uuid, 'x', 'zerodha', '{}')"),
                             ("strategies", "INSERT INTO strategies (user_id, name, strategy_type) VALUES ($1::uuid, 'x', 'sma_crossover')"),
                             ("halts", "INSERT INTO halts (user_id, reason, source) VALUES ($1::uuid, 'x', 'operator')")] {
            #expect(throws: PostgresError.self, "\(table): a row for another user is refused") {
                try UserScope.run(db, userID: users[0]) { conn in try conn.query(sql, [users[1]]) }
            }
        }
        // The materialized view only through the filtered view.
        #expect(throws: PostgresError.self) {
            try UserScope.run(db, userID: users[0]) { conn in try conn.query("SELECT count(*) FROM daily_performance_summary") }
        }
        try UserScope.run(db, userID: users[0]) { conn in
            _ = try conn.query("SELECT count(*) FROM user_daily_performance")
        }
    }

    @Test func theAuditLogIsAppendOnlyAndTheApplicationRoleHasNoRightOnIt() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let user = try Self.seed(db, "dave")
        // The engine's audit path works inside a user's scope (migration 10); a direct INSERT does not.
        try UserScope.run(db, userID: user) { conn in
            try AuditLog.record(conn, actor: "test", action: .login, targetUserID: user)
        }
        for sql in ["INSERT INTO audit_log (actor, action) VALUES ('test', 'login')", "UPDATE audit_log SET action = 'x'",
                    "DELETE FROM audit_log", "TRUNCATE audit_log", "SELECT * FROM audit_log"] {
            #expect(throws: PostgresError.self, "\(sql) refused to the application role") {
                try UserScope.run(db, userID: user) { conn in try conn.execute(sql) }
            }
        }
        // Not even the owner changes history: the trigger refuses.
        #expect(throws: PostgresError.self) { try db.execute("UPDATE audit_log SET action = 'x'") }
        #expect(throws: PostgresError.self) { try db.execute("DELETE FROM audit_log") }
        #expect(try db.query("SELECT count(*) FROM audit_log").scalar == "1")
    }

    static func touch(_ table: String) -> String {
        switch table {
        case "users": "last_login = now()"
        case "halts": "reason = reason"
        case "trade_logs": "message = message"
        case "position_history": "pnl = pnl"
        case "backtest_runs", "backtest_trades": "symbol = symbol"
        case "backtest_performance": "total_trades = total_trades"
        case "user_sessions": "user_agent = 'x'"
        default: "updated_at = now()"
        }
    }

    struct Rollback: Error {}
}
