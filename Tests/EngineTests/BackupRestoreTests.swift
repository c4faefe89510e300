import Foundation
import Postgres
import Security
import Storage
import TestSupport
import Testing

/// docs/operations.md, "Backup and restore": the documented commands (scripts/backup.sh and
/// scripts/restore.sh, which the guide shows) run as production runs the daemon: a login that
/// owns the schema and is not a superuser, on a database with rows in every table. The restore
/// goes into a fresh cluster; every table, partition, sequence and schema fact must come back
/// the same, `migrate` must find nothing to do and `serve` must start.
@Suite("Backup and restore through the documented commands")
struct BackupRestoreTests {
    static let scripts = Repository.root.appendingPathComponent("scripts")

    /// A database on the test cluster owned by a login of its own that is not a superuser: the
    /// arrangement docs/operations.md describes (the group roles granted with the admin option
    /// that migration 4's `GRANT ... TO CURRENT_USER` needs).
    struct OwnedDatabase {
        let owner: String
        let name: String
        /// As the owner (what the daemon, the admin commands and the backup use).
        let url: String
        /// As the cluster's superuser, which row-level security does not filter.
        let adminURL: String

        init() throws {
            let suffix = UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000
            owner = "owner_\(suffix)"
            name = "backup_\(suffix)"
            let admin = try TestDatabase.connect(try TestDatabase.baseURL())
            defer { admin.close() }
            try admin.execute("CREATE ROLE \(owner) LOGIN")
            for role in ["algotrader_app", "algotrader_engine"] {
                do {
                    try admin.execute("CREATE ROLE \(role) NOLOGIN NOBYPASSRLS")
                } catch {
                    // Made already (by another test's migration, maybe at this very moment).
                    guard error.sqlState == "42710" || error.sqlState == "23505" else { throw error }
                }
            }
            try admin.execute("GRANT algotrader_app, algotrader_engine TO \(owner) WITH ADMIN OPTION")
            try admin.execute("CREATE DATABASE \(name) OWNER \(owner) TEMPLATE template0")
            adminURL = try TestDatabase.url(database: name)
            var components = URLComponents(string: adminURL)!
            components.user = owner
            url = components.string!
        }
    }

    static func script(_ name: String, _ arguments: [String]) throws -> CommandRunner.Outcome {
        try CommandRunner.run(scripts.appendingPathComponent(name), arguments, environment: [:])
    }

    static func algotrader(_ arguments: [String], _ url: String, key: String, stdin: String? = nil) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader(arguments + ["--config", Repository.shippedConfig], environment: [
            "ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_DATABASE_TIMESCALEDB": "off",
            "ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N": "10", "ALGOTRADER_SECURITY_CREDENTIALS_KEY": key,
        ], stdin: stdin)
    }

    static let secret = #"{"api_key":"kite-BACKUP-1","api_secret":"tab\there \"quoted\" back\\slash ₹"}"#

    /// Rows in every table: through the binary as the owner where a command writes them (users,
    /// brokers with '{}' and sealed credentials, strategies, risk, instruments, holidays, halts,
    /// their audit rows), the rest in SQL as the superuser, with text that COPY must escape.
    /// Returns the live broker's id.
    static func fill(_ source: OwnedDatabase, key: String) throws -> String {
        let dir = NSTemporaryDirectory() + "backup-fill-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
            408065,1594,INFY,"INFOSYS, LTD",0,,0,0.05,1,EQ,NSE,NSE
            13238786,51714,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,75,FUT,NFO-FUT,NFO

            """.write(toFile: dir + "/instruments.csv", atomically: true, encoding: .utf8)
        try "date,exchange,description\n2027-01-26,NSE,Republic Day\n".write(toFile: dir + "/holidays.csv", atomically: true, encoding: .utf8)
        let commands: [([String], String?)] = [
            (["user", "add", "alice", "--email", "alice@example.com", "--role", "trader"], "alice-pass\n"),
            (["user", "add", "bob", "--email", "bøb@example.com", "--role", "admin"], "bob-pass\n"),
            (["broker", "add", "--user", "alice", "--name", "paper", "--api-type", "zerodha"], nil),
            (["broker", "add", "--user", "bob", "--name", "live", "--api-type", "icici", "--mode", "live", "--credentials-stdin"], secret),
            (["strategy", "add", "--user", "alice", "--name", "sma-INFY", "--type", "sma_crossover",
              "--params", #"{"symbol": "INFY", "fast": 5, "slow": 20, "quantity": 10}"#], nil),
            (["risk", "set", "--user", "alice", "--daily-loss-limit", "50000", "--max-position-size", "1000000",
              "--max-drawdown-percent", "20", "--max-risk-per-trade", "2"], nil),
            (["instruments", "import", dir + "/instruments.csv", "--progress", "never"], nil),
            (["calendar", "import", dir + "/holidays.csv"], nil),
            (["halt", "--user", "bob", "--reason", "halted, then resumed"], nil),
            (["resume", "--user", "bob"], nil),
        ]
        for (arguments, stdin) in commands {
            let outcome = try algotrader(arguments, source.url, key: key, stdin: stdin)
            try #require(outcome.status == 0, "\(arguments.prefix(2)): \(outcome.stderr)")
        }

        // Partitions are made by the engine, as the owner: a superuser's would not be the owner's to dump.
        let owner = try TestDatabase.connect(source.url)
        try owner.query("SELECT market_data_ensure_partitions('2026-10-30 00:00+00', '2026-11-03 00:00+00')")
        owner.close()
        let db = try TestDatabase.connect(source.adminURL)
        defer { db.close() }
        _ = try SampleRows.userOwnedRows(db, username: "carol")
        let alice = try db.query("SELECT s.strategy_id, b.broker_id, s.user_id FROM strategies s JOIN brokers b USING (user_id) WHERE s.name = 'sma-INFY'").rows[0]
        let trade = try db.query(#"""
            INSERT INTO trades (strategy_id, broker_id, symbol, exchange, instrument_type, order_type, transaction_type, quantity, price,
                                status, order_id, order_timestamp, execution_timestamp, average_price, filled_quantity, metadata, charges)
            VALUES ($1::uuid, $2::uuid, 'INFY', 'NSE', 'EQ', 'LIMIT', 'BUY', 10, 1500.1234, 'FILLED', 'ord-1',
                    '2026-11-02 03:45:00.123456+00', '2026-11-02 03:45:01.654321+00', 1500.1234, 10,
                    '{"note": "tab\there \"quoted\" back\\slash ₹", "nested": {"a": [1, 2.50, null]}}', 12.3456)
            RETURNING trade_id
            """#, [alice[0], alice[1]]).scalar!
        let position = try db.query("""
            INSERT INTO positions (trade_id, user_id, symbol, exchange, instrument_type, quantity, average_price, current_price, status, opened_at, product)
            VALUES ($1::uuid, $2::uuid, 'INFY', 'NSE', 'EQ', 10, 1500.1234, 1510.5, 'OPEN', '2026-11-02 03:45:01+00', 'MIS') RETURNING position_id
            """, [trade, alice[2]]).scalar!
        try db.execute(#"""
            INSERT INTO position_history (position_id, price, quantity, pnl, action, "timestamp")
                VALUES ('\#(position)', 1500.1234, 10, 0, 'OPEN', '2026-11-02 03:45:01+00');
            INSERT INTO trade_logs (trade_id, log_level, message, data)
                VALUES ('\#(trade)', 'INFO', E'line one\nline two\ttab \\ backslash, ünïcödé ₹', '{"exec_id": "e-1"}');
            UPDATE user_sessions SET ip_address = '10.1.2.3', user_agent = E'ctl "quoted" \\ agent';
            INSERT INTO market_data (symbol, "timestamp", open, high, low, close, volume, oi, "interval", tick_data, exchange)
                SELECT sym, day + s * interval '1.5 seconds', 1500 + s / 8.0, 1500 + s / 8.0, 1500 + s / 8.0, 1500 + s / 8.0, s, NULLIF(s % 3, 0) * 1000.25,
                       'tick', jsonb_build_object('seq', s, 'src', 'pub-1', 'session', 's-1'), 'NSE'
                FROM unnest(ARRAY['2026-10-30 03:45+00', '2026-11-02 03:45+00', '2026-11-03 03:45+00']::timestamptz[]) day,
                     unnest(ARRAY['INFY', 'TCS']) sym, generate_series(1, 120) s;
            INSERT INTO market_data (symbol, "timestamp", open, high, low, close, volume, "interval", exchange)
                SELECT 'INFY', day + m * interval '1 minute', 1500, 1501.5, 1499.25, 1500.75, 100 * m, '1min', 'NSE'
                FROM unnest(ARRAY['2026-10-30 03:45+00', '2026-11-02 03:45+00']::timestamptz[]) day, generate_series(0, 29) m;
            INSERT INTO market_data (symbol, "timestamp", open, high, low, close, volume, "interval", exchange)
                VALUES ('INFY', '2026-10-29 18:30+00', 1490, 1510, 1480, 1500, 123456, '1day', 'NSE');
            INSERT INTO indicator_values (data_id, indicator_name, "values", calculated_at, data_timestamp, data_interval)
                SELECT data_id, 'sma_crossover', jsonb_build_object('sma_fast', close, 'sma_slow', close - 0.5), "timestamp", "timestamp", "interval"
                FROM market_data WHERE "interval" = '1min';
            INSERT INTO system_logs (component, log_level, message, data)
                VALUES ('ingest', 'WARNING', E'bad message:\tnot JSON', '{"reason": "bad_json", "sample": "{\"x\":"}');
            INSERT INTO bus_events (seq, topic, event, trade_id, payload)
                VALUES (1, 'order.alice', 'order', '\#(trade)', '{"seq":1,"note":"a \"quoted\" payload"}'),
                       (2, 'fill.alice', 'fill', '\#(trade)', '{"seq":2,"qty":10}');
            INSERT INTO quarantine (kind, record_key, sqlstate, reason, record, details)
                VALUES ('tick', 'tick-1', '22P02', 'invalid input syntax', '\x00ff0a5c09'::bytea, '{"seq": 7}');
            INSERT INTO feed_sequences (src, session, last_seq) VALUES ('pub-1', 's-1', 120);
            INSERT INTO event_journal_rounds (round_id) VALUES (gen_random_uuid());
            INSERT INTO audit_log (actor, action, target, details, peer)
                VALUES ('ctl:alice', 'login', 'alice', '{"client": "ctl \"1\""}', '127.0.0.1:40000');
            REFRESH MATERIALIZED VIEW daily_performance_summary;
            """#)
        return try db.query("SELECT broker_id FROM brokers WHERE name = 'live'").scalar!
    }

    @Test func theSchemaOwnersBackupRestoresEveryRowOfEveryTableIntoAFreshClusterWhereMigrateIsANoOpAndServeStarts() throws {
        let source = try OwnedDatabase()
        let key = try CredentialKey.generate(id: "backup-test").line
        let migrated = try Self.algotrader(["migrate"], source.url, key: key)
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let liveBroker = try Self.fill(source, key: key)
        let db = try TestDatabase.connect(source.adminURL)
        #expect(try DatabaseContents.emptyTables(db) == [], "every table holds rows (a new table needs rows in this fixture)")
        let rows = try DatabaseContents.rows(db), sequences = try DatabaseContents.sequences(db)
        let facts = try DatabaseContents.schemaFacts(db)
        let filled = { (prefix: String) in rows.filter { $0.key.hasPrefix(prefix) && !$0.value.hasPrefix("0 ") }.count }
        #expect(filled("market_data_tick_p") == 3 && filled("market_data_bar_p") == 2, "ticks over three days, bars over two months")

        let dir = NSTemporaryDirectory() + "backup-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // What the guide used to say, plain pg_dump as the owner, stops on row-level security.
        let plain = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["pg_dump", "--format=custom", "--file=\(dir)/plain.dump", source.url],
                                          environment: [:])
        #expect(plain.status != 0 && plain.stderr.contains("row-level security"), "\(plain.stderr)")

        let file = dir + "/algotrader.dump"
        let backup = try Self.script("backup.sh", [source.url, file])
        try #require(backup.status == 0, "\(backup.stderr)")

        let cluster = try ScratchCluster()
        let clusterAdmin = "postgresql://postgres@127.0.0.1:\(cluster.port)/postgres"
        let restore = try Self.script("restore.sh", [file, clusterAdmin])
        try #require(restore.status == 0, "\(restore.stderr)")
        let restoredAdmin = "postgresql://postgres@127.0.0.1:\(cluster.port)/\(source.name)"
        let restoredOwner = "postgresql://\(source.owner)@127.0.0.1:\(cluster.port)/\(source.name)"
        let copy = try TestDatabase.connect(restoredAdmin)
        let restoredRows = try DatabaseContents.rows(copy)
        #expect(restoredRows.count == rows.count)
        for (relation, value) in rows.sorted(by: { $0.key < $1.key }) {
            #expect(restoredRows[relation] == value, "\(relation): rows and their content")
        }
        #expect(try DatabaseContents.sequences(copy) == sequences)
        let restoredFacts = try DatabaseContents.schemaFacts(copy)
        #expect(restoredFacts == facts, "\(DatabaseContents.difference(facts, restoredFacts))")
        #expect(try copy.query("""
            SELECT pg_has_role($1, 'algotrader_app', 'MEMBER') AND pg_has_role($1, 'algotrader_engine', 'MEMBER')
                   AND NOT rolsuper AND rolcanlogin FROM pg_roles WHERE rolname = $1
            """, [source.owner]).scalar == "t", "the owner login and its group roles exist in the new cluster")

        let migrate = try Self.algotrader(["migrate"], restoredOwner, key: key)
        #expect(migrate.status == 0 && migrate.stdout.contains("schema is current at version \(Migration.latestVersion)"),
                "\(migrate.stdout)\(migrate.stderr)")
        #expect(try DatabaseContents.rows(copy) == restoredRows, "migrate changed nothing")

        // The restored database behaves as the original: row-level security forced on its owner,
        // the audit trail append-only, the sealed credentials open with the same key (a read
        // that is audited, so it comes after the comparisons).
        let owner = try TestDatabase.connect(restoredOwner)
        #expect(try UserScope.run(owner, userID: nil) { try $0.query("SELECT count(*) FROM users").scalar } == "0")
        #expect(throws: PostgresError.self) { try owner.execute("UPDATE audit_log SET action = 'changed'") }
        let opened = try Self.algotrader(["broker", "credentials", liveBroker], restoredOwner, key: key)
        #expect(opened.status == 0 && opened.stdout == Self.secret, "\(opened.stderr)")

        // A second restore into the now populated database is refused and changes nothing.
        let current = try DatabaseContents.rows(copy)
        let again = try Self.script("restore.sh", [file, clusterAdmin])
        #expect(again.status != 0 && again.stderr.contains("not empty"), "\(again.stderr)")
        #expect(try DatabaseContents.rows(copy) == current)

        let notify = try NotifySocket()
        let daemon = try DaemonProcess(databaseURL: restoredOwner, environment: ["NOTIFY_SOCKET": notify.path], captureStderr: true)
        #expect(notify.wait(for: "READY=1", seconds: 60), "serve is ready on the restored database: \(daemon.stderr)")
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    @Test func aBackupIsRefusedWhenRowLevelSecurityWouldHideRowsFromTheLoginTakingIt() throws {
        let source = try OwnedDatabase()
        let owner = try TestDatabase.connect(source.url)
        try owner.execute("""
            CREATE TABLE private_notes (note TEXT);
            INSERT INTO private_notes VALUES ('kept');
            ALTER TABLE private_notes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE private_notes FORCE ROW LEVEL SECURITY;
            CREATE POLICY private_notes_own ON private_notes TO algotrader_app USING (false);
            """)
        let dir = NSTemporaryDirectory() + "backup-refused-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let refused = try Self.script("backup.sh", [source.url, dir + "/notes.dump"])
        #expect(refused.status == 1 && refused.stderr.contains("public.private_notes"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "nothing written, not even in part")

        // With a policy that admits the engine role every row, as migration 4 gives each table.
        try owner.execute("CREATE POLICY private_notes_engine ON private_notes TO algotrader_engine USING (true) WITH CHECK (true)")
        let taken = try Self.script("backup.sh", [source.url, dir + "/notes.dump"])
        #expect(taken.status == 0, "\(taken.stderr)")
        let listed = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["pg_restore", "--data-only", "--file=-", dir + "/notes.dump"],
                                           environment: [:])
        #expect(listed.stdout.contains("kept"))
    }
}
