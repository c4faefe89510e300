import ArgumentParser
import Foundation

/// `make bench`: every figure beside its baseline, measured in the same run on the same machine,
/// so a noisy machine moves both sides together.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algotrader-bench",
        abstract: "Measure the engine beside its baselines and write docs/performance.md."
    )

    @Option(help: "PostgreSQL URL of a server the benchmark may create databases on.")
    var databaseURL: String

    @Option(help: "The release algotrader binary (publisher and daemon processes).")
    var binary: String

    @Option(help: "Ticks for the durable-ingest row.")
    var ticks: Int = 1_000_000

    @Option(help: "Rounds of the durable-ingest row (engine and COPY alternate); medians count.")
    var ingestRounds: Int = 3

    @Option(help: "Seconds of 10,000 ticks/s load for the latency rows.")
    var latencySeconds: Double = 10

    @Option(help: "Messages for the pipeline row.")
    var pipelineMessages: Int = 1_000_000

    @Option(help: "Distinct messages for the decode row.")
    var decodeMessages: Int = 100_000

    @Option(help: "Rounds of the decode row; the best round counts.")
    var decodeRounds: Int = 5

    @Option(help: "Where to write the Markdown report.")
    var output: String = "docs/performance.md"

    @Option(help: "Seconds of load for the memory row.")
    var memorySeconds: Int = 300

    @Option(help: "Ticks per second for the memory row.")
    var memoryRate: Int = 50_000

    @Option(help: "Stored ticks for the replay row.")
    var replayTicks: Int = 1_000_000

    @Option(help: "The python of a venv with nautilus_trader (row 6b's peer; Benchmarks/nautilus-venv.sh makes it).")
    var nautilusPython: String = ".build-bench/nautilus-venv/bin/python"

    @Option(help: "Lock-step round trips of row 6b's bound (each of its three answerers).")
    var boundMessages: Int = 1_000_000

    @Option(help: "Rows of the generated instruments file.")
    var instrumentRows: Int = 100_000

    @Flag(help: "A quick run with small sizes, to keep the harness working in CI.")
    var smoke = false

    @Flag(help: "Only the decode row (for profiling).")
    var decodeOnly = false

    mutating func run() throws {
        if smoke {
            ticks = min(ticks, 20_000)
            decodeMessages = min(decodeMessages, 10_000)
            pipelineMessages = min(pipelineMessages, 20_000)
            latencySeconds = min(latencySeconds, 1)
            decodeRounds = 1
            ingestRounds = 1
            memorySeconds = min(memorySeconds, 5)
            memoryRate = min(memoryRate, 5_000)
            replayTicks = min(replayTicks, 20_000)
            instrumentRows = min(instrumentRows, 10_000)
            boundMessages = min(boundMessages, 20_000)
        }
        var report = Report(smoke: smoke)
        if ProcessInfo.processInfo.environment["BENCH_MEMORY_ONLY"] != nil {  // row 5 alone (it takes minutes)
            report.add(try MemoryBenchmark(adminURL: databaseURL, binary: binary, seconds: memorySeconds, rate: memoryRate).run())
            print(report.table())
            return
        }
        if ProcessInfo.processInfo.environment["BENCH_REPLAY_ONLY"] != nil {  // rows 6 and 7 alone
            report.add(try ReplayBenchmark(adminURL: databaseURL, binary: binary, ticks: replayTicks, instruments: instrumentRows).run())
            print(report.table())
            return
        }
        if ProcessInfo.processInfo.environment["BENCH_PEER_ONLY"] != nil {  // row 6b alone (with its bound)
            let peer = try peer()
            report.add(peer.rows)
            report.notes += peer.notes
            print(report.table())
            print(peer.notes.joined(separator: "\n"))
            return
        }
        if ProcessInfo.processInfo.environment["BENCH_LATENCY_ONLY"] != nil {  // rows 4a and 4b alone (comparing builds)
            report.add(try LatencyBenchmark(adminURL: databaseURL, binary: binary, seconds: latencySeconds).run())
            report.add([try SDKLatencyBenchmark(adminURL: databaseURL, binary: binary, seconds: latencySeconds).run()])
            print(report.table())
            return
        }
        if ProcessInfo.processInfo.environment["BENCH_SDK_LATENCY_ONLY"] != nil {  // row 4c alone
            report.add([try SDKLatencyBenchmark(adminURL: databaseURL, binary: binary, seconds: latencySeconds).run()])
            print(report.table())
            return
        }
        if ProcessInfo.processInfo.environment["BENCH_PIPELINE_ONLY"] != nil {  // for profiling
            report.add(try PipelineBenchmark(messages: pipelineMessages).run())
            print(report.table())
            return
        }
        let decode = try DecodeBenchmark(messages: decodeMessages, rounds: decodeRounds).run()
        report.add(decode.rows)
        print(report.table())
        if decodeOnly { return }
        report.add(try PipelineBenchmark(messages: pipelineMessages).run())
        print(report.table())
        report.add(try LatencyBenchmark(adminURL: databaseURL, binary: binary, seconds: latencySeconds).run())
        report.add([try SDKLatencyBenchmark(adminURL: databaseURL, binary: binary, seconds: latencySeconds).run()])
        print(report.table())
        let ingest = try DurableIngestBenchmark(adminURL: databaseURL, binary: binary, ticks: ticks, rounds: ingestRounds).run()
        report.add(ingest.rows)
        report.notes += ingest.notes
        print(report.table())
        report.add(try MemoryBenchmark(adminURL: databaseURL, binary: binary, seconds: memorySeconds, rate: memoryRate).run())
        print(report.table())
        report.add(try ReplayBenchmark(adminURL: databaseURL, binary: binary, ticks: replayTicks, instruments: instrumentRows).run())
        print(report.table())
        let peer = try peer()
        report.add(peer.rows)
        report.notes += peer.notes
        print(report.table())
        try report.markdown().write(toFile: output, atomically: true, encoding: .utf8)
        print("written to \(output)")
    }

    func peer() throws -> (rows: [ResultRow], notes: [String]) {
        try PeerBenchmark(adminURL: databaseURL, binary: binary, ticks: replayTicks, nautilusPython: nautilusPython,
                          boundMessages: boundMessages).run()
    }
}
