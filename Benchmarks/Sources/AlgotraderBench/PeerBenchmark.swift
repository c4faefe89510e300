import Foundation
import Postgres
import TradingCore
import ZeroMQ

/// Row 6b: a user's strategy on the Python SDK (sdk/python/examples/sma_crossover.py) replayed
/// in lock step (`algotrader replay --run`) over row 6's tape of stored ticks, beside
/// NautilusTrader's `BacktestEngine` running the same strategy logic on the same ticks
/// (Benchmarks/python/nautilus_sma_peer.py, from the CSV the bench database exports) and the
/// built-in `sma_crossover` replayed on them, all three timed as whole processes (start, loading
/// and the run). The fills must agree: the same count (else the row fails), and the bench says
/// whether sides, quantities and prices agree too. What bounds the SDK replay is measured in
/// the same run: the bench's own ROUTER driving a Python DEALER through lock-step round trips
/// over ipc, bare (pyzmq only) and with the SDK's decode of each tick.
struct PeerBenchmark {
    let adminURL: String
    let binary: String
    let ticks: Int
    let nautilusPython: String
    let boundMessages: Int
    let fast = 10, slow = 40, quantity = 1

    struct Fill: Equatable { let side: String, quantity: Int64, price: FixedDecimal }

    struct Replayed {
        let seconds: Double
        let fills: [Fill]
    }

    func run() throws -> (rows: [ResultRow], notes: [String]) {
        let setup = DurableIngestBenchmark(adminURL: adminURL, binary: binary, ticks: 0, rounds: 1)
        let url = try setup.database("bench_peer", migrated: true)
        let db = try PostgresConnection(connectionString: url)
        defer { db.close() }
        let user = try db.query("INSERT INTO users (username, email, password_hash, role) VALUES ('bench', 'bench@example.com', 'x', 'trader') RETURNING user_id").scalar!
        try db.query("INSERT INTO brokers (user_id, name, api_type, api_credentials_encrypted) VALUES ($1, 'paper', 'zerodha', '{}')", [user])
        let (from, to) = try ReplayBenchmark.storeTape(db, ticks: ticks)

        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        env["ALGOTRADER_DATABASE_URL"] = url
        // Fills as Nautilus makes them: no per-second order limits (a replay runs thousands of
        // ticks a second of wall time), no charges (they move P&L, not fills).
        for key in LatencyBenchmark.uncontrolled { env[key] = "0" }
        env["ALGOTRADER_CHARGES_ENABLED"] = "false"
        let config = ["--config", "config/algotrader.yaml"]
        let shape = #""fast": \#(fast), "slow": \#(slow), "quantity": \#(quantity)"#
        _ = try Self.checked(binary, ["strategy", "add", "--user", "bench", "--name", "sdk-sma", "--type", "external", "--inactive",
                                                 "--params", #"{"instruments": ["NSE:RELIANCE"], \#(shape)}"#] + config, env)
        _ = try Self.checked(binary, ["strategy", "add", "--user", "bench", "--name", "builtin-sma", "--type", "sma_crossover", "--inactive",
                                                 "--params", #"{"symbol": "RELIANCE", "exchange": "NSE", \#(shape)}"#] + config, env)

        // The same ticks for Nautilus, in the replay's order.
        let dir = NSTemporaryDirectory() + "algotrader-bench-peer-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = "\(dir)/ticks.csv"
        _ = try Self.checked("/usr/bin/env", ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", """
            \\copy (SELECT (extract(epoch FROM "timestamp") * 1000000)::bigint * 1000, close::text, volume FROM market_data \
            WHERE "interval" = 'tick' AND symbol = 'RELIANCE' AND exchange = 'NSE' AND "timestamp" >= '\(from)' AND "timestamp" < '\(to)' \
            ORDER BY "timestamp", data_id) TO '\(csv)' WITH (FORMAT csv)
            """], ProcessInfo.processInfo.environment)

        let root = FileManager.default.currentDirectoryPath
        let sdk = "\(root)/sdk/python"
        let command = "PYTHONPATH='\(sdk)' exec python3 '\(sdk)/examples/sma_crossover.py'"
        let range = ["--from", from, "--to", to, "--progress", "never"] + config
        let sdkRun = try replay(db, binary, ["replay", "--strategy", "sdk-sma", "--run", command] + range, env)
        let builtIn = try replay(db, binary, ["replay", "--strategy", "builtin-sma"] + range, env)

        let fillsFile = "\(dir)/nautilus-fills.csv"
        let nautilusStart = monotonic()
        let peer = try Self.checked(nautilusPython, ["\(root)/Benchmarks/python/nautilus_sma_peer.py", csv, "RELIANCE", "NSE",
                                                     String(fast), String(slow), String(quantity), fillsFile], ["PATH": env["PATH"] ?? "/usr/bin:/bin"])
        let nautilusSeconds = monotonic() - nautilusStart
        guard let line = peer.split(separator: "\n").last, let figures = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let peerTicks = figures["ticks"] as? Int, let runSeconds = figures["run_seconds"] as? Double,
              let loadSeconds = figures["load_seconds"] as? Double, let version = figures["nautilus_trader"] as? String else {
            throw DurableIngestBenchmark.BenchError("the Nautilus runner printed no figures: \(peer)")
        }
        let nautilusFills = try String(contentsOfFile: fillsFile, encoding: .ascii).split(separator: "\n").map { row -> Fill in
            let cells = row.split(separator: ",")
            guard cells.count == 3, let q = Int64(cells[1]), let p = FixedDecimal(String(cells[2])) else {
                throw DurableIngestBenchmark.BenchError("a bad Nautilus fill line: \(row)")
            }
            return Fill(side: String(cells[0]), quantity: q, price: p)
        }
        guard peerTicks == ticks else { throw DurableIngestBenchmark.BenchError("Nautilus read \(peerTicks) ticks of \(ticks)") }
        // The comparison means something only if both did the same work.
        guard sdkRun.fills.count == nautilusFills.count, builtIn.fills.count == sdkRun.fills.count else {
            throw DurableIngestBenchmark.BenchError("""
                fill counts differ: SDK replay \(sdkRun.fills.count), NautilusTrader \(nautilusFills.count), built-in \(builtIn.fills.count)
                """)
        }
        let same = sdkRun.fills == nautilusFills && builtIn.fills == sdkRun.fills

        let bare = try lockStepBound(mode: "bare", dir: dir)
        let decoded = try lockStepBound(mode: "sdk", dir: dir)
        let strategyBound = try lockStepBound(mode: "sma", dir: dir)

        let sdkRate = Double(ticks) / sdkRun.seconds, builtInRate = Double(ticks) / builtIn.seconds
        let nautilusRate = Double(ticks) / nautilusSeconds, nautilusRunRate = Double(ticks) / runSeconds
        let ratio = sdkRate / nautilusRate
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let row = ResultRow(
            number: "6b",
            measure: "replay of \(formatted(Double(ticks))) stored ticks (row 6's tape) by the SDK's sma_crossover.py in lock step (`replay --run`; fast \(fast), slow \(slow), qty \(quantity), MARKET), process start included, beside NautilusTrader \(version) `BacktestEngine` running the same logic on the same ticks; \(sdkRun.fills.count) fills each\(same ? ", same sides, quantities and prices" : " (sides/prices DIFFER)"); \(cores) cores",
            result: "SDK replay \(formatted(sdkRate)) ticks/s (\(formatted(sdkRun.seconds, decimals: 2)) s)",
            baseline: "NautilusTrader, process start, CSV load and run: \(formatted(nautilusRate)) ticks/s (\(formatted(nautilusSeconds, decimals: 2)) s; `engine.run()` alone \(formatted(nautilusRunRate)) ticks/s, \(formatted(runSeconds, decimals: 2)) s; load \(formatted(loadSeconds, decimals: 2)) s); built-in sma_crossover replay \(formatted(builtInRate)) ticks/s (\(formatted(builtIn.seconds, decimals: 2)) s); bound: \(formatted(Double(boundMessages))) lock-step round trips bench ROUTER <-> Python DEALER over ipc, bare pyzmq \(formatted(bare)) /s, the SDK's loop with an empty strategy \(formatted(decoded)) /s, with sma_crossover.py \(formatted(strategyBound)) /s",
            ratio: formatted(ratio, decimals: 2),
            target: "SDK replay >= 2x NautilusTrader (else the bound)",
            met: ratio >= 2)
        let note = "Row 6b: fills SDK replay \(sdkRun.fills.count), NautilusTrader \(nautilusFills.count) (\(figures["fill_events"] ?? "?") fill events, \(figures["orders"] ?? "?") orders), built-in \(builtIn.fills.count); the Nautilus figure is its whole process (`\(nautilusPython)`), the replays' are theirs."
        return ([row], [note])
    }

    /// One timed replay: its wall time, and its run's fills as `backtest_trades` has them.
    private func replay(_ db: PostgresConnection, _ binary: String, _ arguments: [String], _ env: [String: String]) throws -> Replayed {
        let start = monotonic()
        let outcome = try ReplayBenchmark.run(binary, arguments, env)
        let seconds = monotonic() - start
        guard outcome.status == 0 else { throw DurableIngestBenchmark.BenchError("\(arguments.prefix(3).joined(separator: " ")) failed: \(outcome.output)") }
        let run = try db.query("SELECT run_id::text FROM backtest_runs ORDER BY started_at DESC LIMIT 1").scalar!
        let fills = try db.query("""
            SELECT transaction_type, filled_quantity::text, average_price::text FROM backtest_trades
            WHERE run_id = $1::uuid AND filled_quantity > 0 ORDER BY seq
            """, [run]).rows.map { Fill(side: $0[0]!, quantity: Int64($0[1]!)!, price: FixedDecimal($0[2]!)!) }
        print("\(arguments.prefix(3).joined(separator: " ")): \(formatted(seconds, decimals: 2)) s, \(fills.count) fills")
        return Replayed(seconds: seconds, fills: fills)
    }

    /// Lock-step round trips a second: this process's ROUTER sends a tick message as the replay
    /// sends it (topic `tick`, the tick's JSON with its `step`) and waits for the Python DEALER's
    /// `done`, `boundMessages` times. `bare`: the answerer only receives and answers (pyzmq);
    /// `sdk`: the SDK's lock-step loop with a strategy doing nothing; `sma`: with the example's
    /// sma_crossover (Benchmarks/python/lockstep_bound.py).
    private func lockStepBound(mode: String, dir: String) throws -> Double {
        let endpoint = "ipc://\(dir)/bound-\(mode).ipc"
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router, linger: 0)
        defer { router.close() }
        try router.bind(endpoint)
        try router.setReceiveTimeout(milliseconds: 30_000)
        let root = FileManager.default.currentDirectoryPath
        let answerer = Process()
        answerer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        answerer.arguments = ["python3", "\(root)/Benchmarks/python/lockstep_bound.py", endpoint, mode]
        answerer.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PYTHONPATH": "\(root)/sdk/python"]
        try answerer.run()
        defer { if answerer.isRunning { kill(answerer.processIdentifier, SIGKILL); answerer.waitUntilExit() } }
        guard let hello = try router.receive(), hello.count == 3 else { throw DurableIngestBenchmark.BenchError("the bound's answerer did not connect") }
        let identity = hello[0]
        try router.send([identity, Array("welcome".utf8), Array(#"""
            {"strategy_id":"bound","name":"bound","lockstep":true,"positions":[],"parameters":{"instruments":["NSE:RELIANCE"],"fast":\#(fast),"slow":\#(slow),"quantity":\#(quantity)}}
            """#.utf8)])
        let topic = Array("tick".utf8), doneTopic = Array("done".utf8)
        let base = Timestamp(nanosecondsSinceEpoch: 1_796_614_200_000_000_000)
        let prices = (0..<100).map { FixedDecimal("2450.\(10 + $0 % 90)")! }
        let start = monotonic()
        for step in 1...boundMessages {
            let tick = Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: base.adding(nanoseconds: Int64(step) * 10_000_000),
                            price: prices[step % 100], quantity: Int64(1 + step % 7))
            var payload = TickJSONEncoder.encode(tick)
            payload.removeLast()
            payload.append(contentsOf: Array(#","step":\#(step)}"#.utf8))
            try router.send([identity, topic, payload])
            while true {  // an order the strategy sends comes before its done
                guard let answer = try router.receive(), answer.count == 3 else { throw DurableIngestBenchmark.BenchError("no done for step \(step)") }
                if answer[1] == doneTopic { break }
            }
        }
        let rate = Double(boundMessages) / (monotonic() - start)
        try router.send([identity, Array("stop".utf8), Array("{}".utf8)])
        answerer.waitUntilExit()
        print("lock-step bound (\(mode)): \(formatted(rate)) round trips/s")
        return rate
    }

    func monotonic() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// A process's stdout; a failure says its output.
    static func checked(_ executable: String, _ arguments: [String], _ environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        // stderr to a file, so neither pipe can fill while the other is read.
        let errPath = NSTemporaryDirectory() + "algotrader-bench-stderr-\(UUID().uuidString.prefix(8))"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
        let text = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let problem = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw DurableIngestBenchmark.BenchError("\(executable) \(arguments.first ?? ""): exit \(process.terminationStatus): \(problem)")
        }
        return String(decoding: text, as: UTF8.self)
    }
}
