import Engine
import Foundation
import Postgres
import Storage
import TradingCore

/// Row 3: ticks from a separate publisher process until all N are in `market_data`, beside a
/// plain COPY of the same N rows into a table with the same columns and indexes; and, for
/// docs/schema.md, the same rows into `market_data` exactly as the seed writes it.
struct DurableIngestBenchmark {
    let adminURL: String
    let binary: String
    let ticks: Int
    let rounds: Int

    func database(_ name: String, migrated: Bool) throws -> String {
        let admin = try PostgresConnection(connectionString: adminURL)
        try admin.execute("DROP DATABASE IF EXISTS \(name)")
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0")
        guard var components = URLComponents(string: adminURL) else { throw BenchError("bad --database-url") }
        components.path = "/" + name
        let url = components.string!
        if migrated { try Migrator().migrate(try PostgresConnection(connectionString: url)) }
        return url
    }

    /// The daemon's environment for a benchmark: everything on ipc endpoints in `dir`.
    static func daemonEnvironment(url: String, dir: String, feed: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["ALGOTRADER_DATABASE_URL"] = url
        environment["ALGOTRADER_MARKET_DATA_CONNECT"] = feed
        environment["ALGOTRADER_BUS_BIND"] = "ipc://\(dir)/bus.ipc"
        environment["ALGOTRADER_BUS_REPLAY_BIND"] = "ipc://\(dir)/replay.ipc"
        environment["ALGOTRADER_GATEWAY_BIND"] = "ipc://\(dir)/gateway.ipc"
        environment["ALGOTRADER_CONTROL_BIND"] = "ipc://\(dir)/control.ipc"
        environment["ALGOTRADER_STRATEGIES_BIND"] = "ipc://\(dir)/strategies.ipc"
        environment["ALGOTRADER_JOURNAL_DIR"] = "\(dir)/journal"
        environment["ALGOTRADER_METRICS_BIND"] = ""
        environment["ALGOTRADER_LOGGING_LEVEL"] = "warning"
        return environment
    }

    struct BenchError: Error, CustomStringConvertible {
        let description: String
        init(_ text: String) { description = text }
    }

    func run() throws -> (rows: [ResultRow], notes: [String]) {
        // Rounds alternate engine and COPY so that drift on a shared machine (autovacuum,
        // checkpoints, neighbours) hits both sides; the medians are reported.
        var engineRates: [Double] = [], copyRates: [Double] = [], seedRates: [Double] = [], jsonbRates: [Double] = [], jsonRates: [Double] = []
        for _ in 0..<rounds {
            engineRates.append(try measureEngine())
            let (copy, seed, jsonb, json) = try measureCopy()
            copyRates.append(copy); seedRates.append(seed); jsonbRates.append(jsonb); jsonRates.append(json)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let engineRate = median(engineRates), copyRate = median(copyRates), seedRate = median(seedRates)
        let jsonbRate = median(jsonbRates), jsonRate = median(jsonRates)
        func list(_ values: [Double]) -> String { values.map { formatted($0) }.joined(separator: ", ") }
        let settings = try PostgresConnection(connectionString: adminURL).query(
            "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'synchronous_commit', 'fsync', 'full_page_writes', 'wal_buffers', 'checkpoint_timeout')"
        ).scalar ?? "?"
        let rows = [
            ResultRow(
                number: "3",
                measure: "durable ingest, \(formatted(Double(ticks))) ticks, publisher process -> engine -> market_data (median of \(rounds))",
                result: "\(formatted(engineRate)) ticks/s",
                baseline: "COPY of the same rows, same table and indexes: \(formatted(copyRate)) rows/s",
                ratio: formatted(engineRate / copyRate, decimals: 2),
                target: ">= 0.8 of COPY and >= 100,000 ticks/s",
                met: engineRate >= 0.8 * copyRate && engineRate >= 100_000
            ),
            ResultRow(
                number: "3b",
                measure: "COPY into market_data as the seed writes it (random UUID PK, 4 indexes, unpartitioned)",
                result: "\(formatted(seedRate)) rows/s",
                baseline: "this schema's COPY: \(formatted(copyRate)) rows/s",
                ratio: formatted(seedRate / copyRate, decimals: 2),
                target: "- (explains docs/schema.md)",
                met: nil
            ),
            ResultRow(
                number: "3c",
                measure: "what bounds row 3: the same rows into one unpartitioned table with the same indexes, tick_data jsonb",
                result: "\(formatted(jsonbRate)) rows/s",
                baseline: "the same with tick_data json (no binary conversion): \(formatted(jsonRate)) rows/s",
                ratio: formatted(jsonbRate / jsonRate, decimals: 2),
                target: "- (explains row 3)",
                met: nil
            ),
        ]
        return (rows, [
            "PostgreSQL server settings: \(settings).",
            "Row 3 rounds, engine: \(list(engineRates)) ticks/s; COPY: \(list(copyRates)) rows/s; seed form: \(list(seedRates)); jsonb probe: \(list(jsonbRates)); json probe: \(list(jsonRates)).",
            "Row 3 times from the publisher's start until the last of the N rows is committed (polled by id, then verified by count(*)); the publisher runs at full speed in its own process.",
        ])
    }

    func measureEngine() throws -> Double {
        let url = try database("bench_engine", migrated: true)
        let dir = NSTemporaryDirectory() + "algotrader-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let feed = "ipc://\(dir)/feed.ipc"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = ["serve"]
        let environment = Self.daemonEnvironment(url: url, dir: dir, feed: feed)
        daemon.environment = environment
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }

        let publisher = Process()
        publisher.executableURL = URL(fileURLWithPath: binary)
        publisher.arguments = ["feed", "--bind", feed, "--count", String(ticks), "--rate", "0", "--wait-seconds", "60"]
        publisher.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let db = try PostgresConnection(connectionString: url)
        try publisher.run()
        defer { if publisher.isRunning { publisher.terminate() } }
        let start = monotonicNanoseconds()
        // Count incrementally by id: each writer makes increasing UUIDv7 ids, so each poll reads
        // only rows newer than the last seen. With several writers a batch can commit after a
        // newer one and be missed; when the count stalls, a full count(*) puts the tally right.
        try db.execute("SET enable_seqscan = off")
        var counted = 0
        var lastID = "00000000-0000-0000-0000-000000000000"
        let deadline = start + 600 * 1_000_000_000
        var stalled = 0
        while counted < ticks && monotonicNanoseconds() < deadline {
            let result = try db.query(
                """
                SELECT count(*), (SELECT data_id::text FROM market_data WHERE data_id > $1::uuid AND "interval" = 'tick' ORDER BY data_id DESC LIMIT 1)
                FROM market_data WHERE data_id > $1::uuid AND "interval" = 'tick'
                """, [lastID])
            let n = Int(result.rows[0][0] ?? "0") ?? 0
            if n > 0 {
                counted += n
                lastID = result.rows[0][1]!
                stalled = 0
            } else {
                stalled += 1
            }
            if counted >= ticks || stalled >= 3 {
                counted = Int(try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar ?? "0") ?? 0
                stalled = 0
            }
            if counted < ticks { usleep(20_000) }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        publisher.waitUntilExit()
        // Ticks only: the daemon also stores the bars its strategy pipeline builds.
        let total = Int(try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar ?? "0") ?? 0
        guard total == ticks else { throw BenchError("engine stored \(total) of \(ticks) ticks") }
        daemon.terminate()
        daemon.waitUntilExit()
        return Double(ticks) / seconds
    }

    func measureCopy() throws -> (ours: Double, seed: Double, jsonb: Double, json: Double) {
        let url = try database("bench_copy", migrated: true)
        let db = try PostgresConnection(connectionString: url)
        var generator = SyntheticTickGenerator(seed: 1, session: "copy")
        let now = SystemClock().now()
        let generated = (0..<ticks).map { generator.next(at: now.adding(nanoseconds: Int64($0) * 1_000)) }
        let writer = MarketDataWriter(connectionString: url)
        try writer.ensurePartitions(from: now.adding(nanoseconds: -86_400_000_000_000), to: now.adding(nanoseconds: 86_400_000_000_000))
        guard let batch = writer.prepare(generated[...], now: now) else { throw BenchError("no rows") }
        let start = monotonicNanoseconds()
        _ = try writer.write(batch, afterUnknownOutcome: false)
        let ours = Double(ticks) / (Double(monotonicNanoseconds() - start) / 1e9)

        // The seed's form: server-made random UUID primary key, all four seed indexes, no partitions.
        try db.execute("""
            CREATE TABLE seed_market_data (
                data_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                symbol VARCHAR(50) NOT NULL,
                timestamp TIMESTAMP WITH TIME ZONE NOT NULL,
                open DECIMAL(10,2) NOT NULL, high DECIMAL(10,2) NOT NULL, low DECIMAL(10,2) NOT NULL, close DECIMAL(10,2) NOT NULL,
                volume BIGINT NOT NULL,
                oi DECIMAL(15,2),
                interval VARCHAR(10) NOT NULL CHECK (interval IN ('tick', '1min', '5min', '15min', '30min', '1hour', '1day')),
                tick_data JSONB,
                created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
            );
            CREATE INDEX idx_seed_symbol ON seed_market_data(symbol);
            CREATE INDEX idx_seed_timestamp ON seed_market_data(timestamp);
            CREATE INDEX idx_seed_symbol_timestamp ON seed_market_data(symbol, timestamp);
            CREATE INDEX idx_seed_interval ON seed_market_data(interval);
            """)
        var rows: [UInt8] = []
        rows.reserveCapacity(ticks * 160)
        var line: [UInt8] = []
        var ids = UUIDv7Generator()
        for tick in generated {
            line.removeAll(keepingCapacity: true)
            TickCopyEncoder.append(tick, id: ids.next(now: now), to: &line)
            // Drop the id and exchange columns: the seed has no exchange, and makes ids itself.
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            let kept = [fields[1]] + fields[3...]
            rows.append(contentsOf: kept.joined(separator: [UInt8(ascii: "\t")]))
        }
        let seedStart = monotonicNanoseconds()
        _ = try db.copyIn(#"COPY seed_market_data (symbol, "timestamp", open, high, low, close, volume, oi, "interval", tick_data) FROM STDIN"#) { copy in
            try copy.write(rows)
        }
        let seed = Double(ticks) / (Double(monotonicNanoseconds() - seedStart) / 1e9)

        // The same rows into an unpartitioned table with this schema's indexes, once with
        // tick_data as jsonb and once as json: the difference is PostgreSQL's JSONB conversion.
        var rates: [Double] = []
        for type in ["jsonb", "json"] {
            try db.execute("""
                DROP TABLE IF EXISTS probe;
                CREATE TABLE probe (LIKE market_data INCLUDING DEFAULTS);
                ALTER TABLE probe ALTER COLUMN tick_data TYPE \(type);
                ALTER TABLE probe ADD PRIMARY KEY (data_id, "interval", "timestamp");
                CREATE INDEX ON probe (symbol, "timestamp");
                CREATE INDEX ON probe USING brin ("timestamp");
                """)
            let probeStart = monotonicNanoseconds()
            _ = try db.copyIn(TickCopyEncoder.copyStatement.replacingOccurrences(of: "COPY market_data ", with: "COPY probe ")) { copy in
                try copy.write(batch.rowBytes)
            }
            rates.append(Double(ticks) / (Double(monotonicNanoseconds() - probeStart) / 1e9))
        }
        return (ours, seed, rates[0], rates[1])
    }
}
