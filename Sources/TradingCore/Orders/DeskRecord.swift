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
    /// A live order's id at its broker, once a report named it (matches the broker's orders to
    /// the engine's at a reconciliation).
    public var brokerOrderID: String?

    public init(tradeID: String, orderID: String, parentOrderID: String? = nil, intent: OrderIntent, state: OrderState, orderTime: Timestamp,
                executionTime: Timestamp? = nil, reason: String? = nil, product: Product? = nil, validity: Validity? = nil, instrumentType: String? = nil,
                algoID: String? = nil, charges: Int64? = nil, brokerage: Int64? = nil) {
        self.tradeID = tradeID
        self.orderID = orderID
        self.parentOrderID = parentOrderID
        self.intent = intent
        self.state = state
        self.orderTime = orderTime
        self.executionTime = executionTime
        self.reason = reason
        self.product = product
        self.validity = validity
        self.instrumentType = instrumentType
        self.algoID = algoID
        self.charges = charges
        self.brokerage = brokerage
    }
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
    /// A live broker was reconciled with its gateway (`peer`): stored as a `system_logs` row (and,
    /// with differences, a halt of each strategy trading through the broker), then answered
    /// with `reconcile.done`, after which the broker's requests flow.
    case reconciliation(Reconciliation, peer: [UInt8])
}
