import Foundation
import Glibc
import Postgres
import TestSupport
import Testing
import TradingCore

/// Issue 8 end to end: the instrument and holiday imports through the real binary, and the
/// daemon taking instrument types, lots and charges from them, reporting a stopped strategy's
/// position, and resetting a stale `is_running`.
@Suite("Indian market rules through the binary and the daemon")
struct MarketRulesDaemonTests {
    static let header = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange"

    /// A Zerodha-layout file of `count` rows: equities, futures and options across exchanges.
    static func instrumentsFile(_ path: String, count: Int, badLine: Int? = nil) throws {
        var text = header + "\n"
        text.reserveCapacity(count * 90)
        for i in 0..<count {
            let line = i + 2
            if line == badLine { text += "\(i),\(i),BAD\(i),\"BAD, ROW\",0,,0,0.05,lots,EQ,NSE,NSE\n"; continue }
            switch i % 3 {
            case 0: text += "\(100_000 + i),\(i),EQ\(i),\"COMPANY \(i), LTD\",0,,0,0.05,1,EQ,NSE,NSE\n"
            case 1: text += "\(100_000 + i),\(i),FUT\(i),UNDERLYING\(i),0,2026-12-29,0,0.1,75,FUT,NFO-FUT,NFO\n"
            default: text += "\(100_000 + i),\(i),OPT\(i)CE,UNDERLYING\(i),0,2026-12-29,\(24_000 + i % 50 * 50),0.05,75,CE,NFO-OPT,NFO\n"
            }
        }
        text += "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func a100kRowInstrumentsImportIsIdempotentShowsProgressAndABadRowImportsNothing() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let dir = NSTemporaryDirectory() + "algotrader-instruments-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let env = ["ALGOTRADER_DATABASE_URL": url]
        let file = dir + "/instruments.csv"
        try Self.instrumentsFile(file, count: 100_000)

        let first = try CommandRunner.algotrader(["instruments", "import", file, "--progress", "always", "--config", Repository.shippedConfig], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("imported 100000 instruments") && first.stdout.contains("100000 new") && first.stdout.contains("1 index rows skipped"))
        #expect(first.stderr.contains("100%") && first.stderr.contains("rows/s"), "a progress bar with its rate")
        #expect(try db.query("SELECT count(*) FROM instruments").scalar == "100000")
        #expect(try db.query("SELECT lot_size, tick_size::text, instrument_type, expiry::text FROM instruments WHERE tradingsymbol = 'FUT1'").rows.first
                == ["75", "0.1000", "FUT", "2026-12-29"])
        #expect(try db.query("SELECT name FROM instruments WHERE tradingsymbol = 'EQ0'").scalar == "COMPANY 0, LTD")

        let again = try CommandRunner.algotrader(["instruments", "import", file, "--config", Repository.shippedConfig], environment: env)
        #expect(again.status == 0 && again.stdout.contains("0 new, 0 changed, 100000 unchanged"), "\(again.stdout)")
        #expect(again.stderr.isEmpty, "no bar when stderr is not a terminal")

        let bad = dir + "/bad.csv"
        try Self.instrumentsFile(bad, count: 10, badLine: 5)
        try db.query("DELETE FROM instruments WHERE tradingsymbol = 'EQ0'")
        let refused = try CommandRunner.algotrader(["instruments", "import", bad, "--config", Repository.shippedConfig], environment: env)
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("bad.csv: line 5: lot_size 'lots' is not a whole number; nothing was imported"), "\(refused.stderr)")
        #expect(try db.query("SELECT count(*) FROM instruments").scalar == "99999", "nothing of the bad file was imported")

        let shown = try CommandRunner.algotrader(["instruments", "show", "FUT1", "--config", Repository.shippedConfig], environment: env)
        #expect(shown.status == 0 && shown.stdout.contains("NFO") && shown.stdout.contains("75"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func theDaemonTakesTypesLotsAndChargesFromTheMasterReportsAStoppedStrategyAndResetsAStaleRunningFlag() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db)
        try db.query("UPDATE strategies SET is_active = false")
        // A crash left a strategy marked running that is not active: the start resets it.
        try db.query("UPDATE strategies SET is_running = true WHERE strategy_id = $1::uuid", [ids.strategyID])
        let dir = NSTemporaryDirectory() + "algotrader-rules-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let env = ["ALGOTRADER_DATABASE_URL": url]
        try (Self.header + "\n13238786,51714,NIFTYFUT,NIFTY,0,2026-12-29,0,0.05,75,FUT,NFO-FUT,NFO\n")
            .write(toFile: dir + "/instruments.csv", atomically: true, encoding: .utf8)
        #expect(try CommandRunner.algotrader(["instruments", "import", dir + "/instruments.csv", "--config", Repository.shippedConfig], environment: env).status == 0)
        try "date,exchange,description\n2026-12-25,NFO,Christmas\n25-Dec-2026,NSE,Christmas\n".write(toFile: dir + "/holidays.csv", atomically: true, encoding: .utf8)
        let holidays = try CommandRunner.algotrader(["calendar", "import", dir + "/holidays.csv", "--config", Repository.shippedConfig], environment: env)
        #expect(holidays.status == 0 && holidays.stdout.contains("imported 2 holidays"), "\(holidays.stderr)")
        let listed = try CommandRunner.algotrader(["calendar", "list", "--exchange", "NFO", "--config", Repository.shippedConfig], environment: env)
        #expect(listed.stdout.contains("2026-12-25  NFO     Christmas"))

        let lots = try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1, 'lots', 'sma_crossover', '{"symbol": "NIFTYFUT", "exchange": "NFO", "fast": 5, "slow": 20, "quantity": 75, "product": "NRML"}')
            RETURNING strategy_id
            """, [ids.userID]).scalar!
        let odd = try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1, 'odd', 'sma_crossover', '{"symbol": "NIFTYFUT", "exchange": "NFO", "fast": 5, "slow": 20, "quantity": 10}')
            RETURNING strategy_id
            """, [ids.userID]).scalar!
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_CHARGES_ENABLED": "true"])
        #expect(try DaemonStrategyTests.waitFor(10) { try db.query("SELECT count(*) FROM strategies WHERE is_running").scalar == "2" })
        #expect(try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [ids.strategyID]).scalar == "f",
                "a stale is_running is reset at start")

        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "NIFTYFUT", "NFO", "3000", "7", dir + "/prices.json"]) == 0)
        #expect(try DaemonStrategyTests.waitFor(20) {
            try db.query("SELECT count(*) FROM trades WHERE strategy_id = $1::uuid AND status = 'FILLED'", [lots]).scalar.flatMap { Int($0) } ?? 0 > 10
        })
        let filled = try db.query("""
            SELECT DISTINCT instrument_type, product, validity, algo_id, charges > 0 FROM trades WHERE strategy_id = $1::uuid AND status = 'FILLED'
            """, [lots]).rows
        #expect(filled == [["FUT", "NRML", "DAY", "TEST-ALGO-1", "t"]], "type from the master, product from the strategy, the algo id, charges")
        let refused = try db.query("SELECT DISTINCT status, metadata->>'reason' FROM trades WHERE strategy_id = $1::uuid", [odd]).rows
        #expect(refused == [["REJECTED", "quantity 10 is not a multiple of the lot size 75 of NIFTYFUT@NFO"]])
        let logged = try db.query("""
            SELECT count(*) FROM trade_logs l JOIN trades t USING (trade_id)
            WHERE t.strategy_id = $1::uuid AND l.data ? 'stt_ctt' AND (l.data->>'charges')::numeric > 0
            """, [lots]).scalar
        #expect(Int(logged ?? "0") ?? 0 > 10, "each execution stores its charges")
        // Net = gross - charges, on positions and the strategy's day.
        #expect(try DaemonStrategyTests.waitFor(5) {
            try db.query("SELECT count(*) FROM positions WHERE realized_pnl <> gross_realized_pnl - charges").scalar == "0"
        })
        let day = try db.query("SELECT total_pnl::text, gross_pnl::text, charges::text FROM strategy_performance WHERE strategy_id = $1::uuid", [lots]).rows.first
        let (net, gross, charges) = (FixedDecimal(day?[0] ?? "")!, FixedDecimal(day?[1] ?? "")!, FixedDecimal(day?[2] ?? "")!)
        #expect(charges.units > 0 && (gross.units - charges.units - net.units).magnitude <= 100, "net \(net) = gross \(gross) - charges \(charges), to the paisa")

        // Deactivate it (it may hold a position): on SIGHUP a position stays and is reported.
        try db.query("UPDATE strategies SET is_active = false WHERE strategy_id = $1::uuid", [lots])
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(try DaemonStrategyTests.waitFor(10) {
            try db.query("SELECT count(*) FROM system_logs WHERE component = 'strategy' AND message LIKE $1", ["strategy \(lots) stopped%"]).scalar == "1"
        })
        let report = try db.query("SELECT message FROM system_logs WHERE component = 'strategy' AND message LIKE $1", ["strategy \(lots) stopped%"]).scalar ?? ""
        // The report is the desk's view when it stopped; the stored rows catch up with it.
        #expect(try DaemonStrategyTests.waitFor(5) {
            let open = try db.query("SELECT quantity FROM positions WHERE user_id = $1::uuid AND status <> 'CLOSED' AND quantity <> 0", [ids.userID]).scalar
            return open.map { report.hasSuffix("open positions kept: NIFTYFUT@NFO \($0)") } ?? report.hasSuffix("with no open position")
        }, "\(report)")
        Thread.sleep(forTimeInterval: 1.5)
        let after = try db.query("SELECT quantity FROM positions WHERE user_id = $1::uuid AND status <> 'CLOSED' AND quantity <> 0", [ids.userID]).scalar
        #expect(after.map { report.hasSuffix("NIFTYFUT@NFO \($0)") } ?? report.hasSuffix("with no open position"), "the position is kept, not closed")
        #expect(try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [lots]).scalar == "f")
        #expect(daemon.stop() == 0)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
