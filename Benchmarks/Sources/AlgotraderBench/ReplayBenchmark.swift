import Foundation
import Postgres
import TradingCore

/// Row 6: `algotrader replay` of one symbol's stored ticks through the pipeline and the paper
/// desk (the real binary, start-up included), beside reading the same ticks with the same
/// cursor and nothing else. Row 7: `algotrader instruments import` of a generated 100,000-row
/// Zerodha-layout file, beside parsing it alone.
struct ReplayBenchmark {
    let adminURL: String
    let binary: String
    let ticks: Int
    let instruments: Int

    func run() throws -> [ResultRow] {
        let setup = DurableIngestBenchmark(adminURL: adminURL, binary: binary, ticks: 0, rounds: 1)
        let url = try setup.database("bench_replay", migrated: true)
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
        let user = try db.query("INSERT INTO users (username, email, password_hash, role) VALUES ('bench', 'bench@example.com', 'x', 'trader') RETURNING user_id").scalar!
        try db.query("INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1, 'paper', 'zerodha', '{}')", [user])
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters, is_active)
            VALUES ($1, 'bench', 'sma_crossover', '{"symbol": "RELIANCE", "fast": 10, "slow": 40, "quantity": 10}', false)
            """, [user])
        let (from, to) = try Self.storeTape(db, ticks: ticks)

        // Baseline: the same cursor over the same rows, decoded to ticks, nothing else.
        let readStart = monotonic()
        var read = 0
        try db.transaction { conn in
            _ = try conn.query("""
                DECLARE b NO SCROLL CURSOR FOR SELECT symbol, exchange, (extract(epoch FROM "timestamp") * 1000000)::bigint, close::text, volume, oi::text
                FROM market_data WHERE "interval" = 'tick' AND symbol = 'RELIANCE' AND exchange = 'NSE'
                  AND "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz ORDER BY "timestamp", data_id
                """, [from, to])
            while true {
                let rows = try conn.query("FETCH FORWARD 20000 FROM b").rows
                if rows.isEmpty { break }
                for r in rows where r[3].flatMap(FixedDecimal.init) != nil { read += 1 }
            }
        }
        let readRate = Double(read) / (monotonic() - readStart)

        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        env["ALGOTRADER_DATABASE_URL"] = url
        let replayStart = monotonic()
        let replay = try Self.run(binary, ["replay", "--strategy", "bench", "--from", from, "--to", to, "--config", "config/algotrader.yaml",
                                           "--progress", "never"], env)
        let replaySeconds = monotonic() - replayStart
        guard replay.status == 0 else { throw DurableIngestBenchmark.BenchError("replay failed: \(replay.output)") }
        let replayRate = Double(ticks) / replaySeconds
        let fills = replay.output.split(separator: "\n").first { $0.contains("orders ") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") } ?? ""

        // Row 7: a generated instruments file.
        let dir = NSTemporaryDirectory() + "algotrader-bench-instruments"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/instruments.csv"
        var text = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n"
        for i in 0..<instruments {
            switch i % 3 {
            case 0: text += "\(100_000 + i),\(i),EQ\(i),\"COMPANY \(i), LTD\",0,,0,0.05,1,EQ,NSE,NSE\n"
            case 1: text += "\(100_000 + i),\(i),FUT\(i),UNDERLYING\(i),0,2026-12-29,0,0.1,75,FUT,NFO-FUT,NFO\n"
            default: text += "\(100_000 + i),\(i),OPT\(i)CE,UNDERLYING\(i),0,2026-12-29,\(24_000 + i % 50 * 50),0.05,75,CE,NFO-OPT,NFO\n"
            }
        }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let parseStart = monotonic()
        let lines = text.split(separator: "\n")
        let reader = try InstrumentCSVReader(header: lines[0])
        var parsed = 0
        for (index, line) in lines.enumerated().dropFirst() {
            if case .instrument = try reader.parse(line, line: index + 1) { parsed += 1 }
        }
        let parseSeconds = monotonic() - parseStart
        let importStart = monotonic()
        let imported = try Self.run(binary, ["instruments", "import", file, "--config", "config/algotrader.yaml", "--progress", "never"], env)
        let importSeconds = monotonic() - importStart
        guard imported.status == 0 else { throw DurableIngestBenchmark.BenchError("import failed: \(imported.output)") }
        try? FileManager.default.removeItem(atPath: dir)

        return [
            ResultRow(number: "6", measure: "replay of \(formatted(Double(ticks))) stored ticks (10 ms apart) through pipeline, risk and paper desk, process start included (\(fills))",
                      result: "\(formatted(replayRate)) ticks/s (\(formatted(replaySeconds, decimals: 2)) s)",
                      baseline: "same cursor, decode only: \(formatted(readRate)) ticks/s", ratio: formatted(replayRate / readRate, decimals: 2),
                      target: "-", met: nil),
            ResultRow(number: "7", measure: "instruments import of \(formatted(Double(instruments))) Zerodha-layout rows (process start included)",
                      result: "\(formatted(importSeconds, decimals: 2)) s", baseline: "parse alone: \(formatted(parseSeconds, decimals: 2)) s (\(parsed) rows)",
                      ratio: formatted(importSeconds / max(parseSeconds, 1e-9), decimals: 1), target: "< 30 s", met: importSeconds < 30),
        ]
    }

    /// A dense tape of RELIANCE ticks: one every 10 ms from 09:15 IST today, a price wave with
    /// noise; returns the replay range that holds them all (rows 6 and 6b replay it).
    static func storeTape(_ db: PostgresConnection, ticks: Int) throws -> (from: String, to: String) {
        let day = SessionCalendar.istDay(Timestamp(nanosecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1e9)))
        let open = TradingCalendar.instant(day: day, minutes: 555)
        try db.query("SELECT market_data_ensure_partitions($1::timestamptz, $1::timestamptz + interval '2 days')", [open.description])
        try db.query("""
            INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval")
            SELECT 'RELIANCE', 'NSE', $1::timestamptz + i * interval '10 milliseconds', p, p, p, p, 1 + i % 7, 'tick'
            FROM generate_series(0, $2::int - 1) i,
                 LATERAL (SELECT round((2450 + 20 * sin(i / 3000.0) + 3 * sin(i / 37.0))::numeric, 2) AS p) v
            """, [open.description, String(ticks)])
        try db.execute("ANALYZE market_data")
        return (open.description, open.adding(nanoseconds: Int64(ticks) * 10_000_000 + 1).description)
    }

    func monotonic() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func run(_ binary: String, _ arguments: [String], _ environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
