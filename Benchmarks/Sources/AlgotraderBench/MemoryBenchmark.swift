import Foundation
import Postgres

/// Row 5: the daemon's resident memory (VmRSS) once it is up, and after `seconds` of ticks at
/// `rate` per second from a separate publisher process (the engine writing what it can to
/// PostgreSQL). The bounds (`ingest.max_memory` for waiting ticks, a small libzmq queue, batches
/// in flight to the pipeline and desk) should make it level off: the target is the growth over
/// the run's second half, and the peak against the configured bound.
struct MemoryBenchmark {
    let adminURL: String
    let binary: String
    let seconds: Int
    let rate: Int

    static func rss(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    func run() throws -> [ResultRow] {
        let ingest = DurableIngestBenchmark(adminURL: adminURL, binary: binary, ticks: 0, rounds: 1)
        let url = try ingest.database("bench_memory", migrated: true)
        let dir = NSTemporaryDirectory() + "algotrader-bench-mem-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let feed = "ipc://\(dir)/feed.ipc"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = ["serve"]
        daemon.environment = DurableIngestBenchmark.daemonEnvironment(url: url, dir: dir, feed: feed)
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        Thread.sleep(forTimeInterval: 3)
        let start = Self.rss(daemon.processIdentifier) ?? 0
        let publisher = Process()
        publisher.executableURL = URL(fileURLWithPath: binary)
        publisher.arguments = ["feed", "--bind", feed, "--count", String(rate * seconds), "--rate", String(rate), "--wait-seconds", "60"]
        publisher.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try publisher.run()
        var peak = start
        var samples: [Int] = []
        while publisher.isRunning {
            Thread.sleep(forTimeInterval: 1)
            if let now = Self.rss(daemon.processIdentifier) { peak = max(peak, now); samples.append(now) }
        }
        let end = Self.rss(daemon.processIdentifier) ?? 0
        // Growth over the run's second half says whether memory keeps climbing or has levelled.
        let half = samples.count / 2
        let mid = samples.isEmpty ? start : samples[half]
        let lateGrowth = mid > 0 ? Double(end - mid) / Double(mid) * 100 : 0
        // The configured bound on waiting ticks (the shipped default, 256 MiB) plus what a
        // running engine holds besides them.
        let boundKiB = 256 * 1024 + 160 * 1024
        return [ResultRow(
            number: "5",
            measure: "daemon RSS at start and after \(seconds) s at \(formatted(Double(rate))) ticks/s (publisher process; the engine stores what it can)",
            result: "\(start / 1024) MiB -> \(end / 1024) MiB (peak \(peak / 1024) MiB; at half time \(mid / 1024) MiB)",
            baseline: "ingest.max_memory 256 MiB + 160 MiB for the rest of the process",
            ratio: "second half: \(formatted(lateGrowth, decimals: 1)) %",
            target: "levels off: second half < 5 %, peak < 416 MiB",
            met: lateGrowth < 5 && peak < boundKiB)]
    }
}
