import Foundation
import Histogram
import Postgres
import Storage
import ZeroMQ

/// Row 4c: a user's strategy on the Python SDK against the real daemon, under the same 10,000
/// ticks/s load as 4b (RELIANCE 200 ticks/s among 19 other symbols): publisher send -> the SDK
/// strategy's handler -> its LIMIT order -> the order's OPEN event back at the SDK. The probe
/// (Benchmarks/python/sdk_latency_probe.py) places an order on every RELIANCE tick it gets and
/// cancels it once OPEN; it also splits each figure into the tick's delivery and the order's
/// round trip, which say what bounds the total.
struct SDKLatencyBenchmark {
    let adminURL: String
    let binary: String
    let seconds: Double
    let rate = 10_000

    struct Figures {
        var total = Self.histogram(), delivery = Self.histogram(), roundTrip = Self.histogram()
        static func histogram() -> Histogram<UInt64> { Histogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three) }
    }

    func run() throws -> ResultRow {
        let f = try measure()
        func ms(_ h: Histogram<UInt64>, _ p: Double) -> String { formatted(Double(h.valueAtPercentile(p)) / 1_000_000, decimals: 2) }
        return ResultRow(
            number: "4c", measure: "latency, publisher send -> SDK strategy (Python, strategy socket) -> its order's OPEN event back at the SDK, \(formatted(Double(rate))) ticks/s load",
            result: "p50 \(ms(f.total, 50)) ms, p99 \(ms(f.total, 99)) ms, p99.9 \(ms(f.total, 99.9)) ms (n = \(f.total.totalCount))",
            baseline: "its parts: tick delivery p50 \(ms(f.delivery, 50)) / p99 \(ms(f.delivery, 99)) ms; order -> OPEN p50 \(ms(f.roundTrip, 50)) / p99 \(ms(f.roundTrip, 99)) ms",
            ratio: "-", target: "p99 <= 3 ms",
            met: f.total.totalCount > 0 && f.total.valueAtPercentile(99) <= 3_000_000)
    }

    private func measure() throws -> Figures {
        let (url, db, user) = try LatencyBenchmark.freshDatabase(adminURL: adminURL, name: "bench_sdk_latency")
        let strategyID = try db.query("""
            INSERT INTO strategies (user_id, name, strategy_type, parameters)
            VALUES ($1::uuid, 'probe', 'external', '{"instruments": ["NSE:RELIANCE"]}') RETURNING strategy_id::text
            """, [user]).scalar!
        let dir = NSTemporaryDirectory() + "algotrader-sdk-latency-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var environment = DurableIngestBenchmark.daemonEnvironment(url: url, dir: dir, feed: "ipc://\(dir)/feed.ipc")
        environment["ALGOTRADER_LOGGING_LEVEL"] = "error"
        // As in 4b: an order and a cancel on every RELIANCE tick, past the order controls.
        for key in LatencyBenchmark.uncontrolled { environment[key] = "0" }
        let token = try Self.output(binary, ["strategy", "token", "probe"], environment: environment)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = ["serve"]
        daemon.environment = environment
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }

        let samples = "\(dir)/samples.json"
        let root = FileManager.default.currentDirectoryPath
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "\(root)/Benchmarks/python/sdk_latency_probe.py", samples]
        probe.environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PYTHONPATH": "\(root)/sdk/python",
            "ALGOTRADER_STRATEGY_ENDPOINT": "ipc://\(dir)/strategies.ipc", "ALGOTRADER_STRATEGY": "probe", "ALGOTRADER_STRATEGY_TOKEN": token,
        ]
        try probe.run()
        defer { if probe.isRunning { kill(probe.processIdentifier, SIGKILL); probe.waitUntilExit() } }

        let context = try ZMQContext()
        let publisher = try ZMQSocket(context: context, type: .xpub, linger: 1_000)
        try publisher.bind("ipc://\(dir)/feed.ipc")
        try publisher.setReceiveTimeout(milliseconds: 30_000)
        _ = try publisher.receive()  // the daemon subscribed
        let connected = Date().addingTimeInterval(30)
        while try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [strategyID]).scalar != "t" {
            guard Date() < connected, probe.isRunning else { throw DurableIngestBenchmark.BenchError("the SDK probe did not connect") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)
        try LatencyBenchmark.publish(publisher, rate: rate, seconds: seconds)
        Thread.sleep(forTimeInterval: 3)
        kill(probe.processIdentifier, SIGTERM)  // on_stop writes the samples
        probe.waitUntilExit()
        daemon.terminate()
        daemon.waitUntilExit()
        guard let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: samples))) as? [[Int]] else {
            throw DurableIngestBenchmark.BenchError("the SDK probe wrote no samples")
        }
        var figures = Figures()
        for row in rows where row.count == 3 {
            _ = figures.total.record(UInt64(max(0, row[0])))
            _ = figures.delivery.record(UInt64(max(0, row[1])))
            _ = figures.roundTrip.record(UInt64(max(0, row[2])))
        }
        return figures
    }

    /// A command's stdout, trimmed; a failure says its stderr.
    static func output(_ binary: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = out.fileHandleForReading.readDataToEndOfFile()
        let problem = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DurableIngestBenchmark.BenchError("\(arguments.joined(separator: " ")): \(String(decoding: problem, as: UTF8.self))")
        }
        return String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
