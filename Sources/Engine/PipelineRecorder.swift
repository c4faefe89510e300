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
    /// Whether `start` ran: a stop after a failed start of `serve` must not wait for a thread
    /// that never ran.
    private let began = Atomic<Bool>(false)
    private let connectionString: String
    private let logger: Logger
    /// Strategies currently running, for `last_run` refreshes.
    private let running = Mutex<[String]>([])

    /// Where intents go besides `system_logs` (the order desk).
    private let forwardIntents: @Sendable ([OrderIntent]) -> Void

    /// Where closed bars go besides PostgreSQL (strategy processes).
    private let forwardBars: @Sendable ([Bar]) -> Void

    public init(connectionString: String, logger: Logger, forwardIntents: @escaping @Sendable ([OrderIntent]) -> Void = { _ in },
                forwardBars: @escaping @Sendable ([Bar]) -> Void = { _ in }) {
        self.connectionString = connectionString
        self.logger = logger
        self.forwardIntents = forwardIntents
        self.forwardBars = forwardBars
    }

    /// Closed bars and log entries waiting for PostgreSQL, at most: in a long outage the oldest
    /// go first (counted and logged); bars can be recomputed from the stored ticks, and the
    /// ticks themselves are kept by the journal, never dropped.
    static let maxPendingBars = 200_000
    static let maxPendingEntries = 10_000
    public let droppedBars = Atomic<Int>(0)
    public let quarantinedBars = Atomic<Int>(0)

    public func closedBars(_ bars: [ClosedBar]) {
        forwardBars(bars.map(\.bar))
        let dropped = pending.withLock { p -> Int in
            p.bars += bars
            let over = p.bars.count - Self.maxPendingBars
            if over > 0 { p.bars.removeFirst(over) }
            return max(0, over)
        }
        if dropped > 0 { droppedBars.add(dropped, ordering: .relaxed) }
    }
    public func intents(_ intents: [OrderIntent]) {
        intentCount.add(intents.count, ordering: .relaxed)
        forwardIntents(intents)
        pending.withLock {
            $0.intents += intents
            if $0.intents.count > Self.maxPendingEntries { $0.intents.removeFirst($0.intents.count - Self.maxPendingEntries) }
        }
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
        began.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            ThreadName.setCurrent("pipeline recorder")
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
                        try Maintenance.refreshDailyPerformance(try refresher.get())
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
        guard began.load(ordering: .acquiring) else { return }
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
                let quarantined = try store.store(batch.bars.map { ($0.bar, $0.indicators) })
                storedBars.add(batch.bars.count - quarantined, ordering: .relaxed)
                if quarantined > 0 {
                    quarantinedBars.add(quarantined, ordering: .relaxed)
                    logger.error("PostgreSQL refused bars for their content; they are in quarantine", metadata: ["bars": "\(quarantined)"])
                }
            } catch {
                logger.error("storing bars failed; will retry", metadata: ["bars": "\(batch.bars.count)", "error": "\(error)"])
                store.close()
                let dropped = pending.withLock { p -> Int in
                    p.bars = batch.bars + p.bars
                    let over = p.bars.count - Self.maxPendingBars
                    if over > 0 { p.bars.removeFirst(over) }
                    return max(0, over)
                }
                if dropped > 0 {
                    droppedBars.add(dropped, ordering: .relaxed)
                    logger.error("closed bars dropped: PostgreSQL has been away too long to keep them all", metadata: ["bars": "\(dropped)"])
                }
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
            var data = JSONObjectWriter()
            data.add("strategy_id", identity.strategyID)
            data.add("user_id", identity.userID)
            return SystemLogEntry(component: "strategy", level: .error, message: "strategy \(identity.name) stopped: \(error)", data: data.text)
        }
        if !entries.isEmpty {
            do {
                try logs.insert(entries)
            } catch {
                logger.error("writing intents to system_logs failed", metadata: ["error": "\(error)"])
                logs.close()
                pending.withLock {
                    $0.intents = batch.intents + $0.intents
                    $0.failures = batch.failures + $0.failures
                    if $0.intents.count > Self.maxPendingEntries { $0.intents.removeFirst($0.intents.count - Self.maxPendingEntries) }
                }
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
        var w = JSONObjectWriter()
        w.add("strategy_id", intent.strategyID)
        w.add("user_id", intent.userID)
        w.add("broker_id", intent.brokerID)
        w.add("symbol", intent.symbol)
        w.add("exchange", intent.exchange)
        w.add("transaction_type", intent.side.rawValue)
        w.add("order_type", intent.type.rawValue)
        w.add("quantity", intent.quantity)
        w.add("price", intent.referencePrice)
        w.add("ts", time: intent.time)
        w.add("reason", intent.reason)
        return w.text
    }
}
