/// One order as the desk tracks it: the `trades` row it is.
public struct DeskOrder: Sendable, Equatable, Codable {
    public var tradeID: String
    public var orderID: String
    public var parentOrderID: String?
    public var intent: OrderIntent
    public var state: OrderState
    public var orderTime: Timestamp
    public var executionTime: Timestamp?
    public var reason: String?
    /// Resolved at submit (optional only so that journal rounds written before them still decode).
    public var product: Product?
    public var validity: Validity?
    /// From the instrument master (`EQ` for an instrument missing from it).
    public var instrumentType: String?
    /// The exchange-approved algo id the order was placed under (`orders.algo_id`).
    public var algoID: String?
    /// Charges of its executions so far, and the brokerage part (capped per order), 1/10,000 units.
    public var charges: Int64?
    public var brokerage: Int64?
}

/// A fill or order event for the bus; `seq` is given when it is committed.
public struct BusEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case fill, order }
    public var kind: Kind
    public var order: DeskOrder
    public var fillQuantity: Int64?
    public var fillPrice: FixedDecimal?
    public var time: Timestamp

    /// `fill.<user_id>.<strategy_id>` or `order.<user_id>.<strategy_id>`.
    public var topic: String { "\(kind.rawValue).\(order.intent.userID).\(order.intent.strategyID)" }

    /// The payload of CONTRACT.md section 2, with `seq`.
    public func json(seq: Int64) -> String {
        var w = JSONObjectWriter()
        w.add("seq", seq)
        w.add("event", kind.rawValue)
        w.add("trade_id", order.tradeID)
        w.add("order_id", order.orderID)
        w.add("parent_order_id", order.parentOrderID)
        w.add("user_id", order.intent.userID)
        w.add("strategy_id", order.intent.strategyID)
        w.add("broker_id", order.intent.brokerID)
        w.add("symbol", order.intent.symbol)
        w.add("exchange", order.intent.exchange)
        w.add("transaction_type", order.intent.side.rawValue)
        w.add("order_type", order.intent.type.rawValue)
        w.add("quantity", order.state.quantity)
        if kind == .fill {
            w.add("fill_quantity", fillQuantity ?? 0)
            w.add("fill_price", fillPrice)
        }
        w.add("filled_quantity", order.state.filledQuantity)
        w.add("average_price", order.state.averagePrice)
        w.add("status", order.state.status.rawValue)
        if kind == .order {
            w.add("price", order.state.price)
            w.add("trigger_price", order.state.triggerPrice)
            w.add("stoploss", order.intent.stoploss)
            w.add("target", order.intent.target)
            w.add("reason", order.reason)
        }
        w.add("ts", time: time)
        return w.text
    }
}

/// A `positions` row as it is after a fill.
public struct PositionRecord: Sendable, Equatable, Codable {
    public var positionID: String
    public var openingTradeID: String
    public var userID: String
    public var symbol: String
    public var exchange: String
    public var quantity: Int64
    public var averagePrice: FixedDecimal
    public var currentPrice: FixedDecimal
    public var realizedPnL: Int128
    public var status: NetPosition.Status
    public var openedAt: Timestamp
    public var closedAt: Timestamp?
    /// Realized P&L before charges, and the charges of the row's executions (`realizedPnL` is net).
    public var grossRealizedPnL: Int128?
    public var charges: Int128?
    public var product: Product?
    public var instrumentType: String?
}

/// A `position_history` row.
public struct PositionHistoryRecord: Sendable, Equatable, Codable {
    public var positionID: String
    public var price: FixedDecimal
    public var quantity: Int64
    public var pnl: Int128
    public var action: NetPosition.Action
    public var time: Timestamp
}

/// What the desk wants stored and published, in order. The writer commits a batch of these in
/// one transaction, then publishes its events.
public enum DeskRecord: Sendable, Equatable, Codable {
    case order(DeskOrder)
    case tradeLog(tradeID: String, level: String, message: String, data: String?)
    case position(PositionRecord)
    case positionHistory(PositionHistoryRecord)
    case event(BusEvent)
    /// A risk breach halted the user (stored so the halt survives a restart).
    case halt(userID: String, reason: String)
    /// A breaker halted one strategy (`breach`: `strategy_loss` or `order_ratio`).
    case strategyHalt(strategyID: String, userID: String, reason: String, breach: String)
    /// A new Asia/Kolkata trading day began: the halts of the `lifting` breaches raised before
    /// it are lifted (`strategy_loss` always; `daily_loss` only when the desk is configured to).
    case dayStart(day: Int64, time: Timestamp, lifting: [String])
    /// Marks an open position at a new last traded price (`current_price`; the seed's trigger
    /// recomputes `unrealized_pnl`).
    case mark(positionID: String, price: FixedDecimal)
    /// A strategy's figures for an Asia/Kolkata day (`strategy_performance`).
    case performance(StrategyDay)
    /// A request for a broker gateway, sent once the order's row is durable.
    case gatewayRequest(GatewayRequest)
    /// A gateway's report is durable (or needed nothing stored): acknowledge it to the gateway
    /// (`peer`, its routing id) so it stops resending; `status` says what became of it.
    case gatewayAck(peer: [UInt8], reportID: String, status: String)
}

/// One strategy's trading in one Asia/Kolkata day, from its fills: P&L net of charges, with the
/// gross and the charges kept beside it.
public struct StrategyDay: Sendable, Equatable, Codable {
    public var strategyID: String
    /// Days since 1970-01-01 (IST).
    public var day: Int64
    /// Executions (fills) of the strategy's orders.
    public var trades: Int = 0
    /// Closing or reducing executions with a gain / a loss (net of their own charges).
    public var winning: Int = 0
    public var losing: Int = 0
    /// Realized P&L net of every execution's charges, 1/10,000 units.
    public var totalPnL: Int128 = 0
    /// Realized P&L before charges, and the charges of the day's executions.
    public var grossPnL: Int128 = 0
    public var charges: Int128 = 0
    /// The largest fall of cumulative net P&L from its running peak within the day.
    public var maxDrawdown: Int128 = 0
    var peak: Int128 = 0
    /// Net P&L of each closing execution (its realized P&L less its own charges), for the
    /// win rate and the Sharpe ratio.
    public var closedPnLs: [Int128] = []

    public init(strategyID: String, day: Int64) {
        self.strategyID = strategyID
        self.day = day
    }

    /// A day read back from `strategy_performance` after a restart, to go on from.
    public init(restoring strategyID: String, day: Int64, trades: Int, winning: Int, losing: Int, grossPnL: Int128, charges: Int128,
                maxDrawdown: Int128, peak: Int128, closedPnLs: [Int128]) {
        self.init(strategyID: strategyID, day: day)
        self.trades = trades
        self.winning = winning
        self.losing = losing
        self.grossPnL = grossPnL
        self.charges = charges
        totalPnL = grossPnL - charges
        self.maxDrawdown = maxDrawdown
        self.peak = peak
        self.closedPnLs = closedPnLs
    }

    /// The running peak of cumulative net P&L (stored with the day so a restart goes on from it).
    public var netPeak: Int128 { peak }

    enum CodingKeys: String, CodingKey {
        case strategyID, day, trades, winning, losing, totalPnL, grossPnL, charges, maxDrawdown, peak, closedPnLs
    }

    /// Rounds journaled before gross and charges existed still decode (with zero charges).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        strategyID = try c.decode(String.self, forKey: .strategyID)
        day = try c.decode(Int64.self, forKey: .day)
        trades = try c.decode(Int.self, forKey: .trades)
        winning = try c.decode(Int.self, forKey: .winning)
        losing = try c.decode(Int.self, forKey: .losing)
        totalPnL = try c.decode(Int128.self, forKey: .totalPnL)
        charges = try c.decodeIfPresent(Int128.self, forKey: .charges) ?? 0
        grossPnL = try c.decodeIfPresent(Int128.self, forKey: .grossPnL) ?? totalPnL + charges
        maxDrawdown = try c.decode(Int128.self, forKey: .maxDrawdown)
        peak = try c.decode(Int128.self, forKey: .peak)
        closedPnLs = try c.decode([Int128].self, forKey: .closedPnLs)
    }

    /// Winning closed executions over all closed executions, in percent.
    public var winRate: Double? {
        let closed = winning + losing
        return closed > 0 ? Double(winning) / Double(closed) * 100 : nil
    }

    /// Mean over standard deviation (population) of the closed executions' P&L: a per-trade
    /// Sharpe ratio with no risk-free rate and no annualization; nil below two trades.
    public var sharpeRatio: Double? {
        guard closedPnLs.count >= 2 else { return nil }
        let values = closedPnLs.map { Double($0) / 10_000 }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        guard variance > 0 else { return nil }
        return mean / variance.squareRoot()
    }

    mutating func add(fill realized: Int128, closing: Bool, charges fillCharges: Int128 = 0) {
        trades += 1
        charges += fillCharges
        if closing { grossPnL += realized }
        totalPnL = grossPnL - charges
        if closing {
            let net = realized - fillCharges
            closedPnLs.append(net)
            if net > 0 { winning += 1 } else if net < 0 { losing += 1 }
        }
        if totalPnL > peak { peak = totalPnL }
        maxDrawdown = max(maxDrawdown, peak - totalPnL)
    }
}

/// Intents in, orders, fills, positions and events out: risk check, execution (the paper
/// simulator, or a broker gateway for a live broker account), the order state machine and net
/// positions, composed. Pure and single-threaded: the engine runs it on one serial queue and
/// stores its records before publishing them or sending them to a gateway.
public struct TradingDesk: Sendable {
    public struct PositionKey: Hashable, Sendable {
        public var userID: String, symbol: String, exchange: String
    }

    struct OpenPosition: Sendable {
        var positionID: String
        var openingTradeID: String
        var openedAt: Timestamp
        var net: NetPosition
        /// `net.realized` when this row opened: a row's realized P&L is its own, not that of the
        /// position it replaced when a fill went through zero.
        var realizedBase: Int128 = 0
        /// Charges of this row's executions.
        var charges: Int128 = 0
        var product: Product = .mis
        var instrumentType = "EQ"
    }

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

    private var ids: UUIDv7Generator
    private var working: [String: DeskOrder] = [:]
    private var venues: [String: PaperSimulator] = [:]  // by "SYMBOL|EXCHANGE"
    private var positions: [PositionKey: OpenPosition] = [:]
    private var lastPrice: [String: FixedDecimal] = [:]
    /// Instruments whose last price is kept for any tick (see `onTick`).
    public static let maxPricedInstruments = 200_000
    public var riskSettings: [String: RiskSettings] = [:]
    /// The paper simulator's optional models (off by default).
    public var paperModel: PaperModel = .default
    /// Each broker account's cash; the margin blocked is derived from positions and orders.
    public var funds = Funds()
    /// Broker accounts executed by a gateway (`brokers.execution_mode = 'live'`).
    public var liveBrokers: Set<String> = []
    /// Live broker accounts whose gateway is connected and heard from; orders for the others are
    /// rejected (their strategies are halted until the gateway returns).
    public private(set) var connectedBrokers: Set<String> = []
    public private(set) var haltedUsers: Set<String> = []
    /// Exchanges whose feed is silent in session (feed health, when it halts strategies).
    public var haltedExchanges: Set<String> = []
    /// The whole engine is halted (an operator's kill switch).
    public private(set) var engineHalted = false
    /// Realized P&L per user since the desk started, before charges (positions restored at
    /// start carry none), and the charges of those executions.
    private var realizedByUser: [String: Int128] = [:]
    /// Live orders a cancel was asked for (they stay working until their gateway reports it).
    private var cancelRequested: Set<String> = []
    private var chargesByUser: [String: Int128] = [:]
    /// Per user: the IST day and the realized P&L at its start, for the daily loss limit.
    private var dayStart: [String: (day: Int64, realized: Int128)] = [:]
    /// Per user: the highest equity seen (docs/risk.md).
    private var equityPeak: [String: Int128] = [:]
    /// Per strategy: today's figures.
    private var strategyDays: [String: StrategyDay] = [:]
    /// The price each open position was last marked at.
    private var marked: [String: FixedDecimal] = [:]
    /// One-cancels-other: a bracket child's order id -> its sibling's.
    private var ocoSibling: [String: String] = [:]
    /// The strategy and broker account of each open position's last fill (a flatten closes it there).
    private var positionOrigin: [PositionKey: (strategyID: String, brokerID: String?)] = [:]

    // Indian market rules (docs/risk.md, docs/execution.md).
    /// Lot size, tick size, freeze quantity and type per instrument.
    public var instruments = InstrumentMaster()
    /// Sessions, holidays and MIS square-off times.
    public var calendar = TradingCalendar.standard
    /// Whether the clock expires DAY orders at the close and squares off MIS positions.
    public var sessionActions = true
    /// Whether the risk measure (day loss, equity) counts charges. Off by default: CONTRACT.md
    /// section 5's loss is realized plus unrealized P&L of the fills, as a broker's MTM is;
    /// positions and performance report net P&L either way.
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
    /// Strategies halted by a breaker or an operator.
    public private(set) var haltedStrategies: Set<String> = []
    /// Halts this desk raised for a daily loss (lifted at the next day's start when configured).
    private var dailyLossHalts: Set<String> = []
    private var strategyLossHalts: Set<String> = []
    private var orderRates = RateWindow()
    /// Per strategy, this day: intents submitted and order messages (new, modify, cancel) sent.
    private var intentCount: [String: Int] = [:]
    private var orderMessages: [String: Int] = [:]
    /// The latest time the clock advanced to (session actions fire when it crosses their time).
    public private(set) var clock: Timestamp?
    /// The product of each open position's fills.
    private var positionProduct: [PositionKey: Product] = [:]

    public init(ids: UUIDv7Generator = UUIDv7Generator()) {
        self.ids = ids
    }

    static func instrument(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    /// The user's net position in an instrument.
    public func position(userID: String, symbol: String, exchange: String) -> Int64 {
        positions[PositionKey(userID: userID, symbol: symbol, exchange: exchange)]?.net.quantity ?? 0
    }

    /// A working (not yet terminal) order by its `order_id`.
    public func workingOrder(_ orderID: String) -> DeskOrder? { working[orderID] }

    /// The ids of the orders still working, in order.
    public var workingOrderIDs: [String] { working.keys.sorted() }

    /// Goes on from the day's results stored before a restart (`strategy_performance` of the
    /// current IST day): each strategy's day (its `max_loss`, its performance row) and each
    /// user's realized P&L and charges for the daily loss limit, so a restart forgets nothing.
    public mutating func restoreDay(_ days: [(userID: String, day: StrategyDay)]) {
        for (user, day) in days {
            strategyDays[day.strategyID] = day
            realizedByUser[user, default: 0] += day.grossPnL
            chargesByUser[user, default: 0] += day.charges
            dayStart[user] = (day.day, 0)
        }
    }

    /// Re-establishes an open position read from `positions` after a restart.
    public mutating func restore(positionID: String, openingTradeID: String, userID: String, symbol: String, exchange: String,
                                 quantity: Int64, averagePrice: FixedDecimal, openedAt: Timestamp,
                                 strategyID: String? = nil, brokerID: String? = nil, product: Product? = nil) {
        var net = NetPosition()
        net.apply(fill: quantity, price: averagePrice)
        let key = PositionKey(userID: userID, symbol: symbol, exchange: exchange)
        let resolved = product ?? defaultProduct
        positions[key] = OpenPosition(positionID: positionID, openingTradeID: openingTradeID, openedAt: openedAt, net: net,
                                      product: resolved, instrumentType: instruments.lookup(symbol: symbol, exchange: exchange).instrumentType)
        positionProduct[key] = resolved
        if let strategyID { positionOrigin[key] = (strategyID, brokerID) }
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
    /// pass the risk check even while the user is halted.
    public mutating func flatten(userID: String, time: Timestamp) -> (FlattenResult, [DeskRecord]) {
        var result = FlattenResult()
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key }) where order.intent.userID == userID {
            let done = cancel(orderID: orderID, reason: "flatten", time: time)
            if !done.isEmpty { result.cancelRequests += 1 }
            records += done
        }
        for (key, open) in positions.sorted(by: { $0.value.positionID < $1.value.positionID }) where key.userID == userID && open.net.quantity != 0 {
            let name = "\(key.symbol)@\(key.exchange)"
            guard let price = lastPrice[Self.instrument(key.symbol, key.exchange)] else { result.skipped.append("\(name): no traded price yet"); continue }
            guard let origin = positionOrigin[key] else { result.skipped.append("\(name): no strategy known"); continue }
            records += close(key, quantity: open.net.quantity, at: price, origin: origin, reason: "flatten", time: time)
            result.closingOrders += 1
        }
        return (result, records)
    }

    /// A MARKET order closing a position where its last fill came from (flatten, MIS square-off),
    /// in the position's product; it only reduces, so risk passes it even while halted.
    private mutating func close(_ key: PositionKey, quantity: Int64, at price: FixedDecimal,
                                origin: (strategyID: String, brokerID: String?), reason: String, time: Timestamp) -> [DeskRecord] {
        var intent = OrderIntent(strategyID: origin.strategyID, userID: key.userID, brokerID: origin.brokerID, symbol: key.symbol,
                                 exchange: key.exchange, side: quantity > 0 ? .sell : .buy, quantity: Int64(quantity.magnitude),
                                 referencePrice: price, time: time, reason: reason, product: positionProduct[key])
        intent.placedByEngine = true
        return submit(intent, now: time, closing: true)
    }

    /// The live broker accounts whose gateway is connected now.
    public mutating func setConnectedBrokers(_ brokers: Set<String>) {
        connectedBrokers = brokers
    }

    private func isLive(_ order: DeskOrder) -> Bool {
        order.intent.brokerID.map { liveBrokers.contains($0) } ?? false
    }

    /// The user's P&L for the risk check (docs/risk.md): day P&L is the realized P&L since the
    /// start of the Asia/Kolkata day (less charges when `riskIncludesCharges`) plus the unrealized
    /// P&L of open positions at the last traded prices; equity is `max_position_size` (the user's
    /// risk capital) plus realized and
    /// unrealized P&L, and its peak is the highest equity seen.
    mutating func riskContext(for intent: OrderIntent) -> RiskContext {
        let user = intent.userID
        var unrealized: Int128 = 0
        for (key, open) in positions where key.userID == user {
            if let mark = lastPrice[Self.instrument(key.symbol, key.exchange)] { unrealized += open.net.unrealized(at: mark) }
        }
        let realized = (realizedByUser[user] ?? 0) - (riskIncludesCharges ? chargesByUser[user] ?? 0 : 0)
        let today = SessionCalendar.istDay(intent.time)
        if dayStart[user]?.day != today { dayStart[user] = (today, realized) }
        let dayPnL = realized - (dayStart[user]?.realized ?? 0) + unrealized
        let capital = Int128(riskSettings[user]?.maxPositionSize.units ?? 0)
        let equity = capital + realized + unrealized
        let peak = max(equityPeak[user] ?? equity, equity)
        equityPeak[user] = peak
        return RiskContext(position: position(userID: user, symbol: intent.symbol, exchange: intent.exchange),
                           dayPnL: dayPnL, equity: equity, equityPeak: peak, halted: engineHalted || haltedUsers.contains(user))
    }

    /// Turns an intent into an order: refused by the order controls or the risk check, or
    /// accepted and placed — at the paper venue (a MARKET order fills at once at the intent's
    /// reference price) or, for a live broker account, sent to its gateway as PENDING.
    /// `closing` marks the engine's own closing orders (flatten, MIS square-off): they skip the
    /// rate limits and breakers and do not count as the strategy's intents.
    public mutating func submit(_ intent: OrderIntent, now: Timestamp, closing: Bool = false) -> [DeskRecord] {
        lastPrice[Self.instrument(intent.symbol, intent.exchange)] = intent.referencePrice
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
        let context = riskContext(for: intent)
        var decision: RiskDecision = .accept
        if intent.brokerID == nil { decision = .reject(reason: "no broker account for this strategy") }
        if case .accept = decision, let refusal = StorageLimits.orderRefusal(intent, position: context.position, price: checkPrice) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, let refusal = orderRuleRefusal(intent, instrument: instrument, checkPrice: checkPrice, closing: closing) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, haltedStrategies.contains(intent.strategyID), !Self.reducesOnly(intent, position: context.position) {
            decision = .reject(reason: "the strategy is halted; only orders that reduce a position are accepted")
        }
        if case .accept = decision, !closing, let refusal = misCutOffRefusal(order, position: context.position) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision {
            decision = RiskCheck.evaluate(side: intent.side, quantity: intent.quantity, price: checkPrice, stoploss: intent.stoploss,
                                          settings: riskSettings[intent.userID], context: context)
        }
        if case .accept = decision, !closing, let refusal = fundsRefusal(order, position: context.position, price: checkPrice) {
            decision = .reject(reason: refusal)
        }
        if case .accept = decision, haltedExchanges.contains(intent.exchange) {
            decision = .reject(reason: "halted: the \(intent.exchange) feed is silent")
        }
        if case .accept = decision, isLive(order), let broker = intent.brokerID, !connectedBrokers.contains(broker) {
            decision = .reject(reason: "halted: no gateway connected for live broker \(broker)")
        }
        if case .accept = decision, controls.requireAlgoID, isLive(order), (controls.algoID ?? "").isEmpty {
            decision = .reject(reason: "orders.algo_id is not configured: live orders must carry the exchange-approved algo id")
        }
        switch decision {
        case .reject(let reason), .rejectAndHalt(let reason):
            _ = try? order.state.apply(.rejected(reason: reason))  // a new PENDING order: always legal
            order.reason = reason
            records.append(.order(order))
            records.append(.tradeLog(tradeID: tradeID, level: "WARNING", message: "rejected: \(reason)", data: nil))
            records.append(.event(BusEvent(kind: .order, order: order, time: intent.time)))
            if case .rejectAndHalt = decision {
                if reason.hasPrefix("daily loss") { dailyLossHalts.insert(intent.userID) }
                records.append(.halt(userID: intent.userID, reason: reason))
                records += setHalts(users: haltedUsers.union([intent.userID]), engine: engineHalted, time: intent.time)
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

    /// After an exchange's MIS square-off time on a trading day, an MIS order that would add to a
    /// position is refused until the next session (brokers refuse them too); one that only
    /// reduces a position is still taken. Off with the session actions.
    func misCutOffRefusal(_ order: DeskOrder, position: Int64) -> String? {
        let intent = order.intent
        guard sessionActions, (order.product ?? .mis) == .mis, !Self.reducesOnly(intent, position: position),
              let cutOff = calendar.squareOffTime(intent.exchange, day: SessionCalendar.istDay(intent.time)), intent.time >= cutOff else { return nil }
        let at = TradingCalendar.clock(calendar.squareOff[intent.exchange] ?? 0)
        return "MIS square-off at \(at) IST has passed: new MIS orders that add to a position are refused until the next session"
    }

    /// The margin an order needs for the exposure it adds (nothing for what only reduces a
    /// position), against the account's cash less the margin its open positions and working
    /// orders block; the reason it is refused, or nil.
    func fundsRefusal(_ order: DeskOrder, position: Int64, price: FixedDecimal) -> String? {
        let intent = order.intent
        guard let broker = intent.brokerID, let cash = funds.cash(broker: broker, live: isLive(order)) else { return nil }
        let signed = intent.side == .buy ? intent.quantity : -intent.quantity
        let added = Int64((position + signed).magnitude) - Int64(position.magnitude)
        guard added > 0 else { return nil }
        let product = order.product ?? defaultProduct
        let needed = funds.schedule.margin(value: Int128(added) * Int128(price.units), product: product)
        let available = cash - blockedMargin(broker: broker)
        guard needed > available else { return nil }
        return "insufficient funds: the order needs \(RiskCheck.text(needed)) of margin, \(RiskCheck.text(max(available, 0))) is available in broker account \(broker)"
    }

    /// Margin the account's open positions (at their average price) and working orders (their
    /// remaining quantity at their limit or reference price; bracket children only close) block.
    func blockedMargin(broker: String) -> Int128 {
        var blocked: Int128 = 0
        for (key, open) in positions where positionOrigin[key]?.brokerID == broker && open.net.quantity != 0 {
            blocked += funds.schedule.margin(value: Int128(open.net.quantity.magnitude) * Int128((open.net.averagePrice ?? .zero).units),
                                             product: positionProduct[key] ?? defaultProduct)
        }
        for order in working.values where order.intent.brokerID == broker && order.parentOrderID == nil && !order.intent.placedByEngine {
            let price = order.state.price ?? order.intent.referencePrice
            blocked += funds.schedule.margin(value: Int128(order.state.remainingQuantity) * Int128(price.units),
                                             product: order.product ?? defaultProduct)
        }
        return blocked
    }

    /// Whether an order only takes risk off the position.
    static func reducesOnly(_ intent: OrderIntent, position: Int64) -> Bool {
        let signed = intent.side == .buy ? intent.quantity : -intent.quantity
        return position != 0 && (position > 0) != (signed > 0) && (position + signed).magnitude <= position.magnitude
    }

    /// The instrument's rules (lot, tick, freeze) and the order controls (rates, fat finger,
    /// price band); the reason for the first one broken, nil if none.
    mutating func orderRuleRefusal(_ intent: OrderIntent, instrument: Instrument, checkPrice: FixedDecimal, closing: Bool) -> String? {
        let name = "\(intent.symbol)@\(intent.exchange)"
        if intent.quantity % instrument.lotSize != 0 {
            return "quantity \(intent.quantity) is not a multiple of the lot size \(instrument.lotSize) of \(name)"
        }
        if let freeze = instrument.freezeQuantity, intent.quantity > freeze {
            return "quantity \(intent.quantity) is above the freeze quantity \(freeze) of \(name)"
        }
        let tick = instrument.tickSize.units
        for (label, price) in [("price", intent.limitPrice), ("trigger price", intent.triggerPrice), ("stoploss", intent.stoploss),
                               ("target", intent.target)] {
            if let price, price.units % tick != 0 {
                return "\(label) \(price) is not a multiple of the tick size \(instrument.tickSize) of \(name)"
            }
        }
        if closing { return nil }
        let c = controls
        if c.maxOrderQuantity > 0, intent.quantity > c.maxOrderQuantity {
            return "fat finger: quantity \(intent.quantity) is above the cap \(c.maxOrderQuantity) (controls.max_order_quantity)"
        }
        let value = Int128(intent.quantity) * Int128(checkPrice.units)
        if c.maxOrderValue.units > 0, value > Int128(c.maxOrderValue.units) {
            return "fat finger: order value \(RiskCheck.text(value)) is above the cap \(c.maxOrderValue) (controls.max_order_value)"
        }
        if c.priceBandPercent.units > 0, let ltp = lastPrice[Self.instrument(intent.symbol, intent.exchange)], ltp.units > 0 {
            for (label, price) in [("price", intent.limitPrice), ("trigger price", intent.triggerPrice)] {
                guard let price else { continue }
                // |price - ltp| / ltp * 100 > band  <=>  |price - ltp| * 100 * 10_000 > band_units * ltp
                let distance = Int128((price.units - ltp.units).magnitude)
                if distance * 1_000_000 > Int128(c.priceBandPercent.units) * Int128(ltp.units) {
                    return "\(label) \(price) is outside the \(c.priceBandPercent)% band around the last traded price \(ltp)"
                }
            }
        }
        let limits: [(String, String, Int64, Int, String)] = [
            ("u|" + intent.userID, "the user", 1_000_000_000, c.maxOrdersPerSecondPerUser, "second"),
            ("u|" + intent.userID, "the user", 60_000_000_000, c.maxOrdersPerMinutePerUser, "minute"),
            ("s|" + intent.strategyID, "the strategy", 1_000_000_000, c.maxOrdersPerSecondPerStrategy, "second"),
            ("s|" + intent.strategyID, "the strategy", 60_000_000_000, c.maxOrdersPerMinutePerStrategy, "minute"),
        ]
        for (key, who, window, limit, unit) in limits where limit > 0 {
            if orderRates.count(key, now: intent.time, windowNanoseconds: window) >= limit {
                return "order rate limit: \(limit) orders per \(unit) for \(who)"
            }
        }
        return nil
    }

    /// Counts an order message (new, modify, cancel) of a strategy; halts the strategy when its
    /// messages exceed the configured multiple of its intents (controls.breaker_*).
    private mutating func countOrderMessage(_ order: DeskOrder, time: Timestamp) -> [DeskRecord] {
        let strategy = order.intent.strategyID
        let sent = orderMessages[strategy, default: 0] + 1
        orderMessages[strategy] = sent
        let multiple = controls.breakerOrdersPerIntent
        guard multiple > 0, sent >= max(controls.breakerMinimumOrders, 1), !haltedStrategies.contains(strategy) else { return [] }
        let intents = intentCount[strategy, default: 0]
        guard sent > multiple * max(intents, 1) else { return [] }
        return haltStrategy(strategy, userID: order.intent.userID, breach: "order_ratio",
                            reason: "breaker: \(sent) order messages for \(intents) intents exceed \(multiple) per intent", time: time)
    }

    /// Halts a strategy (a breaker): its working orders are cancelled, its new orders refused
    /// unless they reduce a position.
    private mutating func haltStrategy(_ strategyID: String, userID: String, breach: String, reason: String, time: Timestamp) -> [DeskRecord] {
        haltedStrategies.insert(strategyID)
        if breach == "strategy_loss" { strategyLossHalts.insert(strategyID) }
        var records: [DeskRecord] = [.strategyHalt(strategyID: strategyID, userID: userID, reason: reason, breach: breach)]
        for (orderID, order) in working.sorted(by: { $0.key < $1.key }) where order.intent.strategyID == strategyID {
            records += cancel(orderID: orderID, reason: "strategy halted: \(reason)", time: time)
        }
        return records
    }

    /// The strategies halted now (from `halts`, read by the engine); replaces the set.
    public mutating func setHaltedStrategies(_ strategies: Set<String>, time: Timestamp) -> [DeskRecord] {
        let newly = strategies.subtracting(haltedStrategies)
        haltedStrategies = strategies
        strategyLossHalts.formIntersection(strategies)
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key }) where newly.contains(order.intent.strategyID) {
            records += cancel(orderID: orderID, reason: "strategy halted", time: time)
        }
        return records
    }

    /// Strategies stopped (deactivated, removed, or their user disabled) on a reload: their
    /// working orders are cancelled; their positions stay open and are returned, to be reported.
    public mutating func strategiesStopped(_ strategyIDs: Set<String>, time: Timestamp)
        -> (records: [DeskRecord], openPositions: [(strategyID: String, symbol: String, exchange: String, quantity: Int64)]) {
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key }) where strategyIDs.contains(order.intent.strategyID) {
            records += cancel(orderID: orderID, reason: "strategy stopped", time: time)
        }
        var open: [(String, String, String, Int64)] = []
        for (key, position) in positions.sorted(by: { $0.value.positionID < $1.value.positionID }) where position.net.quantity != 0 {
            if let origin = positionOrigin[key], strategyIDs.contains(origin.strategyID) {
                open.append((origin.strategyID, key.symbol, key.exchange, position.net.quantity))
            }
        }
        return (records, open)
    }

    /// Moves the desk's clock to `now` (the wall clock live, tick time in a replay) and does
    /// what the calendar says happened since: a new IST day lifts daily loss halts and resets
    /// the breaker counts; at each exchange's MIS square-off time its MIS positions are closed
    /// with MARKET orders and its MIS orders cancelled; at its session close its paper DAY
    /// orders expire (a broker expires live ones and reports them cancelled). Only times the
    /// clock crosses count: a desk started after 15:20 does not square off at once.
    public mutating func advance(to now: Timestamp) -> [DeskRecord] {
        guard let previous = clock else { clock = now; return [] }
        guard now > previous else { return [] }
        clock = now
        var records: [DeskRecord] = []
        let firstDay = SessionCalendar.istDay(previous), lastDay = SessionCalendar.istDay(now)
        if lastDay > firstDay {
            intentCount = [:]
            orderMessages = [:]
            var lifting = ["strategy_loss"]
            if liftDailyLossHaltsAtDayStart {
                haltedUsers.subtract(dailyLossHalts)
                dailyLossHalts = []
                lifting.insert("daily_loss", at: 0)
            }
            haltedStrategies.subtract(strategyLossHalts)
            strategyLossHalts = []
            records.append(.dayStart(day: lastDay, time: TradingCalendar.instant(day: lastDay, minutes: 0), lifting: lifting))
        }
        guard sessionActions else { return records }
        var events: [(Timestamp, Int, String)] = []  // time, 0 = square-off / 1 = close, exchange
        for day in max(firstDay, lastDay - 7)...lastDay {
            for exchange in calendar.squareOff.keys {
                if let t = calendar.squareOffTime(exchange, day: day), t > previous, t <= now { events.append((t, 0, exchange)) }
            }
            for exchange in calendar.sessions.keys {
                if let t = calendar.sessionClose(exchange, day: day), t > previous, t <= now { events.append((t, 1, exchange)) }
            }
        }
        for (time, kind, exchange) in events.sorted(by: { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }) {
            records += kind == 0 ? squareOff(exchange: exchange, time: time) : expireDayOrders(exchange: exchange, time: time)
        }
        return records
    }

    /// MIS square-off on one exchange: its working MIS orders cancelled, its MIS positions
    /// closed at the last traded price.
    mutating func squareOff(exchange: String, time: Timestamp) -> [DeskRecord] {
        let at = TradingCalendar.clock(calendar.squareOff[exchange] ?? 0)
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key })
        where order.intent.exchange == exchange && (order.product ?? .mis) == .mis && !isLive(order) {
            records += cancel(orderID: orderID, reason: "MIS square-off at \(at) IST", time: time)
        }
        for (key, open) in positions.sorted(by: { $0.value.positionID < $1.value.positionID })
        where key.exchange == exchange && open.net.quantity != 0 && positionProduct[key, default: defaultProduct] == .mis {
            guard let price = lastPrice[Self.instrument(key.symbol, key.exchange)], let origin = positionOrigin[key] else { continue }
            records += close(key, quantity: open.net.quantity, at: price, origin: origin, reason: "MIS auto square-off at \(at) IST", time: time)
        }
        return records
    }

    /// The end of an exchange's session: its working paper DAY orders expire.
    mutating func expireDayOrders(exchange: String, time: Timestamp) -> [DeskRecord] {
        let at = TradingCalendar.clock(calendar.sessions[exchange]?.close ?? 0)
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key })
        where order.intent.exchange == exchange && (order.validity ?? .day) == .day && !isLive(order) {
            records += cancel(orderID: orderID, reason: "expired: end of the \(exchange) session at \(at) IST", time: time)
        }
        return records
    }

    /// Places an order that passed risk (or needs none: a bracket child).
    private mutating func place(_ order: DeskOrder, time: Timestamp, why: String) -> [DeskRecord] {
        var order = order
        var records = countOrderMessage(order, time: time)
        if !records.isEmpty && haltedStrategies.contains(order.intent.strategyID) {
            // This very order tripped the breaker: it is refused with the halt.
            let reason = "the strategy is halted by the order-to-intent breaker"
            _ = try? order.state.apply(.rejected(reason: reason))
            order.reason = reason
            return records + [.order(order), .tradeLog(tradeID: order.tradeID, level: "WARNING", message: "rejected: \(reason)", data: nil),
                              .event(BusEvent(kind: .order, order: order, time: time))]
        }
        if isLive(order) {
            // PENDING until the gateway reports the broker took it; durable before it is sent.
            working[order.orderID] = order
            records.append(.order(order))
            records.append(.tradeLog(tradeID: order.tradeID, level: "INFO", message: "sent to gateway: \(why)", data: nil))
            records.append(.event(BusEvent(kind: .order, order: order, time: time)))
            records.append(.gatewayRequest(GatewayRequest(kind: .new, requestID: ids.next(now: time).description, order: order, time: time)))
            return records
        }
        _ = try? order.state.apply(.accepted)  // a new PENDING order: always legal
        records.append(.order(order))
        records.append(.tradeLog(tradeID: order.tradeID, level: "INFO", message: "accepted: \(why)", data: nil))
        records.append(.event(BusEvent(kind: .order, order: order, time: time)))
        let i = order.intent
        let key = Self.instrument(i.symbol, i.exchange)
        var venue = venues[key] ?? PaperSimulator(model: paperModel)
        var fills = venue.place(PaperOrder(orderID: order.orderID, side: i.side, type: i.type, quantity: order.state.quantity,
                                           limitPrice: order.state.price, triggerPrice: order.state.triggerPrice),
                                at: i.referencePrice, time: time)
        if order.validity == .ioc && i.type != .market {
            // Immediate: the order meets the last traded price now, or not at all.
            fills += venue.onTick(price: i.referencePrice, time: time)
        }
        venues[key] = venue
        working[order.orderID] = order
        for fill in fills {
            records += execute(orderID: fill.orderID, executionID: ids.next(now: fill.time).description, quantity: fill.quantity,
                               price: fill.price, time: fill.time).records
        }
        if order.validity == .ioc, working[order.orderID] != nil {
            // Immediate or cancel: what did not fill on placement is cancelled.
            records += cancel(orderID: order.orderID, reason: "IOC: the unfilled quantity is cancelled", time: time)
        }
        return records
    }

    /// Open positions whose last traded price moved since they were last marked.
    public mutating func marks() -> [DeskRecord] {
        var records: [DeskRecord] = []
        for (key, open) in positions {
            guard let price = lastPrice[Self.instrument(key.symbol, key.exchange)], marked[open.positionID] != price else { continue }
            marked[open.positionID] = price
            records.append(.mark(positionID: open.positionID, price: price))
        }
        return records
    }

    /// Applies the active halts. Newly halted users' working orders (all of them, for an engine
    /// halt) are cancelled; orders that only reduce a position are still accepted afterwards.
    public mutating func setHalts(users: Set<String>, engine: Bool, time: Timestamp) -> [DeskRecord] {
        let newlyHalted = users.subtracting(haltedUsers)
        let engineNow = engine && !engineHalted
        haltedUsers = users
        engineHalted = engine
        guard !newlyHalted.isEmpty || engineNow else { return [] }
        var records: [DeskRecord] = []
        for (orderID, order) in working.sorted(by: { $0.key < $1.key }) where engineNow || newlyHalted.contains(order.intent.userID) {
            records += cancel(orderID: orderID, reason: "trading halted", time: time)
        }
        return records
    }

    /// A trade on an instrument: fills working paper orders it reaches; marks positions.
    public mutating func onTick(_ tick: Tick) -> [DeskRecord] {
        let key = Self.instrument(tick.symbol, tick.exchange)
        // Every instrument's last price is kept for the checks and marks, up to a bound, so a
        // flood of made-up symbols cannot grow the desk; past it, only instruments the desk has
        // traded keep theirs up to date (docs/ingest.md, "Bounds").
        if lastPrice.count < Self.maxPricedInstruments || lastPrice[key] != nil || venues[key] != nil {
            lastPrice[key] = tick.price
        }
        guard var venue = venues[key], !venue.working.isEmpty else { return [] }
        let fills = venue.onTick(price: tick.price, time: tick.timestamp)
        venues[key] = venue
        return fills.flatMap {
            execute(orderID: $0.orderID, executionID: ids.next(now: $0.time).description, quantity: $0.quantity,
                    price: $0.price, time: $0.time).records
        }
    }

    /// An execution report from a broker gateway. A report seen before changes nothing; a fill
    /// or modify for an order still PENDING implies the broker accepted it first.
    /// `servedBrokers`: the brokers the reporting gateway is authenticated for and serves; a report
    /// on another broker's order is treated as one for an unknown order (and says nothing of it).
    public mutating func onGatewayReport(_ report: GatewayReport, servedBrokers: Set<String>? = nil) -> (outcome: ReportOutcome, records: [DeskRecord]) {
        guard var order = working[report.orderID], isLive(order) else { return (.unknownOrder, []) }
        if let servedBrokers, !(order.intent.brokerID.map(servedBrokers.contains) ?? false) { return (.unknownOrder, []) }
        var records: [DeskRecord] = []
        if order.state.status == .pending && (report.kind == .fill || report.kind == .modified) {
            records += transition(&order, .accepted, message: "accepted by the broker", time: report.time, data: brokerData(report))
        }
        switch report.kind {
        case .accepted:
            guard order.state.status == .pending else { return (.duplicate, []) }
            records += transition(&order, .accepted, message: "accepted by the broker", time: report.time, data: brokerData(report))
        case .rejected:
            let reason = report.reason ?? "rejected by the broker"
            guard order.state.status == .pending || order.state.status == .open else { return (.duplicate, records) }
            order.reason = reason
            records += transition(&order, .rejected(reason: reason), message: "rejected by the broker: \(reason)", time: report.time,
                                  data: brokerData(report))
        case .cancelled:
            let reason = report.reason ?? "cancelled at the broker"
            order.reason = reason
            records += transition(&order, .cancelled(reason: reason), message: "cancelled: \(reason)", time: report.time, data: brokerData(report))
            if let sibling = ocoSibling.removeValue(forKey: order.orderID) { ocoSibling[sibling] = nil }
        case .modified:
            records += transition(&order, .modified(quantity: report.quantity, price: report.price, triggerPrice: report.triggerPrice),
                                  message: "modified at the broker", time: report.time, data: brokerData(report))
        case .fill:
            guard let execID = report.execID, let quantity = report.quantity, let price = report.price else {
                return (.refused("a fill needs exec_id, fill_quantity and fill_price"), records)
            }
            working[order.orderID] = order
            let result = execute(orderID: order.orderID, executionID: execID, quantity: quantity, price: price, time: report.time)
            if case .duplicate = result.outcome, records.isEmpty { return (.duplicate, []) }
            return (result.outcome, records + result.records)
        }
        if records.isEmpty { return (.duplicate, []) }
        if order.state.status.isTerminal { working[order.orderID] = nil } else { working[order.orderID] = order }
        return (.applied, records)
    }

    private func brokerData(_ report: GatewayReport) -> String? {
        var w = JSONObjectWriter()
        w.add("report_id", report.reportID)
        w.add("broker_order_id", report.brokerOrderID)
        return w.text
    }

    /// Applies a non-fill event to an order and records it; nothing if it does not apply.
    private func transition(_ order: inout DeskOrder, _ event: OrderEvent, message: String, time: Timestamp,
                            data: String? = nil) -> [DeskRecord] {
        guard (try? order.state.apply(event)) != nil else { return [] }
        return [.order(order), .tradeLog(tradeID: order.tradeID, level: "INFO", message: message, data: data),
                .event(BusEvent(kind: .order, order: order, time: time))]
    }

    /// One execution of a working order: the order row, its trade log, the position, the fill
    /// event, and the FILLED order event when it completes; a bracket or one-cancels-other after.
    private mutating func execute(orderID: String, executionID: String, quantity: Int64, price: FixedDecimal,
                                  time: Timestamp) -> (outcome: ReportOutcome, records: [DeskRecord]) {
        guard var order = working[orderID] else { return (.unknownOrder, []) }
        if let refusal = StorageLimits.fillRefusal(quantity: quantity, price: price) {
            return (.refused(refusal), [.tradeLog(tradeID: order.tradeID, level: "ERROR", message: "fill refused: \(refusal)", data: nil)])
        }
        var records: [DeskRecord] = []
        let before = order.state.status
        do {
            if try order.state.apply(.filled(executionID: executionID, quantity: quantity, price: price)) == .duplicate {
                return (.duplicate, [])
            }
        } catch {
            return (.refused(error.description), [.tradeLog(tradeID: order.tradeID, level: "ERROR", message: "fill refused: \(error)", data: nil)])
        }
        order.executionTime = time
        let instrument = instruments.lookup(symbol: order.intent.symbol, exchange: order.intent.exchange)
        let charges = chargeSchedule?.charges(instrument: instrument, product: order.product ?? defaultProduct, side: order.intent.side,
                                              quantity: quantity, price: price, brokerageSoFar: order.brokerage ?? 0) ?? Charges()
        order.charges = Charges.saturatingAdd(order.charges ?? 0, charges.total)
        order.brokerage = Charges.saturatingAdd(order.brokerage ?? 0, charges.brokerage)
        records.append(.order(order))
        var data = JSONObjectWriter()
        data.add("exec_id", executionID)
        data.add("fill_quantity", quantity)
        data.add("fill_price", price)
        if chargeSchedule != nil {
            // Stored with the execution (trade_logs.data), each part in rupees.
            data.add("charges", FixedDecimal(units: charges.total))
            data.add("brokerage", FixedDecimal(units: charges.brokerage))
            data.add("stt_ctt", FixedDecimal(units: charges.transactionTax))
            data.add("exchange_charges", FixedDecimal(units: charges.exchangeCharges))
            data.add("sebi_fees", FixedDecimal(units: charges.sebiFees))
            data.add("stamp_duty", FixedDecimal(units: charges.stampDuty))
            data.add("gst", FixedDecimal(units: charges.gst))
        }
        records.append(.tradeLog(tradeID: order.tradeID, level: "INFO", message: "filled \(quantity) at \(price)", data: data.text))
        records += applyToPosition(order: order, quantity: quantity, price: price, charges: Int128(charges.total), time: time)
        records.append(.event(BusEvent(kind: .fill, order: order, fillQuantity: quantity, fillPrice: price, time: time)))
        if order.state.status != before {
            records.append(.event(BusEvent(kind: .order, order: order, time: time)))
        }
        if order.state.status.isTerminal { working[orderID] = nil } else { working[orderID] = order }
        // After the fill's own events, before its bracket: a halt cancels the strategy's other
        // working orders, while the bracket placed next only protects the position.
        records += strategyLossCheck(order.intent, time: time)
        if order.state.status == .filled {
            if order.parentOrderID == nil {
                records += placeBracket(for: order, time: time)
            } else if let sibling = ocoSibling.removeValue(forKey: order.orderID) {
                ocoSibling[sibling] = nil
                records += cancel(orderID: sibling, reason: "one-cancels-other: \(order.orderID) filled", time: time)
            }
        }
        records += fitBrackets(userID: order.intent.userID, symbol: order.intent.symbol, exchange: order.intent.exchange, time: time)
        return (.applied, records)
    }

    /// Bracket orders (stoploss, target) only ever close the position they protect: when it
    /// shrinks by other means (the strategy's own exit, an operator's order), a bracket order
    /// larger than what is left is cut to it, and cancelled once the position is flat. Before,
    /// a target left working after the strategy sold filled later and made it short.
    private mutating func fitBrackets(userID: String, symbol: String, exchange: String, time: Timestamp) -> [DeskRecord] {
        let held = position(userID: userID, symbol: symbol, exchange: exchange)
        cancelRequested = cancelRequested.filter { working[$0] != nil }
        var records: [DeskRecord] = []
        for (orderID, child) in working.sorted(by: { $0.key < $1.key })
        where child.parentOrderID != nil && child.intent.userID == userID && child.intent.symbol == symbol && child.intent.exchange == exchange
            && !cancelRequested.contains(orderID) {
            let closes = child.intent.side == .sell ? held > 0 : held < 0
            let room = closes ? Int64(held.magnitude) : 0
            guard child.state.remainingQuantity > room else { continue }
            if room == 0 {
                records += cancel(orderID: orderID, reason: "the position it protects is closed", time: time)
            } else {
                records += modify(orderID: orderID, quantity: child.state.filledQuantity + room, price: nil, triggerPrice: nil, time: time)
            }
        }
        return records
    }

    /// After an entry with `stoploss` and/or `target` fills: child orders on the other side for
    /// the filled quantity — an SL-M at the stoploss and a LIMIT at the target — linked by
    /// `parent_order_id`; when one fills, the other is cancelled (one-cancels-other). They only
    /// close the position, so they pass no risk check; they go where the parent went.
    private mutating func placeBracket(for parent: DeskOrder, time: Timestamp) -> [DeskRecord] {
        let p = parent.intent
        guard p.stoploss != nil || p.target != nil else { return [] }
        let side: OrderSide = p.side == .buy ? .sell : .buy
        var children: [(OrderType, FixedDecimal?, FixedDecimal?, String)] = []
        if let stop = p.stoploss { children.append((.stopLossMarket, nil, stop, "stoploss")) }
        if let target = p.target { children.append((.limit, target, nil, "target")) }
        var records: [DeskRecord] = []
        var childIDs: [String] = []
        for (type, limit, trigger, role) in children {
            let intent = OrderIntent(strategyID: p.strategyID, userID: p.userID, brokerID: p.brokerID, symbol: p.symbol, exchange: p.exchange,
                                     side: side, type: type, quantity: parent.state.filledQuantity, limitPrice: limit, triggerPrice: trigger,
                                     referencePrice: p.referencePrice, time: time, reason: "\(role) of \(parent.orderID)")
            let child = DeskOrder(tradeID: ids.next(now: time).description, orderID: ids.next(now: time).description,
                                  parentOrderID: parent.orderID, intent: intent,
                                  state: OrderState(quantity: intent.quantity, price: limit, triggerPrice: trigger),
                                  orderTime: time, executionTime: nil, reason: nil, product: parent.product, validity: .day,
                                  instrumentType: parent.instrumentType, algoID: parent.algoID)
            childIDs.append(child.orderID)
            records += place(child, time: time, why: intent.reason)
        }
        if childIDs.count == 2 {
            ocoSibling[childIDs[0]] = childIDs[1]
            ocoSibling[childIDs[1]] = childIDs[0]
        }
        return records
    }

    /// Cancels a working order: at once at the paper venue; for a live order, a cancel request
    /// to its gateway (the order is CANCELLED when the gateway reports it).
    public mutating func cancel(orderID: String, reason: String, time: Timestamp) -> [DeskRecord] {
        guard var order = working[orderID] else { return [] }
        if isLive(order) {
            cancelRequested.insert(orderID)
            return countOrderMessage(order, time: time) + [
                    .tradeLog(tradeID: order.tradeID, level: "INFO", message: "cancel requested: \(reason)", data: nil),
                    .gatewayRequest(GatewayRequest(kind: .cancel, requestID: ids.next(now: time).description, order: order,
                                                   reason: reason, time: time))]
        }
        _ = venues[Self.instrument(order.intent.symbol, order.intent.exchange)]?.cancel(orderID)
        order.reason = reason
        var records = transition(&order, .cancelled(reason: reason), message: "cancelled: \(reason)", time: time)
        guard !records.isEmpty else { return [] }
        working[orderID] = nil
        if !reason.hasPrefix("strategy halted") && !reason.hasPrefix("expired") { records = countOrderMessage(order, time: time) + records }
        if let sibling = ocoSibling.removeValue(forKey: orderID) { ocoSibling[sibling] = nil }
        return records
    }

    /// Modifies a working order's total quantity and/or prices: at once at the paper venue (an
    /// order event with the new values, reason "modified"); for a live order, a modify request
    /// (applied when the gateway reports `modified`). Nothing if the change is not allowed.
    public mutating func modify(orderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?,
                                time: Timestamp) -> [DeskRecord] {
        guard var order = working[orderID] else { return [] }
        var probe = order.state
        guard (try? probe.apply(.modified(quantity: quantity, price: price, triggerPrice: triggerPrice))) != nil else { return [] }
        if isLive(order) {
            return countOrderMessage(order, time: time) + [
                    .tradeLog(tradeID: order.tradeID, level: "INFO", message: "modify requested", data: nil),
                    .gatewayRequest(GatewayRequest(kind: .modify, requestID: ids.next(now: time).description, order: order,
                                                   quantity: quantity, price: price, triggerPrice: triggerPrice, time: time))]
        }
        let key = Self.instrument(order.intent.symbol, order.intent.exchange)
        guard venues[key]?.modify(orderID, quantity: quantity, limitPrice: price, triggerPrice: triggerPrice) == true else { return [] }
        let counted = countOrderMessage(order, time: time)
        if working[orderID] == nil { return counted }  // the breaker halted the strategy and cancelled it
        order.reason = "modified"
        let records = counted + transition(&order, .modified(quantity: quantity, price: price, triggerPrice: triggerPrice),
                                 message: "modified", time: time)
        working[orderID] = order
        return records
    }

    private mutating func applyToPosition(order: DeskOrder, quantity: Int64, price: FixedDecimal, charges: Int128,
                                          time: Timestamp) -> [DeskRecord] {
        let intent = order.intent
        let key = PositionKey(userID: intent.userID, symbol: intent.symbol, exchange: intent.exchange)
        let signed = intent.side == .buy ? quantity : -quantity
        var records: [DeskRecord] = []
        var open = positions[key] ?? OpenPosition(positionID: ids.next(now: time).description, openingTradeID: order.tradeID,
                                                  openedAt: time, net: NetPosition())
        let previousQuantity = open.net.quantity
        let entryAverage = open.net.averagePrice
        positionOrigin[key] = (intent.strategyID, intent.brokerID)
        let product = order.product ?? defaultProduct
        positionProduct[key] = product
        open.product = product
        open.instrumentType = order.instrumentType ?? "EQ"
        chargesByUser[intent.userID, default: 0] += charges
        let actions = open.net.apply(fill: signed, price: price)
        let closingPart = min(quantity, Int64(previousQuantity.magnitude))
        for (index, (action, pnl)) in actions.enumerated() {
            realizedByUser[intent.userID, default: 0] += pnl
            let reducing = action == .close || action == .decrease
            if action == .open {
                if previousQuantity != 0 {
                    // Through zero: the old row closed above; the other side is a new row.
                    open.positionID = ids.next(now: time).description
                }
                open.openingTradeID = order.tradeID
                open.openedAt = time
                open.realizedBase = open.net.realized
                open.charges = 0
            }
            // The execution's charges belong to the row it ends on (the new one, through zero).
            if index == actions.count - 1 { open.charges += charges }
            let closed = action == .close
            let gross = open.net.realized - open.realizedBase
            records.append(.position(PositionRecord(
                positionID: open.positionID, openingTradeID: open.openingTradeID, userID: intent.userID, symbol: intent.symbol,
                exchange: intent.exchange, quantity: closed ? 0 : open.net.quantity,
                averagePrice: closed ? (entryAverage ?? price) : (open.net.averagePrice ?? price), currentPrice: price,
                realizedPnL: gross - open.charges, status: closed ? .closed : open.net.status,
                openedAt: open.openedAt, closedAt: closed ? time : nil, grossRealizedPnL: gross, charges: open.charges,
                product: open.product, instrumentType: open.instrumentType)))
            records.append(.positionHistory(PositionHistoryRecord(positionID: open.positionID, price: price,
                                                                  quantity: reducing ? closingPart : quantity - (previousQuantity == 0 || (previousQuantity > 0) == (signed > 0) ? 0 : closingPart),
                                                                  pnl: pnl, action: action, time: time)))
        }
        let realizedNow = actions.reduce(Int128(0)) { $0 + $1.pnl }
        if let broker = intent.brokerID { funds.settle(broker: broker, realized: realizedNow, charges: charges) }
        let closing = actions.contains { $0.action == .close || $0.action == .decrease }
        let day = SessionCalendar.istDay(time)
        var stats = strategyDays[intent.strategyID].flatMap { $0.day == day ? $0 : nil } ?? StrategyDay(strategyID: intent.strategyID, day: day)
        stats.add(fill: realizedNow, closing: closing, charges: charges)
        strategyDays[intent.strategyID] = stats
        records.append(.performance(stats))
        if open.net.quantity == 0 {
            positions[key] = nil
            positionProduct[key] = nil
        } else {
            positions[key] = open
        }
        return records
    }

    /// The strategy's own loss limit (its `max_loss` parameter), net of charges, checked once a
    /// fill is wholly applied: run in the middle of it, the halt cancelled the very order being
    /// filled from its stale state, so the bus said CANCELLED, fill, FILLED and its row CANCELLED.
    private mutating func strategyLossCheck(_ intent: OrderIntent, time: Timestamp) -> [DeskRecord] {
        guard let limit = strategyPolicies[intent.strategyID]?.maxLoss, !haltedStrategies.contains(intent.strategyID),
              let stats = strategyDays[intent.strategyID], stats.day == SessionCalendar.istDay(time),
              -stats.totalPnL >= Int128(limit.units) else { return [] }
        return haltStrategy(intent.strategyID, userID: intent.userID, breach: "strategy_loss",
                            reason: "strategy loss \(RiskCheck.text(-stats.totalPnL)) reached its max_loss \(limit)", time: time)
    }
}
