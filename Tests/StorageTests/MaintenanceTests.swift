import Postgres
import Storage
import TestSupport
import Testing

@Suite("Maintenance jobs: retention, 1min rollup, partitions ahead")
struct MaintenanceTests {
    @Test func oldRowsGoNewRowsStayAndOneMinuteBarsGoOnlyUnderAStoredFiveMinuteBar() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "maint")
        try db.query("SELECT market_data_ensure_partitions(now() - interval '120 days', now())")
        func bar(_ interval: String, _ age: String, _ symbol: String = "INFY") throws {
            try db.query(#"""
                INSERT INTO market_data (symbol, exchange, "interval", "timestamp", open, high, low, close, volume)
                VALUES ($1, 'NSE', $2, date_trunc('hour', now()) - $3::interval, 1, 1, 1, 1, 1)
                """#, [symbol, interval, age])
        }
        try bar("tick", "40 days")
        try bar("tick", "1 day")
        try bar("5min", "100 days")                   // covers the first old 1min bar
        try bar("1min", "100 days")                   // under a 5min bar: goes
        try bar("1min", "100 days", "TCS")            // no 5min bar: stays
        try bar("1min", "10 days")                    // recent: stays
        try db.query("INSERT INTO system_logs (component, log_level, message, created_at) VALUES ('t', 'INFO', 'old', now() - interval '100 days'), ('t', 'INFO', 'new', now())")
        try db.query("INSERT INTO trade_logs (trade_id, log_level, message, created_at) VALUES ($1::uuid, 'INFO', 'old', now() - interval '400 days'), ($1::uuid, 'INFO', 'new', now())",
                     [ids.tradeID])
        try db.query("INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES ($1::uuid, 'a', now() - interval '3 days'), ($1::uuid, 'b', now() + interval '1 hour')",
                     [ids.userID])

        let report = try Maintenance().run(db)
        #expect(report.tickPartitionsOrRowsDropped >= 1)
        #expect(try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar == "1", "the 40-day-old tick is gone")
        #expect(try db.query(#"SELECT symbol || ':' || (now() - "timestamp" > interval '50 days') FROM market_data WHERE "interval" = '1min' ORDER BY 1"#)
                    .rows.map { $0[0]! } == ["INFY:false", "TCS:true"])
        #expect(report.oneMinuteBarsDeleted == 1)
        #expect(try db.query("SELECT message FROM system_logs WHERE component = 't'").rows.map { $0[0]! } == ["new"])
        #expect(try db.query("SELECT message FROM trade_logs WHERE trade_id = $1::uuid", [ids.tradeID]).rows.map { $0[0]! } == ["new"])
        #expect(try db.query("SELECT token_hash FROM user_sessions WHERE user_id = $1::uuid", [ids.userID]).rows.map { $0[0]! } == ["b"])
        // Partitions a week ahead exist (native layout; TimescaleDB makes its own chunks).
        if try db.query("SELECT layout FROM market_data_layout").scalar == "native" {
            let ahead = try db.query("""
                SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'market_data_tick'::regclass
                  AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz > now() + interval '6 days'
                """).scalar
            #expect(Int(ahead ?? "0")! >= 1)
        }
        #expect(try Maintenance().run(db) == Maintenance.Report(), "a second run finds nothing to do")
    }
}
