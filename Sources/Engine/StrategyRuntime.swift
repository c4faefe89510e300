public import Config
import Dispatch
import Foundation
public import Logging
import Synchronization
import Storage
import TradingCore

/// The strategy side of `serve`: loads the runnable strategies, reports the ones that cannot
/// start, resumes bars in progress, and reloads on SIGHUP without losing ticks (the new set
/// takes effect at one point of the tick stream in every shard).
public final class StrategyRuntime: Sendable {
    public let pipeline: StrategyPipeline
    let recorder: PipelineRecorder
    /// The order desk, set at start; intents recorded before that have nowhere to go.
    final class DeskSlot: Sendable {
        let desk = Mutex<OrderDesk?>(nil)
    }
    private let slot = DeskSlot()
    /// Told the live broker accounts at start and on SIGHUP.
    private let gateway: GatewayServer?
    private let config: EngineConfig
    private let logger: Logger
    private let calendar: SessionCalendar
    private let reloads = DispatchQueue(label: "algotrader.strategy-reload")
    /// The strategy processes' endpoint (external strategies), when the daemon runs one.
    public let processes: StrategyServer?
    /// External strategies in the runnable set now (their processes may or may not be connected).
    private let externalIDs = Mutex<Set<String>>([])
    /// Live brokers whose history the desk holds for reconciliation (nil until start restored
    /// the working orders: before that, no gateway is reconciled).
    private let reconcilable = Mutex<Set<String>?>(nil)
    /// Set at stop: a process leaving after it marks nothing running again.
    private let stopped = Atomic<Bool>(false)

    public init(config: EngineConfig, logger: Logger, gateway: GatewayServer? = nil, processes: StrategyServer? = nil) {
        self.config = config
        self.gateway = gateway
        self.logger = logger
        self.processes = processes
        self.calendar = SessionCalendar(sessionOpenMinutes: config.sessionOpenMinutes)
        let slot = self.slot
        self.recorder = PipelineRecorder(connectionString: config.databaseURL, logger: logger, forwardIntents: { intents in
            slot.desk.withLock { $0 }?.submit(intents, now: SystemClock().now())
        }, forwardBars: { bars in processes?.onClosedBars(bars) })
        self.pipeline = StrategyPipeline(shardCount: config.pipelineShards, calendar: calendar,
                                         graceNanoseconds: Int64(config.barCloseGraceMilliseconds) * 1_000_000,
                                         sink: recorder, logger: logger, maxInstruments: config.barMaxInstruments)
    }

    /// Before intake starts: open positions and risk settings into the desk, bars in progress,
    /// strategies, the recorder thread.
    public func start(desk orderDesk: OrderDesk) throws {
        slot.desk.withLock { $0 = orderDesk }
        let positions = try DeskState.openPositions(config.databaseURL)
        // The day so far: a restart mid-day forgets no loss (daily loss limit, max_loss).
        let today = SessionCalendar.istDay(SystemClock().now())
        let day = try DeskState.dayResults(config.databaseURL, day: today)
        let settled = try DeskState.settledFunds(config.databaseURL)
        orderDesk.restore { desk in
            desk.restoreDay(day)
            for (broker, amount) in settled { desk.funds.restore(broker: broker, settled: amount) }
            for p in positions { desk.restore(p) }
        }
        orderDesk.configure(risk: try DeskState.riskSettings(config.databaseURL))
        let store = BarStore(connectionString: config.databaseURL)
        let (bars, feeds) = try store.barsInProgress(calendar: calendar, maxInstruments: config.barMaxInstruments)
        store.close()
        pipeline.resume(bars, feedTimes: feeds)
        if !bars.isEmpty { logger.info("resumed bars in progress from stored ticks", metadata: ["bars": "\(bars.count)"]) }
        recorder.start()
        try load()
        // After load(): which brokers are live decides where each working order goes back to.
        let working = try DeskState.workingOrders(config.databaseURL)
        if !working.isEmpty {
            orderDesk.restoreWorking(working, running: Set(pipeline.runningStrategyIDs))
            logger.notice("took up the orders still working at the last stop", metadata: ["orders": "\(working.count)"])
        }
        // Then what reconciliations compare each live broker with; gateways that said hello
        // meanwhile are reconciled from here (the desk's queue runs these in order).
        let live = Set(try DeskState.liveBrokers(config.databaseURL).keys)
        orderDesk.restoreBrokers(try DeskState.liveBrokerHistory(config.databaseURL, brokerIDs: Array(live), now: SystemClock().now()))
        reconcilable.withLock { $0 = live }
        gateway?.deskRestored()
    }

    /// A broker that turned live on a reload: what reconciling it needs, read before its
    /// gateway is admitted.
    private func restoreNewlyLive(_ live: Set<String>, into orderDesk: OrderDesk) throws {
        guard let known = reconcilable.withLock({ $0 }) else { return }
        let fresh = live.subtracting(known)
        guard !fresh.isEmpty else { return }
        orderDesk.restoreBrokers(try DeskState.liveBrokerHistory(config.databaseURL, brokerIDs: Array(fresh), now: SystemClock().now()))
        reconcilable.withLock { $0 = known.union(fresh) }
    }

    /// What a load applied: the answer of `ctl reload`.
    public struct Loaded: Sendable, Equatable {
        /// Strategies running now (built-in ones, and external ones whose process is connected).
        public let running: Int
        /// Rows that cannot start (their reasons are in `system_logs`).
        public let refused: Int
        /// External strategies in the runnable set whose process is not connected.
        public let awaitingProcess: Int
    }

    /// Refused: the strategies have stopped (the daemon is stopping), so nothing may mark them
    /// running again.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "the daemon is stopping: strategies are no longer reloaded" }
    }

    /// Reads `strategies` and applies the runnable set; invalid rows go to `system_logs`.
    @discardableResult
    public func load() throws -> Loaded {
        let catalog = StrategyCatalog(connectionString: config.databaseURL)
        defer { catalog.close() }
        let rows = try catalog.load()
        if let orderDesk = slot.desk.withLock({ $0 }) {
            orderDesk.configure(risk: try DeskState.riskSettings(config.databaseURL))
            let live = try DeskState.liveBrokers(config.databaseURL)
            orderDesk.configure(liveBrokers: Set(live.keys))
            try restoreNewlyLive(Set(live.keys), into: orderDesk)
            gateway?.setLiveBrokers(live, credentials: try DeskState.liveBrokerCredentials(config.databaseURL))
            if !live.isEmpty && config.orderControls.algoID == nil {
                logger.warning("live brokers are configured but orders.algo_id is empty: their orders reach the gateways without an algo id",
                               metadata: ["live_brokers": "\(live.count)"])
            }
            // The same settings a replay applies (DeskState.settings).
            let settings = try DeskState.settings(config, strategies: rows.map { ($0.identity.strategyID, $0.parameters) })
            orderDesk.configure { desk in desk.apply(settings) }
        }
        var specs: [StrategySpec] = []
        var external: [StrategyServer.Entry] = []
        var problems: [SystemLogEntry] = []
        let calendar = self.calendar
        for row in rows {
            var problem = row.problem
            if problem == nil {
                do {
                    try StrategyFactory.validate(type: row.type, identity: row.identity, parameters: row.parameters, calendar: calendar)
                } catch {
                    problem = error.description
                }
            }
            if problem == nil && row.type == ExternalStrategyConfig.type && processes == nil {
                problem = "external strategies need the strategy socket (strategies.bind)"
            }
            if let problem {
                logger.error("strategy cannot start", metadata: ["strategy": "\(row.identity.strategyID)", "reason": "\(problem)"])
                problems.append(SystemLogEntry(
                    component: "strategy", level: .error,
                    message: "strategy \(row.identity.name) (\(row.type)) cannot start: \(problem)",
                    data: JSONObjectWriter.object { $0.add("strategy_id", row.identity.strategyID); $0.add("user_id", row.identity.userID) }))
                continue
            }
            if row.type == ExternalStrategyConfig.type, let config = try? ExternalStrategyConfig(parameters: row.parameters) {
                external.append(StrategyServer.Entry(identity: row.identity, config: config, parameters: row.parameters, tokenHash: row.tokenHash))
                continue
            }
            specs.append(StrategySpec(identity: row.identity, type: row.type, parameters: row.parameters, initialPosition: row.position))
        }
        let before = Set(pipeline.runningStrategyIDs).union(externalIDs.withLock { $0 })
        pipeline.apply(specs) { spec in
            try StrategyFactory.make(type: spec.type, identity: spec.identity, parameters: spec.parameters, calendar: calendar)
        }
        pipeline.drain()
        if let processes {
            let ids = external.map(\.identity.strategyID)
            processes.setStrategies(external, positions: try catalog.filledPositions(strategyIDs: ids))
            externalIDs.withLock { $0 = Set(ids) }
        }
        // The reasons first: whoever sees the new is_running flags also finds why a row is missing.
        if !problems.isEmpty { try SystemLogStore(connectionString: config.databaseURL).insert(problems) }
        let runnable = Set(pipeline.runningStrategyIDs).union(externalIDs.withLock { $0 })
        reportStopped(before.subtracting(runnable))
        // An external strategy runs while its process is connected (and the strategy started).
        let running = pipeline.runningStrategyIDs + externalIDs.withLock { ids in
            (processes?.connected.withLock { $0 } ?? []).filter { ids.contains($0) }.sorted()
        }
        // The broker first: a strategy shown running has its broker remembered.
        let started = Set(running)
        try catalog.bindBrokers(Dictionary(rows.compactMap { row in
            row.identity.brokerID.flatMap { started.contains(row.identity.strategyID) ? (row.identity.strategyID, $0) : nil }
        }, uniquingKeysWith: { first, _ in first }))
        try catalog.markRunning(running)
        recorder.setRunning(running)
        logger.info("strategies loaded", metadata: ["running": "\(running.count)", "refused": "\(problems.count)"])
        let externalRunning = running.count - pipeline.runningStrategyIDs.count
        return Loaded(running: running.count, refused: problems.count, awaitingProcess: max(0, external.count - externalRunning))
    }

    /// Strategies that ran before a reload and do not now (deactivated, removed, their user
    /// disabled, or their parameters now refused): their working orders are cancelled; their
    /// open positions are kept and reported (docs/strategies.md).
    private func reportStopped(_ stopped: Set<String>) {
        guard !stopped.isEmpty, let orderDesk = slot.desk.withLock({ $0 }) else { return }
        let open = orderDesk.strategiesStopped(stopped, now: SystemClock().now())
        var entries: [SystemLogEntry] = []
        for id in stopped.sorted() {
            let positions = open.filter { $0.strategyID == id }
            let text = positions.map { "\($0.symbol)@\($0.exchange) \($0.quantity)" }.joined(separator: ", ")
            logger.notice("strategy stopped; its working orders are cancelled, its positions kept",
                          metadata: ["strategy": "\(id)", "open_positions": "\(text.isEmpty ? "none" : text)"])
            entries.append(SystemLogEntry(
                component: "strategy", level: positions.isEmpty ? .info : .warning,
                message: positions.isEmpty ? "strategy \(id) stopped with no open position"
                    : "strategy \(id) stopped with open positions kept: \(text)",
                data: JSONObjectWriter.object { $0.add("strategy_id", id); $0.add("open_positions", positions.count) }))
        }
        do { try SystemLogStore(connectionString: config.databaseURL).insert(entries) } catch {
            logger.error("could not store the stopped strategies' report", metadata: ["error": "\(error)"])
        }
    }

    /// A strategy process connected or left: `is_running` follows (off the server's thread).
    public func processesChanged() {
        reloads.async { [self] in
            guard !stopped.load(ordering: .acquiring) else { return }
            let connected = processes?.connected.withLock { $0 } ?? []
            let running = pipeline.runningStrategyIDs + externalIDs.withLock { ids in connected.filter { ids.contains($0) }.sorted() }
            let catalog = StrategyCatalog(connectionString: config.databaseURL)
            defer { catalog.close() }
            do {
                try catalog.markRunning(running)
                recorder.setRunning(running)
            } catch {
                logger.error("could not record which strategies run", metadata: ["error": "\(error)"])
            }
        }
    }

    /// SIGHUP: reload off the signal handler's queue.
    public func reload() {
        reloads.async { [self] in
            do {
                try load()
            } catch {
                logger.error("strategy reload failed; the running set is unchanged", metadata: ["error": "\(error)"])
            }
        }
    }

    /// `ctl reload`: the same load as SIGHUP's, on the same queue (so it never overlaps another
    /// reload), waited for so the caller can answer with what it applied.
    public func reloadNow() throws -> Loaded {
        try reloads.sync { [self] () throws -> Loaded in
            guard !stopped.load(ordering: .acquiring) else { throw Stopped() }
            return try load()
        }
    }

    /// After intake stopped: every open bar stored, strategies marked not running.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        reloads.sync {}
        pipeline.stop()
        recorder.stop()
        let catalog = StrategyCatalog(connectionString: config.databaseURL)
        try? catalog.markRunning([])
        catalog.close()
    }
}
