import ArgumentParser
import Engine
import Foundation
import TradingCore
import ZeroMQ

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
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .xpub, linger: 30_000)
        try socket.setSendHighWaterMark(0)  // never drop: the point is to count every tick
        try socket.bind(bind)
        let deadline = Date().addingTimeInterval(waitSeconds)
        var subscribed = false
        while !subscribed && Date() < deadline {
            if try socket.poll(.readable, timeoutMilliseconds: 100).contains(.readable),
               let frames = try socket.receive(dontWait: true), let first = frames.first,
               first.first == 1, "tick.".utf8.starts(with: first.dropFirst()) {
                subscribed = true
            }
        }
        guard subscribed else {
            FileHandle.standardError.write(Data("algotrader feed: no subscriber within \(waitSeconds) s\n".utf8))
            throw ExitCode.failure
        }
        var ids = UUIDv7Generator()
        let session = ids.next(now: SystemClock().now()).description
        var generator = SyntheticTickGenerator(symbols: symbols?.split(separator: ",").map(String.init), seed: seed,
                                               source: "synthetic", session: session)
        let clock = SystemClock()
        let start = monotonicNanoseconds()
        var bad = 0
        var payload: [UInt8] = []
        for i in 0..<count {
            if rate > 0 {
                let due = start + UInt64(i) * 1_000_000_000 / UInt64(rate)
                while true {
                    let now = monotonicNanoseconds()
                    guard now < due else { break }
                    if due - now > 200_000 { Thread.sleep(forTimeInterval: Double(due - now) / 2e9) }
                }
            }
            let tick = generator.next(at: sessionTime(i) ?? clock.now())
            payload.removeAll(keepingCapacity: true)
            TickJSONEncoder.append(tick, to: &payload)
            try socket.send([Array(TickJSONEncoder.topic(for: tick).utf8), payload])
            if badEvery > 0 && (i + 1) % badEvery == 0 {
                try socket.send(MalformedMessages.sample(bad))
                bad += 1
            }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        print("sent=\(count) bad=\(bad) session=\(session) seconds=\(String(format: "%.3f", seconds)) rate=\(Int(Double(count) / max(seconds, 1e-9)))")
        socket.close()  // lingers until the queued ticks are delivered
    }

    /// Tick `i`'s exchange time spread evenly over the session day, if one was given.
    func sessionTime(_ i: Int) -> Timestamp? {
        guard let day = sessionDay.flatMap(InstrumentCSVReader.date) else { return nil }
        let open = TradingCalendar.instant(day: day, minutes: 9 * 60 + 15).nanosecondsSinceEpoch
        let length: Int64 = (6 * 60 + 15) * 60 * 1_000_000_000
        return Timestamp(nanosecondsSinceEpoch: open + length / Int64(max(count, 1)) * Int64(i))
    }
}

/// Ten kinds of malformed message, for the demo and tests: each must be counted and dropped.
enum MalformedMessages {
    static func sample(_ n: Int) -> [[UInt8]] {
        let topic = Array("tick.NSE.BAD".utf8)
        switch n % 10 {
        case 0: return [topic, Array("not json".utf8)]
        case 1: return [topic, Array(#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":"#.utf8)]
        case 2: return [topic, Array(#"{"exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#.utf8)]
        case 3: return [topic, Array(#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":"1"}"#.utf8)]
        case 4: return [topic, Array(#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":-5}"#.utf8)]
        case 5: return [topic, Array(#"{"symbol":"INFY","exchange":"NSE","ts":"2001-01-01T00:00:00Z","price":5}"#.utf8)]
        case 6: return [topic, Array(#"{"symbol":"INFY","exchange":"NSE","ts":"soon","price":5}"#.utf8)]
        case 7: return [topic, [UInt8](repeating: 0x20, count: 70_000)]
        case 8: return [topic]
        default: return [topic, Array(#"[1,2,3]"#.utf8)]
        }
    }
}
