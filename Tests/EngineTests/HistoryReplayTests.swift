import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore
import Engine

/// Issue 19: replays on imported candles when the range holds no ticks. Each bar is four ticks
/// (open, nearer extreme, other extreme, close), so an order made when a bar closes fills at the
/// next bar's open. Checked against models written apart from the engine: the built-in
/// rsi_mean_reversion on 5min bars rebuilt from 1min candles, and the SDK's bar_sma_crossover
/// over two instruments at once.
@Suite("Replays on imported bars")
struct HistoryReplayTests {
    typealias Candle = HistoryTests.Candle

    /// 5min bars from 1min candles of one session (09:15 onwards, every minute present).
    static func fiveMinute(_ candles: [Candle]) -> [Candle] {
        stride(from: 0, to: candles.count - 4, by: 5).map { i in
            let part = candles[i..<(i + 5)]
            return Candle(start: part.first!.start, open: part.first!.open, high: part.map(\.high).max()!, low: part.map(\.low).min()!,
                          close: part.last!.close, volume: part.reduce(0) { $0 + $1.volume })
        }
    }

    /// Wilder's RSI as the indicator's documentation defines it, written apart.
    static func rsi(_ closes: [Double], period: Int) -> [Double?] {
        var out: [Double?] = [nil]
        var avgGain = 0.0, avgLoss = 0.0
        for i in 1..<closes.count {
            let change = closes[i] - closes[i - 1]
            let gain = max(change, 0), loss = max(-change, 0)
            if i < period { avgGain += gain; avgLoss += loss; out.append(nil); continue }
            if i == period {
                avgGain = (avgGain + gain) / Double(period)
                avgLoss = (avgLoss + loss) / Double(period)
            } else {
                avgGain = (avgGain * Double(period - 1) + gain) / Double(period)
                avgLoss = (avgLoss * Double(period - 1) + loss) / Double(period)
            }
            out.append(avgLoss == 0 ? 100 : 100 - 100 / (1 + avgGain / avgLoss))
        }
        return out
    }

    /// (side, quantity, price in paise) per fill: a signal on 5min bar k fills at the open of
    /// the candle after it; the last bar never closes (nothing comes after it).
    static func rsiModel(_ candles: [Candle], period: Int, oversold: Double, overbought: Double, quantity: Int64) -> [(String, Int64, Int64)] {
        let bars = fiveMinute(candles)
        let values = rsi(bars.map { Double($0.close) / 100 }, period: period)
        var position: Int64 = 0
        var fills: [(String, Int64, Int64)] = []
        for k in 0..<bars.count where 5 * (k + 1) < candles.count {
            guard let value = values[k] else { continue }
            let next = candles[5 * (k + 1)].open
            if value < oversold && position == 0 {
                fills.append(("BUY", quantity, next)); position = quantity
            } else if value > overbought && position > 0 {
                fills.append(("SELL", position, next)); position = 0
            }
        }
        return fills
    }

    /// The bar crossover of the SDK example, written apart: exact means (cross-multiplied),
    /// signals once both windows were full on the previous bar.
    static func smaModel(_ candles: [Candle], fast: Int, slow: Int, quantity: Int64) -> [(String, Int64, Int64)] {
        let bars = fiveMinute(candles)
        var previous: Int?
        var position: Int64 = 0
        var fills: [(String, Int64, Int64)] = []
        for k in 0..<bars.count where 5 * (k + 1) < candles.count {
            guard k + 1 >= slow else { continue }
            let closes = bars[...k].map(\.close)
            let f = closes.suffix(fast).reduce(0, +) * Int64(slow), s = closes.suffix(slow).reduce(0, +) * Int64(fast)
            let now = f < s ? -1 : (f > s ? 1 : 0)
            defer { previous = now }
            guard let previous else { continue }
            let next = candles[5 * (k + 1)].open
            if previous <= 0 && now > 0 && position == 0 {
                fills.append(("BUY", quantity, next)); position = quantity
            } else if previous >= 0 && now < 0 && position > 0 {
                fills.append(("SELL", position, next)); position = 0
            }
        }
        return fills
    }

    static func imported(_ url: String, _ symbols: [(String, UInt64, Int64)]) throws -> [String: [Candle]] {
        let dir = try HistoryTests.directory()
        var out: [String: [Candle]] = [:]
        for (symbol, seed, base) in symbols {
            let candles = HistoryTests.candles(day: "2026-06-01", seed: seed, base: base)
            try HistoryTests.kiteCSV(candles).write(toFile: "\(dir)/\(symbol).csv", atomically: true, encoding: .utf8)
            let run = try HistoryTests.history(url, ["import", "\(dir)/\(symbol).csv", "--symbol", symbol, "--interval", "minute"])
            #expect(run.status == 0, "\(run.stderr)")
            out[symbol] = candles
        }
        return out
    }

    static func fills(_ db: PostgresConnection, symbol: String? = nil) throws -> [(String, Int64, Int64)] {
        let run = try #require(try db.query("SELECT run_id::text FROM backtest_runs ORDER BY started_at DESC LIMIT 1").scalar)
        return try db.query("""
            SELECT transaction_type, filled_quantity::text, average_price::text, status FROM backtest_trades
            WHERE run_id = $1::uuid AND ($2::text IS NULL OR symbol = $2) ORDER BY seq
            """, [run, symbol]).rows.map { r in
            #expect(r[3] == "FILLED", "every order fills: \(r)")
            return (r[0] ?? "", Int64(r[1] ?? "") ?? -1, (r[2].flatMap(FixedDecimal.init)?.units ?? 0) / 100)
        }
    }

    @Test func theBuiltInRSIStrategyReplaysOnImportedCandlesWithFillsAtTheNextBarsOpen() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let (ids, _) = try ReplayTests.trader(db)
        let candles = try Self.imported(url, [("HISTA", 11, 100_000)])["HISTA"]!
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters) VALUES ($1, 'rsi', 'rsi_mean_reversion',
                '{"symbol": "HISTA", "interval": "5min", "period": 5, "oversold": 30, "overbought": 70, "quantity": 10}')
            """, [ids.userID])
        let dir = try HistoryTests.directory()
        let outcome = try ReplayTests.replay(url, ["--strategy", "rsi", "--from", "2026-06-01", "--to", "2026-06-02",
                                                   "--trades-csv", dir + "/trades.csv", "--equity-csv", dir + "/equity.csv", "--equity-png", dir + "/chart.png"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("bars            375 1min bars"), "\(outcome.stdout)")
        let expected = Self.rsiModel(candles, period: 5, oversold: 30, overbought: 70, quantity: 10)
        #expect(expected.count >= 6 && Set(expected.map(\.0)) == ["BUY", "SELL"], "the wave crosses both levels: \(expected)")
        let got = try Self.fills(db)
        #expect(got.map { "\($0.0) \($0.1) \($0.2)" } == expected.map { "\($0.0) \($0.1) \($0.2)" })
        #expect(try db.query("SELECT array_to_string(instruments, ','), data_source, status FROM backtest_runs ORDER BY started_at DESC LIMIT 1").rows[0]
                == ["NSE:HISTA", "1min bars", "completed"])
        // The exports: a row per fill in the trade list, and a PNG.
        let trades = try String(contentsOfFile: dir + "/trades.csv", encoding: .utf8).split(separator: "\n")
        #expect(trades.first == "time,time_ist,order_id,symbol,exchange,side,quantity,price,realized,position" && trades.count == expected.count + 1)
        #expect(trades.dropFirst().first?.contains("HISTA,NSE,BUY,10,\(FixedDecimal(HistoryTests.rupees(expected[0].2))!)") == true, "\(trades.prefix(2))")
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/chart.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
        #expect(outcome.stdout.contains("per day (IST)") && outcome.stdout.contains("trades (IST)"), "\(outcome.stdout)")
    }

    @Test func anSDKStrategyReplaysOverTwoInstrumentsOfImportedCandlesInLockStep() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let (ids, _) = try ReplayTests.trader(db)
        let candles = try Self.imported(url, [("HISTA", 21, 100_000), ("HISTB", 22, 25_000)])
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters) VALUES ($1, 'bars', 'external',
                '{"instruments": ["NSE:HISTA", "NSE:HISTB"], "intervals": ["5min"], "fast": 3, "slow": 8, "quantity": 5}')
            """, [ids.userID])
        let sdk = Repository.root.appendingPathComponent("sdk/python").path
        let outcome = try ReplayTests.replay(url, ["--strategy", "bars", "--from", "2026-06-01", "--to", "2026-06-02",
                                                   "--run", "PYTHONPATH='\(sdk)' exec python3 '\(sdk)/examples/bar_sma_crossover.py'"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("bars            750 1min bars") && outcome.stdout.contains("on NSE:HISTA, NSE:HISTB"), "\(outcome.stdout)")
        for symbol in ["HISTA", "HISTB"] {
            let expected = Self.smaModel(candles[symbol]!, fast: 3, slow: 8, quantity: 5)
            #expect(expected.count >= 4, "\(symbol) crosses a few times")
            #expect(try Self.fills(db, symbol: symbol).map { "\($0.0) \($0.1) \($0.2)" } == expected.map { "\($0.0) \($0.1) \($0.2)" }, "\(symbol)")
        }
        #expect(try db.query("SELECT array_to_string(instruments, ',') FROM backtest_runs ORDER BY started_at DESC LIMIT 1").scalar == "NSE:HISTA,NSE:HISTB")
    }

    @Test func aRangeWithoutTicksOrUsableBarsSaysWhatIsMissing() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let (ids, _) = try ReplayTests.trader(db)
        _ = try Self.imported(url, [("HISTA", 31, 100_000)])
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters) VALUES ($1, 'rsi', 'rsi_mean_reversion',
                '{"symbol": "HISTA", "interval": "5min", "quantity": 1}'), ($1, 'other', 'rsi_mean_reversion', '{"symbol": "NONE", "quantity": 1}')
            """, [ids.userID])
        // Ticks on the next day: the run is of ticks, and it says the day of bars is left out.
        try db.query("SELECT market_data_ensure_partitions('2026-06-02T04:00:00Z', '2026-06-02T04:00:00Z')")
        try db.query(#"INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval") VALUES ('HISTA', 'NSE', '2026-06-02T04:00:00Z', 1, 1, 1, 1, 1, 'tick')"#)
        let mixed = try ReplayTests.replay(url, ["--strategy", "rsi", "--from", "2026-06-01", "--to", "2026-06-03"])
        #expect(mixed.status == 0 && mixed.stdout.contains("ticks           1 ") && mixed.stderr.contains("note: the range holds ticks")
                && mixed.stderr.contains("375 stored bars outside that span are not replayed"), "\(mixed.stdout) \(mixed.stderr)")
        try db.query(#"DELETE FROM market_data WHERE "interval" = 'tick'"#)
        let empty = try ReplayTests.replay(url, ["--strategy", "other", "--from", "2026-06-01", "--to", "2026-06-02"])
        #expect(empty.status == 64 && empty.stderr.contains("no ticks or bars of NSE:NONE") && empty.stderr.contains("history import"), "\(empty.stderr)")
        // 5min bars alone cannot feed a strategy of 1min bars.
        try db.query(#"DELETE FROM market_data WHERE "interval" = '1min'"#)
        try db.query(#"INSERT INTO market_data (symbol, exchange, "timestamp", open, high, low, close, volume, "interval") VALUES ('HISTA', 'NSE', '2026-06-01T09:15:00+05:30', 1, 1, 1, 1, 1, '5min')"#)
        try db.query(#"UPDATE strategies SET parameters = parameters || '{"interval": "1min"}' WHERE name = 'rsi'"#)
        let coarse = try ReplayTests.replay(url, ["--strategy", "rsi", "--from", "2026-06-01", "--to", "2026-06-02"])
        #expect(coarse.status == 64 && coarse.stderr.contains("need 1min bars of NSE:HISTA") && coarse.stderr.contains("stored 5min"), "\(coarse.stderr)")
    }
}
