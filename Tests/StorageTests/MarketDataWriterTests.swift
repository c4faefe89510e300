import Foundation
import Postgres
import Storage
import TestSupport
import Testing
import TradingCore

@Suite("Tick COPY writer on a real PostgreSQL")
struct MarketDataWriterTests {
    static func now() -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000_000))
    }

    @Test func storesTicksExactlyWithTheirExtraFieldsInTickData() throws {
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let now = Self.now()
        let ticks = [
            Tick(symbol: "USDINR", exchange: "CDS", timestamp: now.adding(nanoseconds: 123), price: FixedDecimal("83.2525")!,
                 quantity: 7, volume: 1_000, openInterest: WideDecimal("12345.5")!, bid: FixedDecimal("83.25")!,
                 ask: FixedDecimal("83.255")!, bidQuantity: 1, askQuantity: 2, source: "src\t\"q\"\\", session: "s\n1", sequence: 9),
            Tick(symbol: "M&M\\x", exchange: "NSE", timestamp: now, price: FixedDecimal("99999999999999.9999")!),
        ]
        let batch = try #require(writer.prepare(ticks[...], now: now))
        #expect(try writer.write(batch, afterUnknownOutcome: false).stored == 2)
        let db = try TestDatabase.connect(url)
        let rows = try db.query("""
            SELECT symbol, exchange, open, high, low, close, volume, oi, "interval", tick_data::text, data_id::text
            FROM market_data ORDER BY symbol DESC
            """).rows
        #expect(rows.count == 2)
        #expect(rows[0][0] == "USDINR")
        #expect(rows[0][2] == "83.2525" && rows[0][5] == "83.2525")
        #expect(rows[0][6] == "7", "volume is the tick's qty")
        #expect(rows[0][7] == "12345.5000")
        #expect(rows[0][8] == "tick")
        let tickData = try #require(rows[0][9])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(tickData.utf8)) as? [String: Any])
        #expect(json["src"] as? String == "src\t\"q\"\\")
        #expect(json["session"] as? String == "s\n1")
        #expect(json["seq"] as? Int == 9)
        #expect(json["volume"] as? Int == 1_000)
        #expect((json["ask"] as? NSNumber)?.stringValue == "83.255")
        #expect(json["ts_ns"] != nil, "sub-microsecond time is kept")
        #expect(rows[1][0] == "M&M\\x")
        #expect(rows[1][2] == "99999999999999.9999", "the largest price the schema holds, exactly")
        #expect(rows[1][7] == nil)
        #expect(rows[0][10]?.dropFirst(14).first == "7", "client-made UUIDv7")
    }

    @Test func timestampsAreStoredToTheMicrosecond() throws {
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let nowish = Self.now()
        let shifted = Timestamp(nanosecondsSinceEpoch: nowish.nanosecondsSinceEpoch - (nowish.nanosecondsSinceEpoch % 1_000_000_000) + 123_456_000)
        let batch = try #require(writer.prepare([Tick(symbol: "A", exchange: "NSE", timestamp: shifted, price: FixedDecimal(1))][...], now: nowish))
        _ = try writer.write(batch, afterUnknownOutcome: false)
        let db = try TestDatabase.connect(url)
        let stored = try db.query(#"SELECT to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM market_data"#).scalar
        #expect(stored == shifted.description)
    }

    @Test func rewritingABatchWhoseOutcomeWasUnknownStoresNothingTwice() throws {
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let now = Self.now()
        let ticks = (0..<100).map { Tick(symbol: "S\($0)", exchange: "NSE", timestamp: now, price: FixedDecimal(Int64($0 + 1))) }
        let batch = try #require(writer.prepare(ticks[...], now: now))
        #expect(try writer.write(batch, afterUnknownOutcome: false).stored == 100)
        #expect(try writer.write(batch, afterUnknownOutcome: true).stored == 0)
        let db = try TestDatabase.connect(url)
        #expect(try db.query("SELECT count(*) FROM market_data").scalar == "100")
    }

    @Test func aBatchRefusedForOneRowsContentStoresEveryOtherRowAndQuarantinesThePoison() throws {
        // The decoder refuses NUL at the edge; this is the backstop for whatever else a column may
        // refuse: a NUL in a text column (22021) and in tick_data's jsonb (22P05), built in process.
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let now = Self.now()
        var ticks = (0..<1_000).map { Tick(symbol: "S\($0 % 7)", exchange: "NSE", timestamp: now, price: FixedDecimal(Int64($0 + 1))) }
        ticks[10].symbol = "BAD\u{0}SYMBOL"
        ticks[500].source = "feed\u{0}a"
        ticks[999].exchange = "N\u{0}"
        let batch = try #require(writer.prepare(ticks[...], now: now))
        let result = try writer.write(batch, afterUnknownOutcome: false)
        #expect(result == MarketDataWriter.WriteResult(stored: 997, quarantined: 3))
        let db = try TestDatabase.connect(url)
        #expect(try db.query("SELECT count(*) FROM market_data").scalar == "997")
        let quarantined = try QuarantineStore.list(kind: .tick, on: db)
        #expect(quarantined.count == 3)
        #expect(Set(quarantined.compactMap(\.sqlState)) == ["22021", "22P05"], "each with the database's refusal")
        #expect(quarantined.allSatisfy { !$0.reason.isEmpty })
        #expect(quarantined.contains { String(decoding: $0.record, as: UTF8.self).contains("BAD\u{0}SYMBOL") }, "the row exactly as it was")
        // Sent again as after an unknown outcome: nothing stored twice, nothing quarantined twice.
        #expect(try writer.write(batch, afterUnknownOutcome: true) == MarketDataWriter.WriteResult(stored: 0, quarantined: 3))
        #expect(try db.query("SELECT count(*) FROM market_data").scalar == "997")
        #expect(try db.query("SELECT count(*) FROM quarantine").scalar == "3")
    }

    @Test func aRetryAfterAnUnknownOutcomeStoresOnlyTheRowsNotYetStored() throws {
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let now = Self.now()
        let ticks = (0..<200).map { Tick(symbol: "R\($0)", exchange: "NSE", timestamp: now, price: FixedDecimal(Int64($0 + 1))) }
        let batch = try #require(writer.prepare(ticks[...], now: now))
        // Half of the rows stored by an attempt whose outcome was lost (as a split batch can leave it).
        let db = try TestDatabase.connect(url)
        try writer.ensurePartitions(from: now, to: now)
        let half = batch.rowBytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).prefix(100)
        try db.copyIn(TickCopyEncoder.copyStatement) { copy in
            for row in half { try copy.write(row + [UInt8(ascii: "\n")]) }
        }
        #expect(try writer.write(batch, afterUnknownOutcome: true).stored == 100)
        #expect(try db.query("SELECT count(*), count(DISTINCT data_id) FROM market_data").rows.first == ["200", "200"])
    }

    @Test func ticksOfAnyValidAgeFindAPartition() throws {
        let url = try TestDatabase.makeMigrated()
        let writer = MarketDataWriter(connectionString: url)
        let now = Self.now()
        let day = Timestamp.nanosecondsPerDay
        let ticks = [-29 * day - 3_600_000_000_000, -1, 0, day - 1].map {
            Tick(symbol: "X", exchange: "NSE", timestamp: now.adding(nanoseconds: $0), price: FixedDecimal(5))
        }
        let batch = try #require(writer.prepare(ticks[...], now: now))
        #expect(try writer.write(batch, afterUnknownOutcome: false).stored == 4)
    }

    @Test func systemLogsAreInsertedInOneStatement() throws {
        let url = try TestDatabase.makeMigrated()
        let store = SystemLogStore(connectionString: url)
        try store.insert([
            SystemLogEntry(component: "ingest", level: .warning, message: "dropped 3: not_json", data: #"{"count":3,"sample":"a\"b"}"#),
            SystemLogEntry(component: "ingest", level: .info, message: "with \"quotes\" and \\ and {braces}", data: nil),
        ])
        let db = try TestDatabase.connect(url)
        let rows = try db.query("SELECT log_level, message, data->>'sample' FROM system_logs ORDER BY log_level DESC").rows
        #expect(rows.count == 2)
        #expect(rows[0] == ["WARNING", "dropped 3: not_json", "a\"b"])
        #expect(rows[1][1] == "with \"quotes\" and \\ and {braces}")
    }
}
