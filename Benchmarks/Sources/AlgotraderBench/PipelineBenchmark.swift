import Dispatch
import Engine
import Foundation
import Logging
import Synchronization
import TradingCore
import ZeroMQ

/// Row 2: ZeroMQ receive -> decode -> bars -> three strategies, no database, beside the raw
/// libzmq PUSH/PULL rate of the same messages over the same transport, in the same run.
/// (Risk, paper fills and the PUB bus join this row with the orders issue.)
struct PipelineBenchmark {
    let messages: Int

    final class CountingSink: PipelineSink, Sendable {
        let ticks = Atomic<Int>(0)
        let intentCount = Atomic<Int>(0)
        func closedBars(_ bars: [ClosedBar]) {}
        func intents(_ intents: [OrderIntent]) { intentCount.add(intents.count, ordering: .relaxed) }
        func strategyFailed(_ identity: StrategyIdentity, error: String) {}
        func processed(ticks: Int) { self.ticks.add(ticks, ordering: .relaxed) }
    }

    func payloads() -> [[[UInt8]]] {
        var generator = SyntheticTickGenerator(seed: 3, session: "bench")
        let now = SystemClock().now()
        return (0..<messages).map { i in
            let tick = generator.next(at: now.adding(nanoseconds: Int64(i) * 1_000))
            return [Array(TickJSONEncoder.topic(for: tick).utf8), TickJSONEncoder.encode(tick)]
        }
    }

    func run() throws -> [ResultRow] {
        let frames = payloads()
        let raw = try rawRate(frames)
        let (engine, intents) = try engineRate(frames)
        return [ResultRow(
            number: "2",
            measure: "pipeline without database: ZeroMQ receive -> decode -> bars -> 3 strategies (\(formatted(Double(messages))) msgs, TCP loopback; \(intents) intents)",
            result: "\(formatted(engine)) ticks/s",
            baseline: "raw libzmq PUSH/PULL, same messages: \(formatted(raw)) msgs/s",
            ratio: formatted(engine / raw, decimals: 2),
            target: ">= 1,000,000 ticks/s and >= 1/3 of raw",
            met: engine >= 1_000_000 && engine >= raw / 3
        )]
    }

    func rawRate(_ frames: [[[UInt8]]]) throws -> Double {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.setReceiveHighWaterMark(0)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint()
        let sender = Thread {
            guard let push = try? ZMQSocket(context: context, type: .push, linger: 10_000) else { return }
            try? push.setSendHighWaterMark(0)
            try? push.connect(endpoint)
            for message in frames { _ = try? push.send(message) }
            push.close()
        }
        sender.start()
        var received = 0
        var start: UInt64 = 0
        while received < frames.count {
            let got = try pull.receive { _, _ in }
            if got {
                if received == 0 { start = monotonicNanoseconds() }
                received += 1
            }
        }
        return Double(received - 1) / (Double(monotonicNanoseconds() - start) / 1e9)
    }

    func engineRate(_ frames: [[[UInt8]]]) throws -> (Double, Int) {
        let context = try ZMQContext()
        let logger = Logger(label: "bench")
        let sink = CountingSink()
        let pipeline = StrategyPipeline(shardCount: 2, calendar: .standard, graceNanoseconds: 0, sink: sink, logger: logger)
        func spec(_ id: String, _ type: String, _ params: [String: ParameterValue]) -> StrategySpec {
            StrategySpec(identity: StrategyIdentity(strategyID: id, userID: "u", name: id, brokerID: "b"), type: type, parameters: StrategyParameters(params))
        }
        pipeline.apply([
            spec("1", "sma_crossover", ["symbol": .string("RELIANCE"), "fast": .number("5"), "slow": .number("20"), "quantity": .number("10")]),
            spec("2", "rsi_mean_reversion", ["symbol": .string("INFY"), "interval": .string("1min"), "quantity": .number("10")]),
            spec("3", "opening_range_breakout", ["symbol": .string("TCS"), "quantity": .number("10")]),
        ]) { try StrategyFactory.make(type: $0.type, identity: $0.identity, parameters: $0.parameters) }
        let queue = TickQueue(capacity: 10_000_000)
        let drained = DispatchSemaphore(value: 0)
        Thread {  // stands in for the database writers: takes and discards
            while !queue.isClosedAndEmpty { _ = queue.take(max: 100_000, timeoutNanoseconds: 10_000_000) }
            drained.signal()
        }.start()
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000...40_000))"
        let receiver = FeedReceiver(
            endpoint: endpoint, mode: .connect, context: context, decoder: TickDecoder(), receiveHighWaterMark: 0, queue: queue,
            sequences: SequenceBook(), counters: IngestCounters(), reporter: IncidentReporter(intervalSeconds: 60),
            clock: SystemClock(), logger: logger, consumers: [{ pipeline.submit($0) }])
        let publisher = try ZMQSocket(context: context, type: .xpub, linger: 10_000)
        try publisher.setSendHighWaterMark(0)
        try publisher.bind(endpoint)
        try receiver.start()
        _ = try publisher.receive()  // the subscription
        let start = monotonicNanoseconds()
        for message in frames { try publisher.send(message) }
        while sink.ticks.load(ordering: .relaxed) < frames.count { usleep(200) }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        receiver.stop()
        receiver.join()
        queue.close()
        drained.wait()
        pipeline.stop()
        return (Double(frames.count) / seconds, sink.intentCount.load(ordering: .relaxed))
    }
}
