import Engine
import Foundation
import TradingCore

/// Row 1: the hot-path decoder beside Foundation's JSONDecoder on the same messages, one core.
struct DecodeBenchmark {
    let messages: Int
    let rounds: Int

    /// What Foundation decodes: the same fields, with less work (no RFC 3339 parse, prices as
    /// Double rather than exact decimals, no range checks), so the ratio flatters Foundation.
    struct FoundationTick: Decodable {
        enum TS: Decodable {
            case text(String), nanos(Int64)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .text(s) } else { self = .nanos(try c.decode(Int64.self)) }
            }
        }
        let symbol: String
        let exchange: String
        let ts: TS
        let price: Double
        let qty: Int64?
        let volume: Int64?
        let bid: Double?
        let ask: Double?
        let bid_qty: Int64?
        let ask_qty: Int64?
        let src: String?
        let session: String?
        let seq: Int64?
    }

    func makeMessages(now: Timestamp) -> [[UInt8]] {
        var generator = SyntheticTickGenerator(seed: 11, session: "bench")
        return (0..<messages).map { i in
            TickJSONEncoder.encode(generator.next(at: now.adding(nanoseconds: Int64(i) * 1_000)), timestampAsEpochNanoseconds: i % 2 == 1)
        }
    }

    func run() throws -> (rows: [ResultRow], rate: Double) {
        let now = SystemClock().now()
        let payloads = makeMessages(now: now.adding(nanoseconds: -3_600_000_000_000))
        let bytes = payloads.reduce(0) { $0 + $1.count }
        let decoder = TickDecoder()
        let cache = TickStringCache()  // as each receive thread keeps one
        var best = 0.0
        var checksum: Int64 = 0
        for _ in 0..<rounds {
            let start = monotonicNanoseconds()
            // As the receive thread does: straight from the message buffer.
            for payload in payloads {
                try payload.withUnsafeBytes { raw in
                    let tick = try decoder.decode(raw, now: now, cache: cache)
                    checksum &+= tick.price.units
                }
            }
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            best = max(best, Double(payloads.count) / seconds)
        }
        if ProcessInfo.processInfo.environment["BENCH_DECODER_ONLY"] != nil {
            print("decoder: \(formatted(best)) ticks/s")
            return ([], best)
        }
        let datas = payloads.map { Data($0) }
        let json = JSONDecoder()
        var foundationBest = 0.0
        for _ in 0..<max(1, rounds / 2) {
            let start = monotonicNanoseconds()
            for data in datas {
                let tick = try json.decode(FoundationTick.self, from: data)
                checksum &+= Int64(tick.price)
            }
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            foundationBest = max(foundationBest, Double(datas.count) / seconds)
        }
        precondition(checksum != 0)
        let row = ResultRow(
            number: "1",
            measure: "decode (\(formatted(Double(messages))) msgs, avg \(bytes / max(1, messages)) B, 1 core)",
            result: "\(formatted(best)) ticks/s (\(formatted(1e9 / best)) ns/tick)",
            baseline: "Foundation JSONDecoder \(formatted(foundationBest)) ticks/s",
            ratio: "\(formatted(best / foundationBest, decimals: 1))x",
            target: ">= 2,000,000 ticks/s",
            met: best >= 2_000_000
        )
        return ([row], best)
    }
}
