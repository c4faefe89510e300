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
        w.string("request_id", requestID)
        w.string("order_id", order.orderID)
        w.string("broker_id", order.intent.brokerID)
        switch kind {
        case .new:
            let i = order.intent
            w.string("trade_id", order.tradeID)
            w.string("parent_order_id", order.parentOrderID)
            w.string("user_id", i.userID)
            w.string("strategy_id", i.strategyID)
            w.string("symbol", i.symbol)
            w.string("exchange", i.exchange)
            w.string("transaction_type", i.side.rawValue)
            w.string("order_type", i.type.rawValue)
            w.integer("quantity", order.state.quantity)
            w.number("price", order.state.price)
            w.number("trigger_price", order.state.triggerPrice)
            // The price of the tick that triggered it: a gateway may need it for a MARKET
            // order's market protection (and the test gateway fills at it).
            w.number("reference_price", i.referencePrice)
            w.string("product", (order.product ?? .mis).rawValue)
            w.string("validity", (order.validity ?? .day).rawValue)
            w.string("algo_id", order.algoID)
        case .modify:
            w.integer("quantity", quantity ?? order.state.quantity)
            w.number("price", price ?? order.state.price)
            w.number("trigger_price", triggerPrice ?? order.state.triggerPrice)
        case .cancel:
            w.string("reason", reason)
        }
        w.time("ts", time)
        return w.finish()
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

/// Writes one flat JSON object field by field (the bus and gateway payloads).
struct JSONObjectWriter {
    private var out: [UInt8] = [UInt8(ascii: "{")]

    private mutating func key(_ name: String) {
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        TickJSONEncoder.appendString(name, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { TickJSONEncoder.appendString(value, to: &out) } else { out += Array("null".utf8) }
    }

    mutating func number(_ name: String, _ value: FixedDecimal?) {
        key(name)
        if let value { value.append(to: &out) } else { out += Array("null".utf8) }
    }

    mutating func integer(_ name: String, _ value: Int64) {
        key(name)
        appendDecimal(value, to: &out)
    }

    mutating func time(_ name: String, _ value: Timestamp) {
        key(name)
        out.append(UInt8(ascii: "\""))
        value.appendRFC3339(to: &out)
        out.append(UInt8(ascii: "\""))
    }

    consuming func finish() -> String {
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
