import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore

/// The real `algotrader serve` process, fed by a publisher written in Python with pyzmq.
@Suite("Daemon driven by a pyzmq publisher")
struct DaemonWithPyzmqPublisherTests {
    struct Expected: Decodable {
        struct Row: Decodable {
            let symbol: String
            let exchange: String
            let ts_us: Int64
            let price: String
            let qty: Int64
        }
        let ticks: [Row]
        let bad_sent: Int
    }

    @Test func everyPublishedTickIsStoredExactlyOnceWithExactPrices() throws {
        let url = try TestDatabase.makeMigrated()
        let daemon = try DaemonProcess(databaseURL: url)
        let count = 20_000
        let expectedPath = "\(daemon.directory)/expected.json"
        #expect(try DaemonProcess.python("publish_ticks.py", [daemon.feed, String(count), expectedPath, "1000"]) == 0,
                "the pyzmq publisher (pip package pyzmq) ran")

        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: expectedPath)))
        #expect(expected.ticks.count == count)
        #expect(expected.bad_sent == 1000)

        let db = try TestDatabase.connect(url)
        let deadline = Date().addingTimeInterval(30)
        var stored = 0
        while Date() < deadline {
            // Ticks only: the daemon's strategy pipeline also stores bars in market_data.
            stored = Int(try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar ?? "0") ?? 0
            if stored >= count { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(daemon.stop() == 0, "SIGTERM: drain, flush, exit 0")

        let rows = try db.query("""
            SELECT symbol, exchange, (extract(epoch FROM "timestamp") * 1000000)::bigint, close::text, open::text, volume,
                   tick_data->>'seq'
            FROM market_data WHERE "interval" = 'tick' ORDER BY (tick_data->>'seq')::bigint
            """).rows
        #expect(rows.count == count, "resent seq values stored nothing twice")
        for (row, tick) in zip(rows, expected.ticks) {
            #expect(row[0] == tick.symbol && row[1] == tick.exchange)
            #expect(Int64(row[2] ?? "") == tick.ts_us)
            #expect(FixedDecimal(row[3] ?? "") == FixedDecimal(tick.price), "price \(tick.price) stored exactly")
            #expect(row[3] == row[4])
            #expect(Int64(row[5] ?? "") == tick.qty)
        }
        let summary = try db.query("SELECT data->>'bad', data->>'duplicates' FROM system_logs WHERE message = 'ingest stopped'").rows
        #expect(summary.first?[0] == "1000")
        #expect(Int(summary.first?[1] ?? "0")! > 0, "the publisher's resends were seen and dropped")
    }
}
