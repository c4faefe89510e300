import Dispatch
public import Logging
public import Synchronization
public import TradingCore

/// Runs the ``TradingDesk`` on one serial queue: intents from the strategies, ticks for working
/// orders and marks, and its records to the ``EventWriter`` (stored, then published).
public final class OrderDesk: Sendable {
    private let queue: DispatchQueue
    private let state: DeskBox
    private let writer: EventWriter

    /// The desk's state, touched only on `queue`.
    // @unchecked Sendable is safe here: `desk` and `markTimer` are read and written only inside
    // blocks run on the desk's serial queue (submit, onTicks, the configure methods, setHalts,
    // cancel, modify, onGatewayReport, the timer's handler, and the queue.sync blocks of
    // restore/flatten/strategiesStopped/startMarking/drain), which libdispatch runs one at a
    // time with happens-before between consecutive blocks.
    final class DeskBox: @unchecked Sendable {
        /// Asserted on the queue at every access, changed in place.
        @QueueConfined var desk: TradingDesk
        /// The marking timer, also touched only on the queue.
        @QueueConfined var markTimer: (any DispatchSourceTimer)?

        init(_ desk: TradingDesk, queue: DispatchQueue) {
            _desk = QueueConfined(wrappedValue: desk, queue: queue)
            _markTimer = QueueConfined(wrappedValue: nil, queue: queue)
        }
    }

    /// Told of intents the desk refused without an order (see `submit`), so the strategies
    /// do not count them as pending.
    private let onIntentsRefused: @Sendable ([OrderIntent]) -> Void
    private let logger: Logger?
    /// Intents refused because their records could not have been made durable.
    public let refusedIntents = Atomic<Int>(0)

    public init(writer: EventWriter, desk: TradingDesk = TradingDesk(), logger: Logger? = nil,
                onIntentsRefused: @escaping @Sendable ([OrderIntent]) -> Void = { _ in }) {
        self.writer = writer
        let queue = DispatchQueue(label: "algotrader.order-desk")
        self.queue = queue
        self.state = DeskBox(desk, queue: queue)
        self.logger = logger
        self.onIntentsRefused = onIntentsRefused
    }

    /// Replaces risk settings (at start and on SIGHUP).
    public func configure(risk: [String: RiskSettings]) {
        queue.async { [state] in state.desk.riskSettings = risk }
    }

    /// Live broker accounts (at start and on SIGHUP).
    public func configure(liveBrokers: Set<String>) {
        queue.async { [state] in state.desk.liveBrokers = liveBrokers }
    }

    /// The desk's settings (at start and on SIGHUP): `DeskSettings`, applied as a replay
    /// applies them.
    public func configure(market: @escaping @Sendable (inout TradingDesk) -> Void) {
        queue.async { [state] in market(&state.desk) }
    }

    /// Strategies stopped by a reload: their working orders are cancelled; their open positions
    /// are returned (kept, to be reported).
    public func strategiesStopped(_ strategyIDs: Set<String>, now: Timestamp) -> [(strategyID: String, symbol: String, exchange: String, quantity: Int64)] {
        queue.sync { [state, writer] in
            let (records, open) = state.desk.strategiesStopped(strategyIDs, time: now)
            writer.enqueue(records)
            return open
        }
    }

    /// Exchanges whose feed is silent (feed health with `halt_strategies`): new orders there are rejected.
    public func setHaltedExchanges(_ exchanges: Set<String>) {
        queue.async { [state] in state.desk.haltedExchanges = exchanges }
    }

    /// The live broker accounts whose gateway is connected now (from the ``GatewayServer``).
    public func setConnectedBrokers(_ brokers: Set<String>) {
        queue.async { [state] in state.desk.setConnectedBrokers(brokers) }
    }

    /// A gateway's execution report; acknowledged to `peer` once what it changed is durable.
    /// A gateway's report; `servedBrokers` are the brokers that gateway serves (a report on any
    /// other broker's order changes nothing).
    public func onGatewayReport(_ report: GatewayReport, peer: [UInt8], servedBrokers: Set<String>, logger: Logger) {
        queue.async { [state, writer] in
            let (outcome, records) = state.desk.onGatewayReport(report, servedBrokers: servedBrokers)
            let status: String
            switch outcome {
            case .applied: status = "applied"
            case .duplicate: status = "duplicate"
            case .unknownOrder:
                status = "unknown_order"
                logger.warning("gateway report for an order that is not working", metadata: ["order_id": "\(report.orderID)", "type": "\(report.kind.rawValue)"])
            case .refused(let why):
                status = "refused"
                logger.error("gateway report refused", metadata: ["order_id": "\(report.orderID)", "reason": "\(why)"])
            }
            writer.enqueue(records + [.gatewayAck(peer: peer, reportID: report.reportID, status: status)])
        }
    }

    // MARK: Reconciliation with live brokers (docs/protocol.md, "Reconciliation")

    /// Restores what was read for live brokers (their fills per instrument, orders ended lately).
    public func restoreBrokers(_ history: [(brokerID: String, nets: [String: Int64], day: Int64, ended: [DeskOrder])]) {
        queue.async { [state] in for h in history { state.desk.restoreBroker(h.brokerID, nets: h.nets, day: h.day, ended: h.ended) } }
    }

    /// A gateway connected for these brokers: their new orders wait until each is reconciled;
    /// returns the engine's orders at each, for its `reconcile.request`.
    public func beginReconciliation(_ brokerIDs: [String]) -> [String: [TradingDesk.BrokerOrderRef]] {
        queue.sync { [state] in
            var out: [String: [TradingDesk.BrokerOrderRef]] = [:]
            for broker in brokerIDs {
                state.desk.beginReconciliation(broker)
                out[broker] = state.desk.ordersAtBroker(broker)
            }
            return out
        }
    }

    /// A gateway's whole snapshot of a broker: applied, then stored with what was found
    /// (`.reconciliation`), which is then answered to the gateway.
    public func reconcile(_ snapshot: BrokerSnapshot, requestID: String, peer: [UInt8]) {
        queue.async { [state, writer] in
            writer.enqueue(state.desk.reconcile(snapshot, requestID: requestID, peer: peer, time: SystemClock().now()))
        }
    }

    /// A gateway's word on a broker's session token (`session`).
    public func setBrokerSession(_ brokerID: String, active: Bool, reason: String?) {
        queue.async { [state] in state.desk.setBrokerSession(brokerID, active: active, reason: reason) }
    }

    /// Orders still working at the last stop, taken up again (a live PENDING one is resent).
    public func restoreWorking(_ orders: [DeskOrder], running: Set<String>) {
        queue.async { [state, writer] in writer.enqueue(state.desk.restoreWorking(orders, time: SystemClock().now(), running: running)) }
    }

    /// A live account's available cash as its gateway reports it (docs/protocol.md, `funds`).
    public func setFunds(brokerID: String, cash: FixedDecimal) {
        queue.async { [state] in state.desk.funds.report(broker: brokerID, cash: Int128(cash.units)) }
    }

    /// Cancels a working order (paper: at once; live: a request to its gateway).
    public func cancel(orderID: String, reason: String, now: Timestamp) {
        queue.async { [state, writer] in writer.enqueue(state.desk.cancel(orderID: orderID, reason: reason, time: now)) }
    }

    /// Closes a user's book, or one strategy's part of it (cancels its working orders, sends
    /// closing orders); returns what it did.
    public func flatten(userID: String, strategyID: String? = nil, now: Timestamp) -> TradingDesk.FlattenResult {
        queue.sync { [state, writer] in
            let (result, records) = state.desk.flatten(userID: userID, strategyID: strategyID, time: now)
            writer.enqueue(records)
            return result
        }
    }

    /// Modifies a working order's quantity and/or prices, checked as a new order is
    /// (``TradingDesk/modifyChecked``); the reason it was refused, or nil.
    @discardableResult
    public func modify(orderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?, now: Timestamp) -> String? {
        queue.sync { [state, writer] in
            let (records, refusal) = state.desk.modifyChecked(orderID: orderID, quantity: quantity, price: price, triggerPrice: triggerPrice, time: now)
            writer.enqueue(records)
            return refusal
        }
    }

    /// Applies the active halts (read when they change); cancels the newly halted users' working orders.
    public func setHalts(users: Set<String>, strategies: Set<String> = [], engine: Bool, now: Timestamp) {
        queue.async { [state, writer] in
            writer.enqueue(state.desk.setHalts(users: users, engine: engine, time: now)
                + state.desk.setHaltedStrategies(strategies, time: now))
        }
    }

    /// Re-establishes open positions read from the database (before any intent).
    public func restore(_ body: @escaping @Sendable (inout TradingDesk) -> Void) {
        queue.sync { [state] in body(&state.desk) }
    }

    /// Intents become orders, unless the event writer can make records durable nowhere (the
    /// journal full while PostgreSQL is away): then no order is made, since neither it nor its
    /// rejection could be stored or published, and the strategies are told (docs/operations.md).
    /// False when they were refused that way.
    @discardableResult
    public func submit(_ intents: [OrderIntent], now: Timestamp) -> Bool {
        if writer.isBlocked {
            refusedIntents.add(intents.count, ordering: .relaxed)
            logger?.error("intents refused: order records cannot be made durable (journal full and PostgreSQL away)",
                          metadata: ["intents": "\(intents.count)"])
            onIntentsRefused(intents)
            return false
        }
        queue.async { [state, writer] in
            var records: [DeskRecord] = []
            for intent in intents { records += state.desk.submit(intent, now: now) }
            writer.enqueue(records)
        }
        return true
    }

    /// Batches of ticks handed to the desk and not yet applied, at most: past it `onTicks` waits,
    /// so the desk slows intake instead of its queue growing without bound.
    private let ticksInFlight = DispatchSemaphore(value: 32)

    public func onTicks(_ ticks: [Tick]) {
        ticksInFlight.wait()
        queue.async { [state, writer, ticksInFlight] in
            var records: [DeskRecord] = []
            for tick in ticks { records += state.desk.onTick(tick) }
            writer.enqueue(records)
            ticksInFlight.signal()
        }
    }

    /// Every `interval`: marks open positions at their last traded prices (their `current_price`,
    /// and through the seed's trigger `unrealized_pnl`), and moves the desk's clock to `clock`'s
    /// time (day start, MIS square-off, DAY order expiry).
    public func startMarking(everyMilliseconds: Int = 1_000, clock: any WallClock = SystemClock()) {
        let interval = DispatchTimeInterval.milliseconds(everyMilliseconds)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        // While records can be made durable nowhere the clock waits: the day start, square-off
        // and expiry it would act on happen at the first turn after (crossings are remembered).
        timer.setEventHandler { [state, writer] in
            guard !writer.isBlocked else { return }
            writer.enqueue(state.desk.advance(to: clock.now()) + state.desk.marks())
        }
        queue.sync { [state] in state.markTimer = timer }
        timer.resume()
    }

    /// Waits until everything submitted so far was handed to the writer.
    public func drain() {
        queue.sync { [state] in
            state.markTimer?.cancel()
            state.markTimer = nil
        }
    }
}
