/// A request from the engine to a broker gateway (CONTRACT.md section 3, schemas in
/// docs/protocol.md): place, modify or cancel the order `order_id`. A request is resent with the
/// same `request_id` and `order_id` until the gateway acknowledges it, so a gateway treats a
/// repeated `order_id` (for `order.new`) or `request_id` as the same request.
public struct GatewayRequest: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Equatable, Codable {
        case new = "order.new", modify = "order.modify", cancel = "order.cancel"
    }

    public var kind: Kind
    public var requestID: String
    /// The order as it stands when the request is made.
    public var order: DeskOrder
    /// For a modify: the new total quantity and prices (`nil`: unchanged).
    public var quantity: Int64?
    public var price: FixedDecimal?
    public var triggerPrice: FixedDecimal?
    /// For a cancel: why.
    public var reason: String?
    public var time: Timestamp

    public init(kind: Kind, requestID: String, order: DeskOrder, quantity: Int64? = nil, price: FixedDecimal? = nil,
                triggerPrice: FixedDecimal? = nil, reason: String? = nil, time: Timestamp) {
        self.kind = kind
        self.requestID = requestID
        self.order = order
        self.quantity = quantity
        self.price = price
        self.triggerPrice = triggerPrice
        self.reason = reason
        self.time = time
    }

    public var brokerID: String { order.intent.brokerID ?? "" }

    /// The JSON payload (frame 1; frame 0 is `kind.rawValue`).
    public func json() -> String {
        var w = JSONObjectWriter()
        w.add("request_id", requestID)
        w.add("order_id", order.orderID)
        w.add("broker_id", order.intent.brokerID)
        switch kind {
        case .new:
            let i = order.intent
            w.add("trade_id", order.tradeID)
            w.add("parent_order_id", order.parentOrderID)
            w.add("user_id", i.userID)
            w.add("strategy_id", i.strategyID)
            w.add("symbol", i.symbol)
            w.add("exchange", i.exchange)
            w.add("transaction_type", i.side.rawValue)
            w.add("order_type", i.type.rawValue)
            w.add("quantity", order.state.quantity)
            w.add("price", order.state.price)
            w.add("trigger_price", order.state.triggerPrice)
            // The price of the tick that triggered it: a gateway may need it for a MARKET
            // order's market protection (and the test gateway fills at it).
            w.add("reference_price", i.referencePrice)
            w.add("product", (order.product ?? .mis).rawValue)
            w.add("validity", (order.validity ?? .day).rawValue)
            w.add("algo_id", order.algoID)
        case .modify:
            w.add("quantity", quantity ?? order.state.quantity)
            w.add("price", price ?? order.state.price)
            w.add("trigger_price", triggerPrice ?? order.state.triggerPrice)
        case .cancel:
            w.add("reason", reason)
        }
        w.add("ts", time: time)
        return w.text
    }
}

/// An execution report from a gateway (CONTRACT.md section 3).
public struct GatewayReport: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The broker took the order (PENDING -> OPEN).
        case accepted
        /// The broker refused it, with `reason`.
        case rejected
        /// An execution of `quantity` at `price`, unique by `exec_id`.
        case fill
        /// The order is cancelled at the broker (on request or by the broker), with `reason`.
        case cancelled
        /// A modify took effect: the order's quantity and prices are now these.
        case modified
    }

    public var kind: Kind
    /// The gateway's id for this report; the engine acknowledges it once the report is durable.
    public var reportID: String
    public var orderID: String
    public var execID: String?
    public var quantity: Int64?
    public var price: FixedDecimal?
    public var triggerPrice: FixedDecimal?
    public var reason: String?
    public var brokerOrderID: String?
    public var time: Timestamp

    public init(kind: Kind, reportID: String, orderID: String, execID: String? = nil, quantity: Int64? = nil,
                price: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil, reason: String? = nil,
                brokerOrderID: String? = nil, time: Timestamp) {
        self.kind = kind
        self.reportID = reportID
        self.orderID = orderID
        self.execID = execID
        self.quantity = quantity
        self.price = price
        self.triggerPrice = triggerPrice
        self.reason = reason
        self.brokerOrderID = brokerOrderID
        self.time = time
    }
}
