import Dispatch
import Foundation
public import Logging
import Storage
public import Synchronization
public import TradingCore

/// The pipeline's sink in the daemon: buffers closed bars, intents and strategy failures from the
/// shard queues and writes them from a thread of its own every 100 ms — bars (upserted) with
/// their indicator values in one transaction, intents and failures as `system_logs` rows — so no
/// shard ever waits on the database.
public final class PipelineRecorder: PipelineSink, Sendable {
    private struct Pending {
        var bars: [ClosedBar] = []
        var intents: [OrderIntent] = []
        var failures: [(StrategyIdentity, String)] = []
    }

    private let pending = Mutex(Pending())
    public let processedTicks = Atomic<Int>(0)
    public let storedBars = Atomic<Int>(0)
    public let intentCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let connectionString: String
    private let logger: Logger
    /// Strategies currently running, for `last_run` refreshes.
    private let running = Mutex<[String]>([])

    /// Where intents go besides `system_logs` (the order desk).
    private let forwardIntents: @Sendable ([OrderIntent]) -> Void

    public init(connectionString: String, logger: Logger, forwardIntents: @escaping @Sendable ([OrderIntent]) -> Void = { _ in }) {
        self.connectionString = connectionString
        self.logger = logger
        self.forwardIntents = forwardIntents
    }

    public func closedBars(_ bars: [ClosedBar]) { pending.withLock { $0.bars += bars } }
    public func intents(_ intents: [OrderIntent]) {
        intentCount.add(intents.count, ordering: .relaxed)
        forwardIntents(intents)
        pending.withLock { $0.intents += intents }
        for intent in intents {
            logger.debug("order intent", metadata: [
                "strategy": "\(intent.strategyID)", "side": "\(intent.side.rawValue)", "quantity": "\(intent.quantity)",
                "symbol": "\(intent.symbol)", "exchange": "\(intent.exchange)", "price": "\(intent.referencePrice)",
            ])
        }
    }
    public func strategyFailed(_ identity: StrategyIdentity, error: String) { pending.withLock { $0.failures.append((identity, error)) } }
    public func processed(ticks: Int) { processedTicks.add(ticks, ordering: .relaxed) }

    public func setRunning(_ ids: [String]) { running.withLock { $0 = ids } }

    public func start() {
        let thread = Thread { [self] in
            let bars = BarStore(connectionString: connectionString)
            let logs = SystemLogStore(connectionString: connectionString)
            let catalog = StrategyCatalog(connectionString: connectionString)
            var lastTouch = monotonicNanoseconds()
            var lastRefresh = monotonicNanoseconds()
            let refresher = LazyConnection(connectionString: connectionString)
            while true {
                let finishing = stopping.load(ordering: .acquiring)
                flush(bars: bars, logs: logs, catalog: catalog)
                if monotonicNanoseconds() - lastTouch > 30_000_000_000 {
                    try? catalog.touch(running.withLock { $0 })
                    lastTouch = monotonicNanoseconds()
                }
                // The seed's materialized view, refreshed concurrently (readers never block) once a minute.
                if monotonicNanoseconds() - lastRefresh > 60_000_000_000 || finishing {
                    do {
                        try refresher.get().execute("REFRESH MATERIALIZED VIEW CONCURRENTLY daily_performance_summary")
                    } catch {
                        logger.warning("refreshing daily_performance_summary failed", metadata: ["error": "\(error)"])
                        refresher.close()
                    }
                    lastRefresh = monotonicNanoseconds()
                }
                if finishing { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            bars.close()
            logs.close()
            catalog.close()
            refresher.close()
            finished.signal()
        }
        thread.name = "pipeline recorder"
        thread.start()
    }

    /// Writes what is pending, then ends the thread.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
        finished.signal()
    }

    private func flush(bars store: BarStore, logs: SystemLogStore, catalog: StrategyCatalog) {
        let batch = pending.withLock { p -> Pending in
            defer { p = Pending() }
            return p
        }
        if !batch.bars.isEmpty {
            do {
                try store.store(batch.bars.map { ($0.bar, $0.indicators) })
                storedBars.add(batch.bars.count, ordering: .relaxed)
            } catch {
                logger.error("storing bars failed; will retry", metadata: ["bars": "\(batch.bars.count)", "error": "\(error)"])
                store.close()
                pending.withLock { $0.bars = batch.bars + $0.bars }
            }
        }
        var entries: [SystemLogEntry] = batch.intents.map { intent in
            SystemLogEntry(
                component: "strategy", level: .info,
                message: "intent \(intent.side.rawValue) \(intent.quantity) \(intent.symbol) \(intent.exchange) \(intent.type.rawValue): \(intent.reason)",
                data: Self.json(intent)
            )
        }
        entries += batch.failures.map { identity, error in
            SystemLogEntry(component: "strategy", level: .error, message: "strategy \(identity.name) stopped: \(error)",
                           data: "{\"strategy_id\":\"\(identity.strategyID)\",\"user_id\":\"\(identity.userID)\"}")
        }
        if !entries.isEmpty {
            do {
                try logs.insert(entries)
            } catch {
                logger.error("writing intents to system_logs failed", metadata: ["error": "\(error)"])
                logs.close()
                pending.withLock { $0.intents = batch.intents + $0.intents; $0.failures = batch.failures + $0.failures }
            }
        }
        if !batch.failures.isEmpty {
            let failed = Set(batch.failures.map(\.0.strategyID))
            let still = running.withLock { ids -> [String] in
                ids.removeAll { failed.contains($0) }
                return ids
            }
            try? catalog.markRunning(still)
        }
    }

    static func json(_ intent: OrderIntent) -> String {
        var out: [UInt8] = Array("{\"strategy_id\":".utf8)
        TickJSONEncoder.appendString(intent.strategyID, to: &out)
        out += Array(",\"user_id\":".utf8); TickJSONEncoder.appendString(intent.userID, to: &out)
        out += Array(",\"broker_id\":".utf8)
        if let broker = intent.brokerID { TickJSONEncoder.appendString(broker, to: &out) } else { out += Array("null".utf8) }
        out += Array(",\"symbol\":".utf8); TickJSONEncoder.appendString(intent.symbol, to: &out)
        out += Array(",\"exchange\":".utf8); TickJSONEncoder.appendString(intent.exchange, to: &out)
        out += Array(",\"transaction_type\":\"\(intent.side.rawValue)\",\"order_type\":\"\(intent.type.rawValue)\",\"quantity\":\(intent.quantity)".utf8)
        out += Array(",\"price\":".utf8); intent.referencePrice.append(to: &out)
        out += Array(",\"ts\":\"".utf8); intent.time.appendRFC3339(to: &out); out += Array("\"".utf8)
        out += Array(",\"reason\":".utf8); TickJSONEncoder.appendString(intent.reason, to: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
