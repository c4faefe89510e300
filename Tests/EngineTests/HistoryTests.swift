import Foundation
import Postgres
import Storage
import TestSupport
import Testing
import TradingCore
import Engine

/// Issue 19: `algotrader history import` loads downloaded ticks and Kite-layout candles once
/// however often it runs, keeps them from retention, and replays on them: a built-in bar
/// strategy and an SDK strategy over two instruments, each checked against a model of its own.
@Suite("History import and replays on imported bars")
struct HistoryTests {
    /// One 1min candle.
    struct Candle {
        var start: Timestamp
        var open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64  // prices in 1/100 rupee
    }

    /// A session of 1min candles (09:15-15:29 IST of `day`): a wave with noise, deterministic,
    /// each opening a little away from the last close (so a fill at the next open and one at
    /// the last close differ).
    static func candles(day: String, seed: UInt64, base: Int64, minutes: Int = 375) -> [Candle] {
        var state = seed
        func next(_ n: Int64) -> Int64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int64((state >> 33) % UInt64(n))
        }
        let open = Timestamp.parseRFC3339("\(day)T09:15:00+05:30")!
        var price = base
        return (0..<minutes).map { m in
            let wave = Int64((sin(Double(m) / 9) * Double(base) / 400).rounded())
            let first = max(100, price + next(21) - 10)
            let close = max(100, first + wave + next(41) - 20)
            defer { price = close }
            return Candle(start: open.adding(nanoseconds: Int64(m) * 60_000_000_000), open: first, high: max(first, close) + next(30),
                          low: max(1, min(first, close) - next(30)), close: close, volume: next(5_000))
        }
    }

    static func rupees(_ paise: Int64) -> String { String(format: "%d.%02d", paise / 100, paise % 100) }

    /// Kite Connect's candle layout, as its SDK's rows are saved: `2026-06-01T09:15:00+0530`.
    static func kiteCSV(_ candles: [Candle]) -> String {
        "date,open,high,low,close,volume\n" + candles.map { c in
            let ist = Timestamp(nanosecondsSinceEpoch: c.start.nanosecondsSinceEpoch + 19_800_000_000_000).description.prefix(19)
            return "\(ist)+0530,\(rupees(c.open)),\(rupees(c.high)),\(rupees(c.low)),\(rupees(c.close)),\(c.volume)\n"
        }.joined()
    }

    static func history(_ url: String, _ arguments: [String]) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader(["history"] + arguments + ["--config", Repository.shippedConfig], environment: ["ALGOTRADER_DATABASE_URL": url])
    }

    static func directory() throws -> String {
        let dir = NSTemporaryDirectory() + "algotrader-history-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func aKiteCandleFileAndATickFileImportOnceHoweverOftenTheyRunAndABadRowImportsNothing() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let dir = try Self.directory()
        let candles = Self.candles(day: "2026-06-01", seed: 1, base: 100_000)
        try Self.kiteCSV(candles).write(toFile: dir + "/RELIANCE.csv", atomically: true, encoding: .utf8)
        // Ticks 40 days back (past tick retention), epoch milliseconds, one row repeated: two
        // identical trades are two ticks.
        let t0 = (SystemClock().now().nanosecondsSinceEpoch / 1_000_000_000 - 40 * 86_400) * 1_000
        var ticks = "timestamp,price,qty\n" + (0..<500).map { "\(t0 + Int64($0) * 250),\(1500 + $0 % 9).05,\(1 + $0 % 4)\n" }.joined()
        ticks += "\(t0),1500.05,1\n"
        try ticks.write(toFile: dir + "/ticks.csv", atomically: true, encoding: .utf8)

        for round in 0..<2 {
            let bars = try Self.history(url, ["import", dir + "/RELIANCE.csv", "--symbol", "RELIANCE", "--interval", "minute", "--progress", "always"])
            #expect(bars.status == 0, "\(bars.stderr)")
            #expect(bars.stdout.contains(round == 0 ? "imported 375 of 375 1min bars" : "imported 0 of 375 1min bars"), "\(bars.stdout)")
            #expect(bars.stderr.contains("100%"), "a progress bar")
            let tickRun = try Self.history(url, ["import", dir + "/ticks.csv", "--symbol", "TICKS", "--exchange", "BSE"])
            #expect(tickRun.status == 0, "\(tickRun.stderr)")
            #expect(tickRun.stdout.contains(round == 0 ? "imported 501 of 501 ticks" : "imported 0 of 501 ticks"), "\(tickRun.stdout)")
        }
        let stored = try db.query("""
            SELECT count(*) FILTER (WHERE "interval" = '1min' AND symbol = 'RELIANCE' AND exchange = 'NSE'),
                   count(*) FILTER (WHERE "interval" = 'tick' AND symbol = 'TICKS' AND exchange = 'BSE'),
                   count(*) FILTER (WHERE import_id IS NULL)
            FROM market_data
            """).rows[0]
        #expect(stored == ["375", "501", "0"])
        let first = candles[0]
        let row = try db.query(#"SELECT open::text, high::text, low::text, close::text, volume::text FROM market_data WHERE "interval" = '1min' ORDER BY "timestamp" LIMIT 1"#).rows[0]
        #expect(row.prefix(4).map { $0.flatMap(FixedDecimal.init) } == [first.open, first.high, first.low, first.close].map { FixedDecimal(Self.rupees($0)) })
        #expect(row[4] == String(first.volume))
        #expect(try db.query("SELECT count(*), sum(rows_imported) FROM history_imports").rows[0] == ["2", "876"], "one record per import that added rows")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE action = 'history_imported'").scalar == "2")
        // Not UTF-8 (a file saved as Latin-1): refused with its line, not stored with U+FFFD.
        try Data("timestamp,price,qty,symbol\n\(t0),10,1,CAF\u{C9}\n".utf8.map { $0 == 0xC3 ? 0xC9 : $0 }.filter { $0 != 0x89 })
            .write(to: URL(fileURLWithPath: dir + "/latin1.csv"))
        let latin = try Self.history(url, ["import", dir + "/latin1.csv"])
        #expect(latin.status == 65 && latin.stderr.contains("line 2: not valid UTF-8"), "\(latin.stderr)")
        let listing = try Self.history(url, ["list"])
        #expect(listing.status == 0 && listing.stdout.contains("RELIANCE.csv") && listing.stdout.contains("BSE:TICKS"), "\(listing.stdout)")

        // Two identical trades in a file, one of them stored live already: one is new, the live
        // one is adopted (kept from retention from now on). Imported by the runtime login, as in
        // production (a member of the engine and app roles, owning nothing).
        let runtime = try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt")
        let at = Timestamp(nanosecondsSinceEpoch: t0 * 1_000_000 + 3_600_000_000_000)
        try db.query("SELECT market_data_ensure_partitions($1::timestamptz, $1::timestamptz)", [at.description])
        try db.query(#"INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval") VALUES ('PAIR', 'NSE', $1::timestamptz, 7, 7, 7, 7, 2, 'tick')"#,
                     [at.description])
        try "timestamp,price,qty\n\(at),7,2\n\(at),7,2\n".write(toFile: dir + "/pair.csv", atomically: true, encoding: .utf8)
        let pair = try Self.history(runtime, ["import", dir + "/pair.csv", "--symbol", "PAIR"])
        #expect(pair.status == 0 && pair.stdout.contains("imported 1 of 2 ticks") && pair.stdout.contains("1 stored rows now kept as imported history"),
                "\(pair.stdout) \(pair.stderr)")
        #expect(try db.query("SELECT count(*), count(import_id) FROM market_data WHERE symbol = 'PAIR'").rows[0] == ["2", "2"])

        // A file that overlaps: its known rows are skipped, its new one is stored.
        try (Self.kiteCSV(Array(candles.prefix(3))) + "2026-06-02T09:15:00+0530,1000.00,1001.00,999.00,1000.50,10\n")
            .write(toFile: dir + "/overlap.csv", atomically: true, encoding: .utf8)
        let overlap = try Self.history(url, ["import", dir + "/overlap.csv", "--symbol", "RELIANCE", "--interval", "1min"])
        #expect(overlap.stdout.contains("imported 1 of 4 1min bars") && overlap.stdout.contains("3 were already stored"), "\(overlap.stdout)")

        // Line 4 is bad: nothing of the file is stored, and the message names the line.
        let bad = "date,open,high,low,close,volume\n2026-06-03T09:15:00+0530,10,11,9,10,5\n2026-06-03T09:16:00+0530,10,11,9,10,5\n"
            + "2026-06-03T09:17:00+0530,10,9,11,10,5\n"
        try bad.write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let refused = try Self.history(url, ["import", dir + "/bad.csv", "--symbol", "BAD", "--interval", "1min"])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("\(dir)/bad.csv: line 4: high 9 and low 11 do not contain open 10 and close 10; nothing was imported"),
                "\(refused.stderr)")
        #expect(try db.query("SELECT count(*) FROM market_data WHERE symbol = 'BAD'").scalar == "0")
        try "date,open,high,low,close,volume\n2026-06-03T09:15:00+0530,10,11,9,10,5\n2026-06-03T09:15:00+0530,10,11,9,10,6\n"
            .write(toFile: dir + "/twice.csv", atomically: true, encoding: .utf8)
        let twice = try Self.history(url, ["import", dir + "/twice.csv", "--symbol", "BAD", "--interval", "1min"])
        #expect(twice.status == 65 && twice.stderr.contains("line 3: a second 1min bar of NSE:BAD") && twice.stderr.contains("than line 2; nothing was imported"),
                "\(twice.stderr)")
        #expect(try db.query("SELECT count(*) FROM market_data WHERE symbol = 'BAD'").scalar == "0")
        let noInterval = try Self.history(url, ["import", dir + "/bad.csv", "--symbol", "BAD"])
        #expect(noInterval.status == 65 && noInterval.stderr.contains("--interval"), "\(noInterval.stderr)")
    }

    @Test func maintenanceRemovesWhatTheEngineStoredLiveAndLeavesImportedHistoryAlone() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let dir = try Self.directory()
        let now = SystemClock().now().nanosecondsSinceEpoch
        let old = now - 40 * Timestamp.nanosecondsPerDay, older = now - 45 * Timestamp.nanosecondsPerDay
        let oldDay = Timestamp(nanosecondsSinceEpoch: old)
        try db.query("SELECT market_data_ensure_partitions($1::timestamptz, $2::timestamptz)",
                     [Timestamp(nanosecondsSinceEpoch: older).description, oldDay.description])
        try "timestamp,price,qty\n\(oldDay),10,1\n\(oldDay.adding(nanoseconds: 1_000_000)),11,2\n".write(toFile: dir + "/t.csv", atomically: true, encoding: .utf8)
        #expect(try Self.history(url, ["import", dir + "/t.csv", "--symbol", "KEEP"]).status == 0)
        // Live ticks: one on the imported day, one on a day without imports.
        for (symbol, time) in [("LIVE", oldDay.adding(nanoseconds: 2_000_000)), ("LIVE", Timestamp(nanosecondsSinceEpoch: older))] {
            try db.query(#"INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval") VALUES ($1, 'NSE', $2::timestamptz, 1, 1, 1, 1, 1, 'tick')"#,
                         [symbol, time.description])
        }
        // 1min bars 188 days back, each covered by a live 5min bar: the live one goes, the imported one stays.
        let candles = Self.candles(day: "2026-06-01", seed: 2, base: 5_000, minutes: 5)
        try Self.kiteCSV(candles).write(toFile: dir + "/keep.csv", atomically: true, encoding: .utf8)
        #expect(try Self.history(url, ["import", dir + "/keep.csv", "--symbol", "KEEP", "--interval", "1min"]).status == 0)
        for (symbol, interval) in [("LIVE", "1min"), ("LIVE", "5min"), ("KEEP", "5min")] {
            try db.query(#"INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval") VALUES ($1, 'NSE', $2::timestamptz, 1, 1, 1, 1, 1, $3)"#,
                         [symbol, candles[0].start.description, interval])
        }
        let report = try Maintenance().run(db)
        #expect(report.tickPartitionsOrRowsDropped >= 2 && report.oneMinuteBarsDeleted == 1, "\(report)")
        let left = try db.query(#"SELECT symbol, "interval", count(*)::text FROM market_data GROUP BY 1, 2 ORDER BY 1, 2"#).rows
        #expect(left == [["KEEP", "1min", "5"], ["KEEP", "5min", "1"], ["KEEP", "tick", "2"], ["LIVE", "5min", "1"]], "\(left)")
        // Another run changes nothing, and does not scan the kept partition again.
        let again = try Maintenance().run(db)
        #expect(again.tickPartitionsOrRowsDropped == 0 && again.oneMinuteBarsDeleted == 0, "\(again)")
        #expect(try db.query(#"SELECT count(*) FROM market_data WHERE symbol = 'KEEP'"#).scalar == "8")
    }
}
