import ArgumentParser
import Engine
import Foundation
import TradingCore

struct Feed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish synthetic NSE ticks over ZeroMQ (the demo's built-in market-data publisher).",
        discussion: """
            Binds an XPUB socket, waits for a subscriber to ask for "tick.", then publishes --count ticks at
            --rate per second as CONTRACT.md section 1 describes, and prints what it sent.
            """
    )

    @Option(help: "Endpoint to bind (the engine's market_data.connect points here).")
    var bind: String = "tcp://127.0.0.1:5555"

    @Option(help: "Ticks to send.")
    var count: Int = 100_000

    @Option(help: "Ticks per second (0: as fast as possible).")
    var rate: Int = 50_000

    @Option(help: "Comma-separated NSE symbols (default: 20 NIFTY names).")
    var symbols: String?

    @Option(help: "Random seed for the price paths.")
    var seed: UInt64 = 1

    @Option(help: "Also send one malformed message after every N ticks (0: none), cycling through 10 kinds.")
    var badEvery: Int = 0

    @Option(help: "Seconds to wait for a subscriber before giving up.")
    var waitSeconds: Double = 30

    @Option(help: "Stamp the ticks across this day's NSE session, 09:15 to 15:30 IST (YYYY-MM-DD), instead of the wall clock: a trading day sent in seconds.")
    var sessionDay: String?

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must be >= 0") }
        guard rate >= 0 else { throw ValidationError("--rate must be >= 0") }
        guard badEvery >= 0 else { throw ValidationError("--bad-every must be >= 0") }
        if let sessionDay, InstrumentCSVReader.date(sessionDay) == nil { throw ValidationError("--session-day must be YYYY-MM-DD, got \(sessionDay)") }
    }

    func run() throws {
        let feed = SyntheticFeed(bind: bind, count: count, rate: rate, symbols: symbols?.split(separator: ",").map(String.init), seed: seed,
                                 badEvery: badEvery, waitSeconds: waitSeconds, sessionDay: sessionDay.flatMap(InstrumentCSVReader.date))
        let report: SyntheticFeed.Report
        do {
            report = try feed.run()
        } catch let error as SyntheticFeed.NoSubscriber {
            FileHandle.standardError.write(Data("algotrader feed: \(error)\n".utf8))
            throw ExitCode.failure
        }
        print("sent=\(report.sent) bad=\(report.bad) session=\(report.session) seconds=\(String(format: "%.3f", report.seconds)) "
              + "rate=\(Int(Double(report.sent) / max(report.seconds, 1e-9)))")
    }
}
