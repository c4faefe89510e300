import Postgres
import Storage
import TestSupport
import Testing

@Suite("Schema migrations on a real PostgreSQL")
struct MigratorTests {
    @Test func migrateCreatesAllSeedTablesAndASecondRunIsANoOp() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        let first = try Migrator().migrate(db)
        #expect(first == Migration.all.map(\.version))
        let second = try Migrator().migrate(db)
        #expect(second.isEmpty)
        let tables = try db.query("""
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[])
            """, ["{users,brokers,strategies,risk_settings,user_sessions,market_data,indicator_values,trades,positions,position_history,trade_logs,strategy_performance,system_logs}"])
        #expect(tables.scalar == "13")
        #expect(try Migrator().check(db) == .init(databaseVersion: Migration.latestVersion, binaryVersion: Migration.latestVersion))
    }

    @Test func seedTriggersFunctionsAndMaterializedViewExist() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let triggers = try db.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1").rows.compactMap { $0[0] }
        for name in ["update_users_updated_at", "update_brokers_updated_at", "update_strategies_updated_at",
                     "update_risk_settings_updated_at", "update_trades_updated_at", "update_positions_updated_at",
                     "update_strategy_performance_updated_at", "calculate_position_pnl_trigger"] {
            #expect(triggers.contains(name), "trigger \(name)")
        }
        let functions = try db.query("SELECT proname FROM pg_proc WHERE proname IN ('update_updated_at_column', 'calculate_position_pnl')")
        #expect(functions.rows.count == 2)
        #expect(try db.query("SELECT relkind FROM pg_class WHERE relname = 'daily_performance_summary'").scalar == "m")
        #expect(try db.query("SELECT ispopulated FROM pg_matviews WHERE matviewname = 'daily_performance_summary'").scalar == "t")
        #expect(try db.query("SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_daily_performance_summary_unique'").scalar == "1")
        // The view refreshes concurrently, which needs the unique index.
        try db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY daily_performance_summary")
    }

    @Test func editedAppliedMigrationIsRefusedByName() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        var edited = Migration.all
        edited[0] = Migration(version: 1, name: edited[0].name, sql: edited[0].sql + "\n-- edited")
        #expect {
            try Migrator(migrations: edited).migrate(db)
        } throws: { error in
            guard case MigrationError.checksumMismatch(let version, _) = error else { return false }
            return version == 1
        }
    }

    @Test func databaseNewerThanBinaryIsRefused() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        try db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')")
        #expect {
            try Migrator().check(db)
        } throws: { error in
            if case MigrationError.databaseNewer(999, Migration.latestVersion) = error { return true }
            return false
        }
    }

    @Test func emptyDatabaseFailsTheServeCheckAsOlder() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeEmpty())
        #expect {
            try Migrator().check(db)
        } throws: { error in
            if case MigrationError.databaseOlder(0, _) = error { return true }
            return false
        }
    }

    @Test func failingMigrationRollsBackEntirely() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let broken = Migration.all + [Migration(version: Migration.latestVersion + 1, name: "broken",
                                                sql: "CREATE TABLE half_done (x int); SELECT 1/0;")]
        #expect(throws: MigrationError.self) { try Migrator(migrations: broken).migrate(db) }
        #expect(try db.query("SELECT to_regclass('half_done') IS NULL").scalar == "t")
        #expect(try db.query("SELECT max(version) FROM schema_migrations").scalar == String(Migration.latestVersion))
    }

    @Test func positionPnLTriggerFiresOnInsertAndOnQuantityChange() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        try db.query("""
            INSERT INTO positions (trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price, current_price, status, opened_at)
            VALUES ($1, $2, 'USDINR', 'CDS', 'FUT', -1000, 83.2525, 83.2500, 'OPEN', now())
            """, [ids.tradeID, ids.userID])
        #expect(try db.query("SELECT unrealized_pnl FROM positions").scalar == "2.5000", "short gains as price falls; exact at 4 decimals")
        try db.query("UPDATE positions SET quantity = -2000")
        #expect(try db.query("SELECT unrealized_pnl FROM positions").scalar == "5.0000")
        try db.query("UPDATE positions SET current_price = 83.2600")
        #expect(try db.query("SELECT unrealized_pnl FROM positions").scalar == "-15.0000")
    }

    @Test func atMostOneOpenPositionPerUserSymbolExchange() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        let insert = """
            INSERT INTO positions (trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price, status, opened_at)
            VALUES ($1, $2, 'INFY', 'NSE', 'EQ', 10, 1500, $3, now())
            """
        try db.query(insert, [ids.tradeID, ids.userID, "CLOSED"])
        try db.query(insert, [ids.tradeID, ids.userID, "OPEN"])
        #expect(throws: PostgresError.self) { try db.query(insert, [ids.tradeID, ids.userID, "PARTIALLY_CLOSED"]) }
    }

    @Test func updatedAtTriggerMovesOnUpdate() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        try db.query("INSERT INTO users (username, email, password_hash, role, updated_at) VALUES ('a', 'a@x', 'h', 'trader', now() - interval '1 day')")
        try db.query("UPDATE users SET is_active = false")
        #expect(try db.query("SELECT updated_at > now() - interval '1 minute' FROM users").scalar == "t")
    }

    @Test func pricesAreExactAndOverlongPricesAreRejectedNotRounded() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        try db.query("SELECT market_data_ensure_partitions(now() - interval '1 day', now() + interval '1 day')")
        let insert = """
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            VALUES ('USDINR', 'CDS', now(), $1, $1, $1, $1, 0, 'tick')
            """
        try db.query(insert, ["83.2525"])
        #expect(try db.query("SELECT close FROM market_data").scalar == "83.2525")
        // The engine rejects anything beyond 4 decimals before it reaches the database; the
        // column would round it, which is why the decoder must not let it through.
        #expect(throws: PostgresError.self) { try db.query(insert, ["100000000000000"]) }
    }

    @Test func tickPartitionsAreMadeOnDemandAndRetentionDropsOnlyOldTickPartitions() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let layout = try db.query("SELECT layout FROM market_data_layout").scalar
        try db.query("SELECT market_data_ensure_partitions(now() - interval '40 days', now() + interval '1 day')")
        let insertTick = """
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            VALUES ('INFY', 'NSE', now() - $1::interval, 1, 1, 1, 1, 1, 'tick')
            """
        try db.query(insertTick, ["35 days"])
        try db.query(insertTick, ["1 hour"])
        try db.query("""
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            VALUES ('INFY', 'NSE', date_trunc('minute', now() - interval '35 days'), 1, 1, 1, 1, 1, '1min')
            """)
        let dropped = try db.query("SELECT market_data_apply_retention()").scalar.flatMap { Int($0) } ?? 0
        if layout == "native" {
            #expect(dropped >= 9, "partitions for days 31..40 ago are dropped whole")
        } else {
            #expect(layout == "timescaledb")
            #expect(dropped == 1, "TimescaleDB chunks hold bars too, so old tick rows are deleted")
        }
        #expect(try db.query("SELECT count(*) FROM market_data WHERE \"interval\" = 'tick'").scalar == "1")
        #expect(try db.query("SELECT count(*) FROM market_data WHERE \"interval\" = '1min'").scalar == "1", "bars outlive tick retention")
    }

    @Test func barNaturalKeyIsUnique() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        try db.query("SELECT market_data_ensure_partitions(now() - interval '1 day', now())")
        let insert = """
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            VALUES ('INFY', 'NSE', date_trunc('minute', now()), 1, 1, 1, 1, 1, '1min')
            """
        try db.query(insert)
        #expect(throws: PostgresError.self) { try db.query(insert) }
    }

    @Test func serverDefaultsMakeVersion7UUIDs() throws {
        let db = try TestDatabase.connect(try TestDatabase.makeMigrated())
        let ids = try db.query("SELECT uuid_generate_v7()::text FROM generate_series(1, 5)").rows.compactMap { $0[0] }
        #expect(ids.count == 5)
        for id in ids { #expect(id[id.index(id.startIndex, offsetBy: 14)] == "7") }
    }
}

@Suite("Partition maintenance under load")
struct PartitionConcurrencyTests {
    /// Regression: partitions were made with CREATE TABLE ... PARTITION OF, which takes an ACCESS
    /// EXCLUSIVE lock on the parent and waited behind (and deadlocked with) any open reader of
    /// market_data. CREATE + ATTACH PARTITION needs only SHARE UPDATE EXCLUSIVE.
    @Test func makingPartitionsDoesNotWaitForAnOpenReader() throws {
        let url = try TestDatabase.makeMigrated()
        let reader = try TestDatabase.connect(url)
        let maker = try TestDatabase.connect(url)
        try maker.query("SELECT market_data_ensure_partitions(now() - interval '1 day', now())")
        try reader.execute("BEGIN")
        try reader.query("SELECT count(*) FROM market_data")  // holds ACCESS SHARE on every partition
        try maker.execute("SET lock_timeout = '2s'")
        let made = try maker.query("SELECT market_data_ensure_partitions(now() + interval '5 days', now() + interval '40 days')").scalar
        if try maker.query("SELECT layout FROM market_data_layout").scalar == "native" {
            #expect(Int(made ?? "0")! >= 30, "new tick and bar partitions attached while the reader's transaction is open")
        } else {
            #expect(made == "0", "TimescaleDB makes its own chunks")
        }
        try reader.execute("COMMIT")
    }
}
