/// Intents in, orders, fills, positions and events out: risk check, execution (the paper
/// simulator, or a broker gateway for a live broker account), the order state machine and net
/// positions, composed. Pure and single-threaded: the engine runs it on one serial queue and
/// stores its records before publishing them or sending them to a gateway.
public struct TradingDesk: Sendable {
    public typealias PositionKey = PositionLedger.Key

    /// What became of a gateway report.
    public enum ReportOutcome: Sendable, Equatable {
        case applied
        /// Seen before (same `exec_id`, or a state the order is already in): nothing changed.
        case duplicate
        /// No working order has that `order_id`.
        case unknownOrder
        /// The report contradicts the order's state (a fill above its quantity, say).
        case refused(String)
    }

    // The machines, one per truth; the desk composes them and returns the records.
    var ids: UUIDv7Generator
    /// Orders still working: their state, and the cancels and modifies asked of live ones.
    var orders = OrderBook()
    /// Positions, last traded prices and marks.
    var positions = PositionLedger()
    /// Each user's day P&L and equity for the risk check.
    var dayLedger = DayLedger()
    /// Who is halted.
    public internal(set) var halts = HaltBook()
    /// Each broker account's cash; the margin blocked is derived from positions and orders.
    public var funds = Funds()
    /// Per strategy: today's figures.
    var strategyDays: [String: StrategyDay] = [:]
    /// The paper venue per instrument ("SYMBOL|EXCHANGE").
    var venues: [String: PaperSimulator] = [:]
    /// Live brokers: ended orders, fills per instrument, and holds (reconciliation, session).
    var brokers = BrokerBook()

    public var riskSettings: [String: RiskSettings] = [:]
    /// The paper simulator's optional models (off by default).
    public var paperModel: PaperModel = .default
    /// Broker accounts executed by a gateway (`brokers.execution_mode = 'live'`).
    public var liveBrokers: Set<String> = []
    /// Live broker accounts whose gateway is connected and heard from; orders for the others are
    /// rejected (their strategies are halted until the gateway returns).
    public internal(set) var connectedBrokers: Set<String> = []
    public var haltedUsers: Set<String> { halts.users }
    /// Exchanges whose feed is silent in session (feed health, when it halts strategies).
    public var haltedExchanges: Set<String> {
        get { halts.exchanges }
        set { halts.exchanges = newValue }
    }
    /// The whole engine is halted (an operator's kill switch).
    public var engineHalted: Bool { halts.engine }
    /// Strategies halted by a breaker or an operator.
    public var haltedStrategies: Set<String> { halts.strategies }

    // Indian market rules (docs/risk.md, docs/execution.md).
    /// Lot size, tick size, freeze quantity and type per instrument.
    public var instruments = InstrumentMaster()
    /// Sessions, holidays and MIS square-off times.
    public var calendar = TradingCalendar.standard
    /// Whether the clock expires DAY orders at the close and squares off MIS positions.
    public var sessionActions = true
    /// Whether the risk measure (day loss, equity) counts charges. On by default (docs/risk.md):
    /// the day's loss is realized plus unrealized P&L less the day's charges; off, the fills'
    /// P&L before charges (a broker's MTM). Positions and performance report net P&L either way.
    public var riskIncludesCharges = true
    /// Whether a new IST day lifts the user halts its daily loss limit raised. Off by default:
    /// CONTRACT.md section 5 keeps a daily loss halt "until an admin resumes"; the day's loss
    /// itself always starts again from zero.
    public var liftDailyLossHaltsAtDayStart = false
    /// Order rates, fat-finger caps, price band, breakers, algo id (all off by default).
    public var controls = OrderControls.none
    /// Charges per execution; nil charges nothing.
    public var chargeSchedule: ChargeSchedule?
    /// The product of an order whose intent and strategy name none.
    public var defaultProduct: Product = .mis
    /// Per strategy: product, validity and its own loss limit.
    public var strategyPolicies: [String: StrategyOrderPolicy] = [:]
    var orderRates = RateWindow()
    /// Per strategy, this day: intents submitted and order messages (new, modify, cancel) sent.
    var intentCount: [String: Int] = [:]
    var orderMessages: [String: Int] = [:]
    /// The latest time the clock advanced to (session actions fire when it crosses their time).
    public internal(set) var clock: Timestamp?
    /// Per exchange: when the desk last squared off its MIS positions (new MIS entries are
    /// refused from then until the next session opens, whatever time their tick carries).
    var squaredOffAt: [String: Timestamp] = [:]

    /// The IST day the risk check counts in: the desk clock's, or the intent's when it is later.
    /// An intent from an older tick counts in today's loss, not in a day already over.
    func riskDay(_ time: Timestamp) -> Int64 {
        SessionCalendar.istDay(max(time, clock ?? time))
    }

    public init(ids: UUIDv7Generator = UUIDv7Generator()) {
        self.ids = ids
    }

    static func instrument(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    /// The user's net position in an instrument.
    public func position(userID: String, symbol: String, exchange: String) -> Int64 {
        positions.quantity(PositionKey(userID: userID, symbol: symbol, exchange: exchange))
    }

    /// The user's day P&L now, as the daily loss limit reads it (docs/risk.md): the day's
    /// realized P&L (less its charges when `riskIncludesCharges`) plus the open positions' P&L at
    /// their last traded prices.
    public func dayPnL(userID: String, at time: Timestamp) -> Int128 {
        dayLedger.dayPnL(userID: userID, today: riskDay(time), unrealized: positions.unrealized(userID: userID),
                         includesCharges: riskIncludesCharges)
    }

    /// A broker account's cash and the margin its positions and working orders block (1/10,000
    /// units); nil when its funds are not checked.
    public func fundsInUse(broker: String, live: Bool) -> (cash: Int128, blocked: Int128)? {
        funds.cash(broker: broker, live: live).map { ($0, blockedMargin(broker: broker)) }
    }

    /// A working (not yet terminal) order by its `order_id`.
    public func workingOrder(_ orderID: String) -> DeskOrder? { orders[orderID] }

    /// The ids of the orders still working, in order.
    public var workingOrderIDs: [String] { orders.working.keys.sorted() }

    /// Goes on from the day's results stored before a restart (`strategy_performance` of the
    /// current IST day): each strategy's day (its `max_loss`, its performance row) and each
    /// user's realized P&L and charges for the daily loss limit, so a restart forgets nothing.
    public mutating func restoreDay(_ days: [(userID: String, day: StrategyDay)]) {
        for (user, day) in days {
            strategyDays[day.strategyID] = day
            dayLedger.record(userID: user, day: day.day, realized: day.grossPnL, charges: day.charges)
        }
    }

    /// Takes up again the orders still working when the engine stopped (read from `trades`
    /// after a restart): each is working again; a paper LIMIT or stop order goes back to its
    /// venue for its remaining quantity (a MARKET remainder, possible only with the partial-fill
    /// model, is cancelled); a live order still PENDING is sent to its gateway again with the
    /// same `order_id` (the broker treats it as the same order), since the engine cannot know
    /// whether the first request arrived. Bracket orders get their one-cancels-other link back.
    ///
    /// What the clock would have done to a paper order while the engine was down is done now:
    /// a DAY order whose session closed expires, an MIS order past its square-off is cancelled,
    /// and so is an order of a strategy not running (`running`); bracket orders of positions no
    /// longer held go too. Live orders are the broker's to expire and report.
    ///
    /// Halts already set (the engine reads them before the orders) cancel what they would have
    /// cancelled had the engine been up: every order of a halted user or of a halted engine, and
    /// a halted strategy's orders but its brackets (they only protect what it holds). A halted
    /// live order still PENDING is not sent again: its cancel is (the broker may have it).
    public mutating func restoreWorking(_ orders: [DeskOrder], time: Timestamp, running: Set<String>? = nil) -> [DeskRecord] {
        var records: [DeskRecord] = []
        var children: [String: [String]] = [:]
        var stale: [(String, String)] = []
        func haltReason(_ order: DeskOrder) -> String? {
            if halts.isHalted(userID: order.intent.userID) { return "trading halted (found at start)" }
            if halts.strategies.contains(order.intent.strategyID) && order.parentOrderID == nil { return "strategy halted (found at start)" }
            return nil
        }
        for order in orders where self.orders[order.orderID] == nil {
            keep(order)
            if let parent = order.parentOrderID { children[parent, default: []].append(order.orderID) }
            if isLive(order) {
                if order.state.status == .pending && haltReason(order) == nil {
                    records.append(.gatewayRequest(GatewayRequest(kind: .new, requestID: ids.next(now: time).description, order: order, time: time)))
                }
                continue
            }
            guard order.intent.type != .market else {
                records += cancel(orderID: order.orderID, reason: "engine restarted: a paper MARKET remainder is not taken up again", time: time)
                continue
            }
            let i = order.intent
            let key = Self.instrument(i.symbol, i.exchange)
            var venue = venues[key] ?? PaperSimulator(model: paperModel)
            // The whole order with what is left of it: the venue's own modify counts from the total.
            var paper = PaperOrder(orderID: order.orderID, side: i.side, type: i.type, quantity: order.state.quantity,
                                   limitPrice: order.state.price, triggerPrice: order.state.triggerPrice)
            paper.remaining = order.state.remainingQuantity
            _ = venue.place(paper, at: i.referencePrice, time: time)
            venues[key] = venue
            let day = SessionCalendar.istDay(order.orderTime)
            if let running, !running.contains(i.strategyID) {
                stale.append((order.orderID, "its strategy is not running (found at start)"))
            } else if sessionActions, (order.validity ?? .day) == .day, let close = calendar.sessionClose(i.exchange, day: day), close <= time {
                stale.append((order.orderID, "expired: end of the \(i.exchange) session at \(TradingCalendar.clock(calendar.sessions[i.exchange]?.close ?? 0)) IST (found at start)"))
            } else if sessionActions, (order.product ?? defaultProduct) == .mis, let cut = calendar.squareOffTime(i.exchange, day: day),
                      order.orderTime < cut, cut <= time {
                stale.append((order.orderID, "MIS square-off at \(TradingCalendar.clock(calendar.squareOff[i.exchange] ?? 0)) IST (found at start)"))
            }
        }
        for pair in children.values where pair.count == 2 { self.orders.linkOneCancelsOther(pair[0], pair[1]) }
        let already = Set(stale.map(\.0))
        for order in orders where !already.contains(order.orderID) && self.orders[order.orderID] != nil {
            if let reason = haltReason(order) { stale.append((order.orderID, reason)) }
        }
        for (orderID, reason) in stale { records += cancel(orderID: orderID, reason: reason, time: time) }
        var held: Set<String> = []
        for order in orders where order.parentOrderID != nil && !isLive(order) {
            let i = order.intent
            if held.insert(i.userID + "|" + i.symbol + "|" + i.exchange).inserted {
                records += fitBrackets(userID: i.userID, symbol: i.symbol, exchange: i.exchange, time: time)
            }
        }
        return records
    }

    /// Re-establishes an open position read from `positions` after a restart.
    public mutating func restore(positionID: String, openingTradeID: String, userID: String, symbol: String, exchange: String,
                                 quantity: Int64, averagePrice: FixedDecimal, openedAt: Timestamp,
                                 strategyID: String? = nil, brokerID: String? = nil, product: Product? = nil) {
        restore(RestoredPosition(positionID: positionID, openingTradeID: openingTradeID, userID: userID, symbol: symbol, exchange: exchange,
                                 quantity: quantity, averagePrice: averagePrice, openedAt: openedAt, strategyID: strategyID,
                                 brokerID: brokerID, product: product))
    }

    /// Re-establishes an open position read from `positions` after a restart. The row goes on
    /// with its realized P&L and charges so far: before, the next fill rewrote the row with only
    /// what came after the restart, and its charges (and the account's funds read from the
    /// rows at the next start) lost those paid before.
    public mutating func restore(_ p: RestoredPosition) {
        var net = NetPosition()
        net.apply(fill: p.quantity, price: p.averagePrice)
        let key = PositionKey(userID: p.userID, symbol: p.symbol, exchange: p.exchange)
        positions.open[key] = PositionLedger.Open(
            positionID: p.positionID, openingTradeID: p.openingTradeID, openedAt: p.openedAt, net: net,
            realizedBase: -p.grossRealized, charges: p.charges, product: p.product ?? defaultProduct,
            instrumentType: instruments.lookup(symbol: p.symbol, exchange: p.exchange).instrumentType,
            origin: p.strategyID.map { PositionLedger.Origin(strategyID: $0, brokerID: p.brokerID) })
    }

    /// What a flatten did.
    public struct FlattenResult: Sendable, Equatable {
        public var cancelRequests = 0
        public var closingOrders = 0
        /// Positions left open: no traded price seen yet to close them at, or no known strategy.
        public var skipped: [String] = []
    }

    /// Closes a user's book: cancels its working orders and sends a MARKET order against each
    /// open position at the instrument's last traded price. Closing orders only reduce, so they
    /// pass the risk check even while the user is halted. With `strategyID`, only that
    /// strategy's orders and the positions whose last fill was its (positions are the user's,
    /// netted across strategies; docs/web.md).
    public mutating func flatten(userID: String, strategyID: String? = nil, time: Timestamp) -> (FlattenResult, [DeskRecord]) {
        var result = FlattenResult()
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { $0.intent.userID == userID && (strategyID == nil || $0.intent.strategyID == strategyID) }) {
            let done = cancel(orderID: order.orderID, reason: "flatten", time: time)
            if !done.isEmpty { result.cancelRequests += 1 }
            records += done
        }
        for (key, open) in positions.sorted(where: { key, _ in key.userID == userID }) {
            let name = "\(key.symbol)@\(key.exchange)"
            guard let price = positions.lastPrice(symbol: key.symbol, exchange: key.exchange) else { result.skipped.append("\(name): no traded price yet"); continue }
            guard let origin = open.origin else { result.skipped.append("\(name): no strategy known"); continue }
            if let strategyID, origin.strategyID != strategyID { continue }
            records += close(key, quantity: open.net.quantity, at: price, origin: origin, reason: "flatten", time: time)
            result.closingOrders += 1
        }
        return (result, records)
    }

    /// A MARKET order closing a position where its last fill came from (flatten, MIS square-off),
    /// in the position's product; it only reduces, so risk passes it even while halted.
    mutating func close(_ key: PositionKey, quantity: Int64, at price: FixedDecimal,
                                origin: PositionLedger.Origin, reason: String, time: Timestamp) -> [DeskRecord] {
        var intent = OrderIntent(strategyID: origin.strategyID, userID: key.userID, brokerID: origin.brokerID, symbol: key.symbol,
                                 exchange: key.exchange, side: quantity > 0 ? .sell : .buy, quantity: Int64(quantity.magnitude),
                                 referencePrice: price, time: time, reason: reason, product: positions.open[key]?.product)
        intent.placedByEngine = true
        return submit(intent, now: time, closing: true)
    }

    /// The live broker accounts whose gateway is connected now.
    public mutating func setConnectedBrokers(_ brokers: Set<String>) {
        connectedBrokers = brokers
    }

    /// Keeps an order working with its new state, or lets it go once terminal; a live order
    /// that ended is remembered for the next reconciliation with its broker.
    mutating func keep(_ order: DeskOrder) {
        orders.update(order)
        if order.state.status.isTerminal && isLive(order) { brokers.noteEnded(order) }
    }

    func isLive(_ order: DeskOrder) -> Bool {
        order.intent.brokerID.map { liveBrokers.contains($0) } ?? false
    }

    /// The user's P&L for the risk check (docs/risk.md): day P&L is the realized P&L since the
    /// start of the Asia/Kolkata day (less charges when `riskIncludesCharges`) plus the unrealized
    /// P&L of open positions at the last traded prices; equity is `max_position_size` (the user's
    /// risk capital) plus realized and
    /// unrealized P&L, and its peak is the highest equity seen.
    mutating func riskContext(for intent: OrderIntent) -> RiskContext {
        let user = intent.userID
        let measure = dayLedger.measure(userID: user, today: riskDay(intent.time), unrealized: positions.unrealized(userID: user),
                                        capital: Int128(riskSettings[user]?.maxPositionSize.units ?? 0), includesCharges: riskIncludesCharges)
        return RiskContext(position: position(userID: user, symbol: intent.symbol, exchange: intent.exchange),
                           dayPnL: measure.dayPnL, equity: measure.equity, equityPeak: measure.peak, halted: halts.isHalted(userID: user))
    }

    /// Every check an order passes before it is placed (risk, halts, market rules, order
    /// controls, funds, gateways), in order; the first refusal wins. `marginExcluding`: an order
    /// whose own blocked margin is left out (a modify is checked as the order it would become).
    mutating func decide(_ intent: OrderIntent, order: DeskOrder, instrument: Instrument, checkPrice: FixedDecimal, closing: Bool,
                         marginExcluding: String? = nil) -> RiskDecision {
        let context = riskContext(for: intent)
        var decision: RiskDecision = .accept
        if intent.brokerID == nil { decision = .reject(reason: "no broker account for this strategy") }
        if case .accept = decision, let refusal = StorageLimits.orderRefusal(intent, position: context.position, price: checkPrice) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, let refusal = orderRuleRefusal(intent, instrument: instrument, checkPrice: checkPrice, closing: closing) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, halts.strategies.contains(intent.strategyID), !Self.reducesOnly(intent, position: context.position) {
            decision = .reject(reason: "the strategy is halted; only orders that reduce a position are accepted")
        }
        if case .accept = decision, !closing, let refusal = misCutOffRefusal(order, position: context.position) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision {
            decision = RiskCheck.evaluate(side: intent.side, quantity: intent.quantity, price: checkPrice, stoploss: intent.stoploss,
                                          settings: riskSettings[intent.userID], context: context)
        }
        if case .accept = decision, !closing, let refusal = fundsRefusal(order, position: context.position, price: checkPrice, excluding: marginExcluding) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, halts.exchanges.contains(intent.exchange) {
            decision = .reject(reason: "halted: the \(intent.exchange) feed is silent")
        }
        if case .accept = decision, isLive(order), let broker = intent.brokerID, !connectedBrokers.contains(broker) {
            decision = .reject(reason: "halted: no gateway connected for live broker \(broker)")
        }
        if case .accept = decision, isLive(order), let broker = intent.brokerID, let hold = brokers.holdReason(broker) {
            decision = .reject(reason: hold)
        }
        if case .accept = decision, controls.requireAlgoID, isLive(order), (controls.algoID ?? "").isEmpty {
            decision = .reject(reason: "orders.algo_id is not configured: live orders must carry the exchange-approved algo id")
        }
        return decision
    }

    /// Turns an intent into an order: refused by the order controls or the risk check, or
    /// accepted and placed — at the paper venue (a MARKET order fills at once at the intent's
    /// reference price) or, for a live broker account, sent to its gateway as PENDING.
    /// `closing` marks the engine's own closing orders (flatten, MIS square-off): they skip the
    /// rate limits and breakers and do not count as the strategy's intents.
    public mutating func submit(_ intent: OrderIntent, now: Timestamp, closing: Bool = false) -> [DeskRecord] {
        positions.noteTrade(symbol: intent.symbol, exchange: intent.exchange, price: intent.referencePrice, traded: true)
        let tradeID = ids.next(now: now).description
        let orderID = ids.next(now: now).description
        let policy = strategyPolicies[intent.strategyID]
        let instrument = instruments.lookup(symbol: intent.symbol, exchange: intent.exchange)
        var order = DeskOrder(tradeID: tradeID, orderID: orderID, parentOrderID: nil, intent: intent,
                              state: OrderState(quantity: intent.quantity, price: intent.limitPrice, triggerPrice: intent.triggerPrice),
                              orderTime: intent.time, executionTime: nil, reason: nil,
                              product: intent.product ?? policy?.product ?? defaultProduct,
                              validity: intent.validity ?? policy?.validity ?? .day,
                              instrumentType: instrument.instrumentType, algoID: controls.algoID)
        if !closing { intentCount[intent.strategyID, default: 0] += 1 }
        var records: [DeskRecord] = []
        let checkPrice = intent.type == .limit ? (intent.limitPrice ?? intent.referencePrice) : intent.referencePrice
        let decision = decide(intent, order: order, instrument: instrument, checkPrice: checkPrice, closing: closing)
        switch decision {
        case .reject(let reason), .rejectAndHalt(let reason):
            _ = try? order.state.apply(.rejected(reason: reason))  // a new PENDING order: always legal
            order.reason = reason
            records.append(.order(order))
            records.append(.tradeLog(tradeID: tradeID, level: "WARNING", message: "rejected: \(reason)", data: nil))
            records.append(.event(BusEvent(kind: .order, order: order, time: intent.time)))
            if case .rejectAndHalt = decision {
                if reason.hasPrefix("daily loss") { halts.noteDailyLossHalt(intent.userID) }
                records.append(.halt(userID: intent.userID, reason: reason))
                records += setHalts(users: halts.users.union([intent.userID]), engine: halts.engine, time: intent.time)
            }
            return records
        case .accept:
            break
        }
        if !closing {
            // Exchange time of the intent, as the check reads it: the same in a replay as live.
            orderRates.record("u|" + intent.userID, now: intent.time)
            orderRates.record("s|" + intent.strategyID, now: intent.time)
        }
        return place(order, time: intent.time, why: intent.reason)
    }
}
