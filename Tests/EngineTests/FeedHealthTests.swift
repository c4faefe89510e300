import Config
import Engine
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
import TradingCore
import ZeroMQ

/// Feed health through the real ingest engine, on a stepped clock set inside an NSE session.
@Suite("Feed health alarm end to end")
struct FeedHealthTests {
    final class SteppedClock: WallClock {
        let time: Mutex<Timestamp>
        init(_ start: Timestamp) { time = Mutex(start) }
        func now() -> Timestamp { time.withLock { $0 } }
        func advance(seconds: Int64) { time.withLock { $0 = $0.adding(nanoseconds: seconds * 1_000_000_000) } }
    }

    final class Reports: Sendable {
        let silent = Mutex<[Set<String>]>([])
    }

    @Test func aFeedSilentInSessionRaisesAnAlarmHaltsItsExchangeAndClearsWhenTicksReturn() throws {
        let url = try TestDatabase.makeMigrated()
        let endpoint = IngestEngineTests.temporaryEndpoint()
        let clock = SteppedClock(Timestamp.parseRFC3339("2026-11-24T10:00:00+05:30")!)
        let reports = Reports()
        let context = try ZMQContext()
        let engine = IngestEngine(config: try IngestEngineTests.config(databaseURL: url, feed: endpoint, extra: [
            "ALGOTRADER_FEED_HEALTH_SILENCE_SECONDS": "5",
        ]), context: context, clock: clock, logger: Logger(label: "test"), onFeedHealth: { silent in
            reports.silent.withLock { $0.append(silent) }
        })
        try engine.start()
        let publisher = try IngestEngineTests.publisher(context, endpoint: endpoint)
        func tick() throws {
            let payload = #"{"symbol":"INFY","exchange":"NSE","ts":\#(clock.now().nanosecondsSinceEpoch),"price":1500.5,"qty":1}"#
            try publisher.send(topic: "tick.NSE.INFY", payload: Array(payload.utf8))
        }
        try tick()
        #expect(IngestEngineTests.waitFor(10) { engine.counters.stored.load(ordering: .relaxed) == 1 })
        clock.advance(seconds: 10)
        #expect(IngestEngineTests.waitFor(5) { reports.silent.withLock { $0 } == [["NSE"]] }, "the alarm with the silent exchange")
        #expect(engine.feedSilences.load(ordering: .relaxed) == 1)
        try tick()
        #expect(IngestEngineTests.waitFor(5) { reports.silent.withLock { $0 } == [["NSE"], []] }, "cleared when ticks return")
        engine.stop()
        let db = try TestDatabase.connect(url)
        let logged = try db.query("SELECT log_level, message FROM system_logs WHERE component = 'feed' ORDER BY created_at").rows
        #expect(logged.count == 2 && logged.first?[0] == "ERROR" && logged.first?[1]?.contains("NSE feed has been silent") == true)
    }
}

