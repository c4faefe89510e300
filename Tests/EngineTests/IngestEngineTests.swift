import Config
import Engine
import Foundation
import Logging
import Postgres
import TestSupport
import Testing
import TradingCore
import ZeroMQ

/// The whole spine in process: a real ZeroMQ publisher, the engine's threads, a real PostgreSQL.
@Suite("Ingest engine end to end")
struct IngestEngineTests {
    static func temporaryEndpoint() -> String {
        "ipc://" + NSTemporaryDirectory() + "algotrader-test-\(UUID().uuidString.prefix(8)).ipc"
    }

    static func config(databaseURL: String, feed: String, extra: [String: String] = [:]) throws -> EngineConfig {
        var environment = [
            "ALGOTRADER_DATABASE_URL": databaseURL,
            "ALGOTRADER_MARKET_DATA_CONNECT": feed,
            "ALGOTRADER_BUS_BIND": temporaryEndpoint(),
            "ALGOTRADER_INGEST_FLUSH_INTERVAL_MS": "20",
            "ALGOTRADER_LOGGING_BAD_MESSAGE_LOG_INTERVAL_SECONDS": "1",
        ]
        environment.merge(extra) { $1 }
        return try ConfigLoader().load(file: nil, environment: environment)
    }

    /// Binds an XPUB and waits for the engine's subscription, so nothing is lost to the
    /// slow-joiner race of PUB/SUB.
    static func publisher(_ context: ZMQContext, endpoint: String) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .xpub, linger: 5_000)
        try socket.setSendHighWaterMark(0)
        try socket.bind(endpoint)
        try socket.setReceiveTimeout(milliseconds: 10_000)
        let subscription = try #require(try socket.receive())
        #expect(subscription.first?.first == 1)
        return socket
    }

    static func waitFor(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    static func now() -> Timestamp { SystemClock().now() }

    /// A migrated database, a started engine, and a publisher its subscription reached.
    static func running(extra: [String: String] = [:]) throws -> (url: String, engine: IngestEngine, publisher: ZMQSocket, context: ZMQContext) {
        let url = try TestDatabase.makeMigrated()
        let endpoint = temporaryEndpoint()
        let context = try ZMQContext()
        let engine = IngestEngine(config: try config(databaseURL: url, feed: endpoint, extra: extra), context: context, logger: Logger(label: "test"))
        try engine.start()
        return (url, engine, try publisher(context, endpoint: endpoint), context)
    }

    @Test func thousandMalformedMessagesOfManyKindsLoseNoValidTickAndCrashNothing() throws {
        let (url, engine, publisher, _) = try Self.running()

        let now = Self.now()
        let nowText = now.description
        let malformed: [[[UInt8]]] = [
            [Array("tick.NSE.X".utf8), Array("garbage".utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","exchange":"NSE","ts":"\#(nowText)","price":1"#.utf8)],
            [Array("tick.NSE.X".utf8), Array("[1]".utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"exchange":"NSE","ts":"\#(nowText)","price":1}"#.utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","exchange":"NSE","ts":"\#(nowText)","price":"1"}"#.utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","exchange":"NSE","ts":"\#(nowText)","price":1.00001}"#.utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","exchange":"NSE","ts":"2000-01-01T00:00:00Z","price":1}"#.utf8)],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","exchange":"NSE","ts":"noon","price":1}"#.utf8)],
            [Array("tick.NSE.X".utf8), [UInt8](repeating: 0x20, count: 200_000)],
            [Array("tick.NSE.X".utf8)],
            [Array("tick.NSE.X".utf8), Array("{}".utf8), Array("{}".utf8)],
            [Array("tick.NSE.X".utf8), [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]],
            [Array("tick.NSE.X".utf8), Array(#"{"symbol":"X","symbol":"Y","exchange":"NSE","ts":"\#(nowText)","price":1}"#.utf8)],
        ]
        var expected: [String: String] = [:]  // symbol -> exact price text
        var generator = SyntheticTickGenerator(symbols: ["INFY", "TCS"], seed: 7, session: "s")
        var sentBad = 0
        for i in 0..<3_000 {
            var tick = generator.next(at: now.adding(nanoseconds: Int64(i) * 1_000))
            tick.symbol = "SYM\(i)"
            tick.price = FixedDecimal(units: 10_000 + Int64(i) * 25)  // 1.0025 steps: CDS-like
            tick.sequence = nil
            expected[tick.symbol] = tick.price.description
            try publisher.send([Array(TickJSONEncoder.topic(for: tick).utf8), TickJSONEncoder.encode(tick)])
            if i % 3 == 0 {
                try publisher.send(malformed[sentBad % malformed.count])
                sentBad += 1
            }
        }
        #expect(sentBad == 1_000)
        #expect(Self.waitFor { engine.counters.snapshot().stored == 3_000 && engine.counters.snapshot().badTotal == 1_000 })
        let summary = engine.stop()
        #expect(summary.stored == 3_000)
        #expect(summary.received == 4_000)
        #expect(summary.badTotal == 1_000)
        // 1,000 messages over 13 kinds: kinds 0-11 sent 77 times each, kind 12 76 times.
        #expect(summary.bad == [
            .notJSON: 3 * 77,  // garbage, truncated, invalid UTF-8
            .notObject: 77, .missingField: 77, .wrongType: 77, .outOfRange: 77, .timestampOutOfWindow: 77,
            .badTimestamp: 77, .tooLarge: 77,
            .badFrames: 2 * 77,  // one frame, three frames
            .duplicateField: 76,
        ])
        let db = try TestDatabase.connect(url)
        let rows = try db.query(#"SELECT symbol, close::text FROM market_data WHERE "interval" = 'tick'"#).rows
        #expect(rows.count == 3_000)
        var stored: [String: String] = [:]
        for row in rows { stored[row[0]!] = row[1]! }
        for (symbol, price) in expected {
            #expect(FixedDecimal(stored[symbol] ?? "") == FixedDecimal(price), "\(symbol) stored exactly")
        }
        let logged = try db.query("SELECT count(*) FROM system_logs WHERE component = 'ingest' AND log_level = 'WARNING'").scalar
        #expect(Int(logged ?? "0")! >= 8, "each bad-message reason is reported to system_logs")
    }

    @Test func resentSequenceNumbersAreStoredOnceAndGapsAreCounted() throws {
        let (url, engine, publisher, _) = try Self.running()
        let now = Self.now()
        func send(_ seq: Int64, session: String = "run-1") throws {
            let tick = Tick(symbol: "INFY", exchange: "NSE", timestamp: now, price: FixedDecimal(seq + 1), source: "feed-a", session: session, sequence: seq)
            try publisher.send([Array("tick.NSE.INFY".utf8), TickJSONEncoder.encode(tick)])
        }
        for seq in Int64(1)...100 { try send(seq) }
        for seq in Int64(50)...100 { try send(seq) }  // the publisher resends after a reconnect
        try send(105)                                   // 101...104 lost
        try send(1, session: "run-2")                   // a restarted publisher
        #expect(Self.waitFor { engine.counters.snapshot().stored == 102 })
        let summary = engine.stop()
        #expect(summary.duplicates == 51)
        #expect(summary.gaps == 1)
        #expect(summary.missingSequenceNumbers == 4)
        let db = try TestDatabase.connect(url)
        #expect(try db.query("SELECT count(*), count(DISTINCT (tick_data->>'session', tick_data->>'seq')) FROM market_data").rows[0] == ["102", "102"])
        let gapLog = try db.query("SELECT message FROM system_logs WHERE message LIKE '%sequence gap%'").scalar
        #expect(gapLog?.contains("101-104") == true)
    }

    @Test func stopFlushesEveryAcceptedTickBeforeReturning() throws {
        // A long flush interval and big batches: only the stop can make these ticks durable.
        let (url, engine, publisher, _) = try Self.running(extra: [
            "ALGOTRADER_INGEST_FLUSH_INTERVAL_MS": "60000", "ALGOTRADER_INGEST_BATCH_SIZE": "100000",
        ])
        var generator = SyntheticTickGenerator(seed: 3, session: "flush")
        for _ in 0..<5_000 {
            let tick = generator.next(at: Self.now())
            try publisher.send([Array(TickJSONEncoder.topic(for: tick).utf8), TickJSONEncoder.encode(tick)])
        }
        #expect(Self.waitFor { engine.counters.snapshot().accepted == 5_000 })
        #expect(engine.counters.snapshot().stored == 0)
        let summary = engine.stop()
        #expect(summary.stored == 5_000)
        #expect(try TestDatabase.connect(url).query("SELECT count(*) FROM market_data").scalar == "5000")
    }

    @Test func bindingAnEndpointInUseFailsNamingTheKey() throws {
        let url = try TestDatabase.makeMigrated()
        let context = try ZMQContext()
        let blocker = try ZMQSocket(context: context, type: .pub)
        try blocker.bind("tcp://127.0.0.1:*")
        let taken = try blocker.lastEndpoint()
        let engine = IngestEngine(config: try Self.config(databaseURL: url, feed: Self.temporaryEndpoint(), extra: [
            "ALGOTRADER_MARKET_DATA_BIND": taken,
        ]), context: context, logger: Logger(label: "test"))
        #expect {
            try engine.start()
        } throws: { error in
            guard case EngineStartError.socket(let key, let endpoint, _) = error else { return false }
            return key == "market_data.bind" && endpoint == taken
        }
    }
}
