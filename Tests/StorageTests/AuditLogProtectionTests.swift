import Foundation
import Postgres
import Storage
import TestSupport
import Testing
import TradingCore

/// The audit log (migration 10): no role writes the table; the engine appends through
/// `audit_log_append`, which the application role (the web's login) may not call, and the
/// daemon's login needs no ownership for anything else it does.
@Suite("Audit log protection and the runtime login")
struct AuditLogProtectionTests {
    static let appendCall = "SELECT audit_log_append('forger', NULL, 'login', NULL, NULL, '{}', NULL)"

    static func auditRows(_ db: PostgresConnection) throws -> Int {
        Int(try db.query("SELECT count(*) FROM audit_log").scalar ?? "-1")!
    }

    @Test func theApplicationRoleCanNeitherInsertAuditRowsNorCallTheAuditFunction() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let user = try SampleRows.userStrategyBrokerTrade(db, username: "mallory").userID
        // Under a superuser, SET ROLE algotrader_app (what UserScope does).
        for sql in ["INSERT INTO audit_log (actor, action) VALUES ('forger', 'login')", Self.appendCall] {
            #expect(throws: PostgresError.self, "\(sql) as algotrader_app") {
                try UserScope.run(db, userID: user) { conn in try conn.execute(sql) }
            }
        }
        // The web's login: a member of algotrader_app only. It cannot write the table, call the
        // function, or switch to the engine's role the way AuditLog.record does for the daemon.
        let web = try TestDatabase.connect(try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_app"], prefix: "web"))
        for sql in ["INSERT INTO audit_log (actor, action) VALUES ('forger', 'login')", Self.appendCall, "SET ROLE algotrader_engine",
                    "UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log", "SELECT count(*) FROM audit_log",
                    "ALTER TABLE audit_log DISABLE TRIGGER ALL"] {
            #expect(throws: PostgresError.self, "\(sql) as the web's login") { try web.execute(sql) }
            #expect(throws: PostgresError.self, "\(sql) as the web's login in a user's scope") {
                try UserScope.run(web, userID: user) { conn in try conn.execute(sql) }
            }
        }
        #expect(throws: PostgresError.self, "AuditLog.record from the web's login") {
            try UserScope.run(web, userID: user) { conn in try AuditLog.record(conn, actor: "web:mallory", action: .login) }
        }
        #expect(try Self.auditRows(db) == 0, "no row was forged")
    }

    @Test func auditRecordAppendsOnThePlainConnectionAndInsideAUserScopeAndLeavesTheUsersRoleInPlace() throws {
        let url = try TestDatabase.makeMigrated()
        let owner = try TestDatabase.connect(url)
        let alice = try SampleRows.userStrategyBrokerTrade(owner, username: "alice").userID
        _ = try SampleRows.userStrategyBrokerTrade(owner, username: "bob")
        let runtime = try TestDatabase.connect(try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt"))
        try AuditLog.record(runtime, actor: "engine", action: .halt, target: "engine")
        let after = try UserScope.run(runtime, userID: alice) { conn -> (String?, String?) in
            try AuditLog.record(conn, actor: "ctl:alice", actorUserID: alice, action: .strategyStopped, targetUserID: alice)
            // Still the application role, still filtered to alice's rows.
            return (try conn.query("SELECT current_user").scalar, try conn.query("SELECT count(*) FROM users").scalar)
        }
        #expect(after.0 == "algotrader_app" && after.1 == "1")
        // Over-long caller text is clipped, never refused: the row is still written.
        let long = String(repeating: "x", count: 5_000)
        try AuditLog.record(runtime, actor: "ctl:" + long, action: .loginFailed, target: long,
                            details: "{\"reason\":\"" + String(repeating: "y", count: 70_000) + "\"}")
        let rows = try owner.query("SELECT actor, action, length(actor), length(target), details->>'clipped' FROM audit_log ORDER BY audit_id").rows
        #expect(rows.map { $0[1]! } == ["halt", "strategy_stopped", "login_failed"])
        #expect(rows[2][2].flatMap { Int($0) }! <= 256 && rows[2][3].flatMap { Int($0) }! <= 1024 && rows[2][4] == "true")
        // The function validates what it can, whoever calls it.
        for call in ["SELECT audit_log_append('', NULL, 'login', NULL, NULL, '{}', NULL)",
                     "SELECT audit_log_append('x', NULL, 'Not An Action', NULL, NULL, '{}', NULL)",
                     "SELECT audit_log_append('x', NULL, 'login', NULL, NULL, '[1]', NULL)",
                     "SELECT audit_log_append(repeat('a', 300), NULL, 'login', NULL, NULL, '{}', NULL)"] {
            #expect(throws: PostgresError.self, "\(call)") { try runtime.execute(call) }
        }
    }

    @Test func theRuntimeLoginCannotChangeTheAuditLogOrItsTriggers() throws {
        let url = try TestDatabase.makeMigrated()
        let owner = try TestDatabase.connect(url)
        let runtime = try TestDatabase.connect(try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt"))
        try AuditLog.record(runtime, actor: "engine", action: .halt, target: "engine")
        for sql in ["INSERT INTO audit_log (actor, action) VALUES ('forger', 'login')", "UPDATE audit_log SET actor = 'x'",
                    "DELETE FROM audit_log", "TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_update ON audit_log",
                    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
                    "CREATE TRIGGER forge BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                    "SET session_replication_role = replica", "ALTER TABLE audit_log OWNER TO CURRENT_USER"] {
            #expect(throws: PostgresError.self, "\(sql) as the runtime login") { try runtime.execute(sql) }
        }
        #expect(try owner.query("SELECT string_agg(tgenabled::text, '' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass").scalar == "AA",
                "both append-only triggers fire always")
        #expect(try Self.auditRows(owner) == 1)
    }

    @Test func theRuntimeLoginRunsMaintenanceTheViewRefreshAndIdempotentTickWritesWithoutOwningAnything() throws {
        let url = try TestDatabase.makeMigrated()
        let owner = try TestDatabase.connect(url)
        // Old tick partitions (the owner's, as a daemon before migration 10 made them), one old tick.
        try owner.query("SELECT market_data_ensure_partitions(now() - interval '40 days', now() - interval '35 days')")
        try owner.query(#"""
            INSERT INTO market_data (symbol, exchange, "interval", "timestamp", open, high, low, close, volume)
            VALUES ('INFY', 'NSE', 'tick', now() - interval '38 days', 1, 1, 1, 1, 1)
            """#)
        let runtimeURL = try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt")
        let runtime = try TestDatabase.connect(runtimeURL)
        let report = try Maintenance().run(runtime)
        #expect(report.tickPartitionsOrRowsDropped >= 5, "old tick partitions dropped by the runtime login's maintenance")
        let partitions = try owner.query("""
            SELECT count(*), count(*) FILTER (WHERE pg_get_userbyid(c.relowner) <> current_user)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'market_data_tick'::regclass
            """).rows[0]
        #expect(Int(partitions[0]!)! >= 8, "partitions made a week ahead")
        #expect(partitions[1] == "0", "every partition belongs to the schema owner, not to the runtime login")
        try Maintenance.refreshDailyPerformance(runtime)

        // Ticks through the writer, both paths (the second the TEMP staging table's).
        let writer = MarketDataWriter(connectionString: runtimeURL)
        defer { writer.close() }
        let now = Timestamp(nanosecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1e9))
        let ticks = RecordedSession.ticks(start: now.adding(nanoseconds: -3_600_000_000_000), count: 200)
        let batch = try #require(writer.prepare(ticks[...], now: now))
        #expect(try writer.write(batch, afterUnknownOutcome: false).stored == 200)
        #expect(try writer.write(batch, afterUnknownOutcome: true).stored == 0, "written again: nothing twice")
        let newest = try #require(ticks.map(\.timestamp).max())
        let later = try #require(writer.prepare(ticks[...].prefix(10), now: newest.adding(nanoseconds: 1_000_000)))
        #expect(try writer.write(later, afterUnknownOutcome: true).stored == 10)
        #expect(try owner.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar == "210")
        // Owner-made partitions are not the runtime login's to drop.
        let partition = try #require(try owner.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'market_data_tick'::regclass ORDER BY c.relname DESC LIMIT 1
            """).scalar)
        #expect(throws: PostgresError.self) { try runtime.execute("DROP TABLE \(partition)") }
    }

    @Test func migrationTenKeepsEveryAuditRowAndIsSafeToRunAgain() throws {
        let ownerURL = try TestDatabase.makeEmptyOwnedByLogin()
        let db = try TestDatabase.connect(ownerURL)
        try Migrator(migrations: Array(Migration.all.prefix { $0.version < 10 })).migrate(db)
        // Rows as the code before migration 10 wrote them: plain INSERTs.
        try db.execute("""
            INSERT INTO audit_log (actor, action, target, details, peer) VALUES
                ('cli:root', 'user_added', NULL, '{"username":"a"}', NULL),
                ('ctl:a', 'login', NULL, '{}', '127.0.0.1'),
                ('engine:risk', 'halt', 'user', '{"reason":"daily loss"}', NULL)
            """)
        let snapshot = "SELECT audit_id, occurred_at, actor, actor_user_id, action, target_user_id, target, details::text, peer FROM audit_log ORDER BY audit_id"
        let before = try db.query(snapshot).rows
        #expect(before.count == 3)
        #expect(try Migrator().migrate(db).first == 10, "migration 10 (and any after it) applied")
        #expect(try db.query(snapshot).rows == before, "every row kept as it was")
        // The migration's text again, as a whole (what a re-run would do): still fine, rows kept.
        let v10 = try #require(Migration.all.first { $0.version == 10 })
        try db.transaction { conn in try conn.execute(v10.sql) }
        #expect(try db.query(snapshot).rows == before)
        try AuditLog.record(db, actor: "cli:root", action: .keysRotated)
        #expect(try db.query("SELECT count(*), max(audit_id) > $1::bigint FROM audit_log", [before[2][0]]).rows[0] == ["4", "t"])
    }

    @Test func migrateAsTheRuntimeLoginIsANoOpOnACurrentSchemaAndPendingMigrationsNameTheOwner() throws {
        let current = try TestDatabase.makeMigrated()
        let runtime = try TestDatabase.connect(try TestDatabase.makeLogin(for: current, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt"))
        #expect(try Migrator().migrate(runtime).isEmpty, "what the unit's ExecStartPre does before serve")

        let ownerURL = try TestDatabase.makeEmptyOwnedByLogin()
        try Migrator(migrations: Array(Migration.all.prefix { $0.version < 10 })).migrate(try TestDatabase.connect(ownerURL))
        let behind = try TestDatabase.connect(try TestDatabase.makeLogin(for: ownerURL, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt"))
        #expect {
            try Migrator().migrate(behind)
        } throws: { error in
            guard case MigrationError.failed(10, _, _) = error else { return false }
            return "\(error)".contains("the login that owns the schema")
        }
    }
}
