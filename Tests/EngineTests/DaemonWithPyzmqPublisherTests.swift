import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore

/// The real `algotrader serve` process, fed by a publisher written in Python with pyzmq.
@Suite("Daemon driven by a pyzmq publisher")
struct DaemonWithPyzmqPublisherTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `algotrader` executable built beside the test bundle (`swift build --build-tests`
    /// builds it too).
    static func binary() throws -> URL {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("algotrader"))
        }
        candidates.append(repositoryRoot.appendingPathComponent(".build/debug/algotrader"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw Missing(what: "the algotrader binary (run 'swift build' first)")
        }
        return found
    }

    struct Missing: Error, CustomStringConvertible {
        let what: String
        var description: String { "missing \(what)" }
    }

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
        let dir = NSTemporaryDirectory() + "algotrader-daemon-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let feed = "ipc://\(dir)/feed.ipc"
        let count = 20_000

        let daemon = Process()
        daemon.executableURL = try Self.binary()
        daemon.arguments = ["serve", "--config", Self.repositoryRoot.appendingPathComponent("config/algotrader.yaml").path]
        var environment = ProcessInfo.processInfo.environment
        environment["ALGOTRADER_DATABASE_URL"] = url
        environment["ALGOTRADER_MARKET_DATA_CONNECT"] = feed
        environment["ALGOTRADER_BUS_BIND"] = "ipc://\(dir)/bus.ipc"
        environment["ALGOTRADER_LOGGING_LEVEL"] = "warning"
        daemon.environment = environment
        let daemonLog = FileHandle(forWritingAtPath: "/dev/null")
        daemon.standardError = daemonLog
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate() } }

        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let expectedPath = "\(dir)/expected.json"
        python.arguments = ["python3", Self.repositoryRoot.appendingPathComponent("Tests/python/publish_ticks.py").path,
                            feed, String(count), expectedPath, "1000"]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0, "the pyzmq publisher (pip package pyzmq) ran")

        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: expectedPath)))
        #expect(expected.ticks.count == count)
        #expect(expected.bad_sent == 1000)

        let db = try TestDatabase.connect(url)
        let deadline = Date().addingTimeInterval(30)
        var stored = 0
        while Date() < deadline {
            stored = Int(try db.query("SELECT count(*) FROM market_data").scalar ?? "0") ?? 0
            if stored >= count { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        daemon.terminate()  // SIGTERM: drain, flush, exit 0
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(daemon.terminationReason == .exit)

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
