import Dispatch
import Engine
import Foundation
import Histogram
import Logging
import Postgres
import Storage
import Synchronization
import TradingCore
import ZeroMQ

/// Row 4: latency under a 10,000 ticks/s background load, p50/p99/p99.9 from HdrHistogram.
/// (a) publisher send -> strategy intent, in process (receive thread, decode, shard, strategy);
/// (b) publisher send -> subscriber's receipt of the durable fill, through the real daemon and
/// PostgreSQL over loopback TCP, paper broker. Each tick's `ts` is its send time (wall clock of
/// this process), and intents and fills carry their tick's time, so latency = receipt − ts.
struct LatencyBenchmark {
    let adminURL: String
    let binary: String
    let seconds: Double
    let rate = 10_000

    final class Recorder: PipelineSink, Sendable {
        let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three))
        func closedBars(_ bars: [ClosedBar]) {}
        func intents(_ intents: [OrderIntent]) {
            let now = SystemClock().now().nanosecondsSinceEpoch
            histogram.withLock { h in for i in intents { _ = h.record(UInt64(max(0, now - i.time.nanosecondsSinceEpoch))) } }
        }
        func strategyFailed(_ identity: StrategyIdentity, error: String) {}
        func processed(ticks: Int) {}
    }

    static func percentiles(_ h: Histogram<UInt64>) -> String {
        func us(_ p: Double) -> String { formatted(Double(h.valueAtPercentile(p)) / 1_000, decimals: 1) }
        return "p50 \(us(50)) us, p99 \(us(99)) us, p99.9 \(us(99.9)) us (n = \(h.totalCount))"
    }

    /// Sends `rate` ticks/s for `seconds`: 19 background symbols, and every 50th tick RELIANCE on a
    /// random walk (200 ticks/s, on which sma_crossover 5/20 trades a few times a second).
    static func publish(_ socket: ZMQSocket, rate: Int, seconds: Double) throws {
        var rng = SplitMix64(seed: 21)
        var price: Int64 = 24_500_000
        let clock = SystemClock()
        let total = Int(Double(rate) * seconds)
        let start = monotonicNanoseconds()
        let others = SyntheticTickGenerator.nseSymbols.map(\.0).filter { $0 != "RELIANCE" }
        for i in 0..<total {
            let due = start + UInt64(i) * 1_000_000_000 / UInt64(rate)
            while true {
                let now = monotonicNanoseconds()
                if now >= due { break }
                if due - now > 100_000 { usleep(UInt32((due - now) / 2_000)) }
            }
            let symbol = i % 50 == 0 ? "RELIANCE" : others[i % others.count]
            if symbol == "RELIANCE" { price += (Int64(rng.next() % 9) - 4) * 500 }
            let tick = Tick(symbol: symbol, exchange: "NSE", timestamp: clock.now(),
                            price: symbol == "RELIANCE" ? FixedDecimal(units: price) : FixedDecimal(1000), quantity: 1)
            try socket.send([Array(TickJSONEncoder.topic(for: tick).utf8), TickJSONEncoder.encode(tick, timestampAsEpochNanoseconds: true)])
        }
    }

    func run() throws -> [ResultRow] {
        let intent = try tickToIntent()
        let fill = try tickToFill()
        return [
            ResultRow(number: "4a", measure: "latency, publisher send -> strategy intent, in process, \(formatted(Double(rate))) ticks/s load",
                      result: Self.percentiles(intent), baseline: "-", ratio: "-", target: "p50 <= 20 us, p99 <= 100 us (tick receipt to intent)",
                      met: intent.valueAtPercentile(50) <= 20_000 && intent.valueAtPercentile(99) <= 100_000),
            ResultRow(number: "4b", measure: "latency, publisher send -> subscriber receipt of the durable fill (daemon, PostgreSQL, TCP loopback)",
                      result: Self.percentiles(fill), baseline: "-", ratio: "-", target: "p50 <= 1 ms, p99 <= 3 ms",
                      met: fill.valueAtPercentile(50) <= 1_000_000 && fill.valueAtPercentile(99) <= 3_000_000),
        ]
    }

    func tickToIntent() throws -> Histogram<UInt64> {
        let context = try ZMQContext()
        let logger = Logger(label: "bench")
        let recorder = Recorder()
        let pipeline = StrategyPipeline(shardCount: 2, calendar: .standard, graceNanoseconds: 0, sink: recorder, logger: logger)
        pipeline.apply([StrategySpec(identity: StrategyIdentity(strategyID: "s", userID: "u", name: "s", brokerID: "b"), type: "sma_crossover",
                                     parameters: StrategyParameters(["symbol": .string("RELIANCE"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("1")]))]) {
            try StrategyFactory.make(type: $0.type, identity: $0.identity, parameters: $0.parameters)
        }
        let queue = TickQueue(capacity: 10_000_000)
        let drained = DispatchSemaphore(value: 0)
        Thread {
            while !queue.isClosedAndEmpty { _ = queue.take(max: 100_000, timeoutNanoseconds: 10_000_000) }
            drained.signal()
        }.start()
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 40_001...50_000))"
        let receiver = FeedReceiver(endpoint: endpoint, mode: .connect, context: context, decoder: TickDecoder(), receiveHighWaterMark: 0,
                                    queue: queue, sequences: SequenceBook(), counters: IngestCounters(),
                                    reporter: IncidentReporter(intervalSeconds: 60), clock: SystemClock(), logger: logger,
                                    consumers: [{ pipeline.submit($0) }])
        let publisher = try ZMQSocket(context: context, type: .xpub, linger: 1_000)
        try publisher.bind(endpoint)
        try receiver.start()
        _ = try publisher.receive()
        try Self.publish(publisher, rate: rate, seconds: seconds)
        pipeline.drain()
        receiver.stop(); receiver.join()
        queue.close(); drained.wait()
        return recorder.histogram.withLock { $0 }
    }

    /// A new database `name` on the server, migrated, with one trader and a paper broker account.
    static func freshDatabase(adminURL: String, name: String) throws -> (url: String, db: PostgresConnection, userID: String) {
        let admin = try PostgresConnection(connectionString: adminURL)
        try admin.execute("DROP DATABASE IF EXISTS \(name)")
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0")
        guard var components = URLComponents(string: adminURL) else { throw DurableIngestBenchmark.BenchError("bad url") }
        components.path = "/\(name)"
        let url = components.string!
        let db = try PostgresConnection(connectionString: url)
        try Migrator().migrate(db)
        let user = try db.query("INSERT INTO users (username, email, password_hash, role) VALUES ('bench', 'b@x', 'x', 'trader') RETURNING user_id").scalar!
        try db.query("INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1::uuid, 'paper', 'zerodha', '{}')", [user])
        return (url, db, user)
    }

    /// The order controls the latency rows switch off: the exchange order-rate limits and the
    /// order-ratio breaker (docs/risk.md) would refuse this load's bursts of orders, and the rows
    /// time the path, not the limits.
    static let uncontrolled = ["ALGOTRADER_CONTROLS_MAX_ORDERS_PER_SECOND_PER_USER", "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_MINUTE_PER_USER",
                               "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_SECOND_PER_STRATEGY", "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_MINUTE_PER_STRATEGY",
                               "ALGOTRADER_CONTROLS_BREAKER_ORDERS_PER_INTENT"]

    func tickToFill() throws -> Histogram<UInt64> {
        let (url, db, user) = try Self.freshDatabase(adminURL: adminURL, name: "bench_latency")
        try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1::uuid, 'fast', 'sma_crossover', '{"symbol": "RELIANCE", "fast": 5, "slow": 20, "quantity": 1}')
            """, [user])
        let dir = NSTemporaryDirectory() + "algotrader-latency-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = ["serve"]
        // The benchmarks' daemon environment, with the bus on loopback TCP (row 4b measures it).
        var environment = DurableIngestBenchmark.daemonEnvironment(url: url, dir: dir, feed: "ipc://\(dir)/feed.ipc")
        environment["ALGOTRADER_BUS_BIND"] = "tcp://127.0.0.1:45561"
        environment["ALGOTRADER_LOGGING_LEVEL"] = "error"
        // The row times the fill path, so every intent must become a fill: the exchange order-rate
        // limits and the order-ratio breaker (docs/risk.md) would refuse this load's bursts of
        // crossovers (an earlier run counted 81 fills for 133 intents with them on).
        for key in Self.uncontrolled { environment[key] = "0" }
        daemon.environment = environment
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }

        let context = try ZMQContext()
        let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three))
        let stop = Atomic<Bool>(false)
        let subscriberDone = DispatchSemaphore(value: 0)
        Thread {
            defer { subscriberDone.signal() }
            guard let sub = try? ZMQSocket(context: context, type: .sub) else { return }
            try? sub.subscribe("fill.")
            try? sub.connect("tcp://127.0.0.1:45561")
            while !stop.load(ordering: .relaxed) {
                guard (try? sub.poll(.readable, timeoutMilliseconds: 50))?.contains(.readable) == true,
                      let frames = try? sub.receive(dontWait: true), frames.count == 2 else { continue }
                let now = SystemClock().now().nanosecondsSinceEpoch
                guard let object = try? JSONSerialization.jsonObject(with: Data(frames[1])) as? [String: Any],
                      let ts = (object["ts"] as? String).flatMap(Timestamp.parseRFC3339) else { continue }
                // ts has microseconds: the tick's send time to the microsecond.
                histogram.withLock { _ = $0.record(UInt64(max(0, now - ts.nanosecondsSinceEpoch))) }
            }
        }.start()
        let publisher = try ZMQSocket(context: context, type: .xpub, linger: 1_000)
        try publisher.bind("ipc://\(dir)/feed.ipc")
        try publisher.setReceiveTimeout(milliseconds: 30_000)
        _ = try publisher.receive()  // the daemon subscribed
        Thread.sleep(forTimeInterval: 0.5)
        try Self.publish(publisher, rate: rate, seconds: seconds)
        Thread.sleep(forTimeInterval: 3)
        stop.store(true, ordering: .relaxed)
        subscriberDone.wait()
        daemon.terminate()
        daemon.waitUntilExit()
        return histogram.withLock { $0 }
    }
}
