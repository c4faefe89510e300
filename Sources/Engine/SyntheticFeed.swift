import Foundation
public import TradingCore
import ZeroMQ

/// The demo's built-in market-data publisher (`algotrader feed`): binds an XPUB socket, waits
/// for a subscriber to ask for `tick.`, then publishes synthetic NSE ticks at a steady rate,
/// optionally with malformed messages among them, and says what it sent.
public struct SyntheticFeed: Sendable {
    public var bind: String
    public var count: Int
    /// Ticks per second (0: as fast as possible).
    public var rate: Int
    public var symbols: [String]?
    public var seed: UInt64
    /// One malformed message after every N ticks (0: none), cycling through 10 kinds.
    public var badEvery: Int
    public var waitSeconds: Double
    /// Stamp the ticks across this IST day's session (09:15-15:30) instead of the wall clock.
    public var sessionDay: Int64?

    public init(bind: String, count: Int, rate: Int, symbols: [String]?, seed: UInt64, badEvery: Int, waitSeconds: Double,
                sessionDay: Int64?) {
        self.bind = bind
        self.count = count
        self.rate = rate
        self.symbols = symbols
        self.seed = seed
        self.badEvery = badEvery
        self.waitSeconds = waitSeconds
        self.sessionDay = sessionDay
    }

    public struct Report: Sendable {
        public let sent: Int, bad: Int
        public let session: String
        public let seconds: Double
    }

    public struct NoSubscriber: Error, CustomStringConvertible {
        public let waitSeconds: Double
        public var description: String { "no subscriber within \(waitSeconds) s" }
    }

    public func run() throws -> Report {
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
        guard subscribed else { throw NoSubscriber(waitSeconds: waitSeconds) }
        var ids = UUIDv7Generator()
        let session = ids.next(now: SystemClock().now()).description
        var generator = SyntheticTickGenerator(symbols: symbols, seed: seed, source: "synthetic", session: session)
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
        socket.close()  // lingers until the queued ticks are delivered
        return Report(sent: count, bad: bad, session: session, seconds: seconds)
    }

    /// Tick `i`'s exchange time spread evenly over the session day, if one was given.
    func sessionTime(_ i: Int) -> Timestamp? {
        guard let day = sessionDay else { return nil }
        let open = TradingCalendar.instant(day: day, minutes: 9 * 60 + 15).nanosecondsSinceEpoch
        let length: Int64 = (6 * 60 + 15) * 60 * 1_000_000_000
        return Timestamp(nanosecondsSinceEpoch: open + length / Int64(max(count, 1)) * Int64(i))
    }
}

/// Ten kinds of malformed message, for the demo and tests: each must be counted and dropped.
public enum MalformedMessages {
    public static func sample(_ n: Int) -> [[UInt8]] {
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
