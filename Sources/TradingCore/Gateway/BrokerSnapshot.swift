/// What a gateway says its broker holds for one account (docs/protocol.md, "Reconciliation"):
/// today's orders and executions and the net positions, assembled from its `reconcile` parts.
public struct BrokerSnapshot: Sendable, Equatable, Codable {
    public struct Order: Sendable, Equatable, Codable {
        public var brokerOrderID: String
        /// The engine's `order_id` when the gateway can tell (nil: placed outside the engine).
        public var orderID: String?
        public var status: OrderStatus
        public var symbol: String
        public var exchange: String
        public var side: OrderSide
        public var quantity: Int64
        public var filledQuantity: Int64
        public var price: FixedDecimal?
        public var triggerPrice: FixedDecimal?
        public var reason: String?

        public init(brokerOrderID: String, orderID: String?, status: OrderStatus, symbol: String, exchange: String, side: OrderSide,
                    quantity: Int64, filledQuantity: Int64, price: FixedDecimal? = nil, triggerPrice: FixedDecimal? = nil, reason: String? = nil) {
            self.brokerOrderID = brokerOrderID
            self.orderID = orderID
            self.status = status
            self.symbol = symbol
            self.exchange = exchange
            self.side = side
            self.quantity = quantity
            self.filledQuantity = filledQuantity
            self.price = price
            self.triggerPrice = triggerPrice
            self.reason = reason
        }
    }

    public struct Execution: Sendable, Equatable, Codable {
        /// The id the gateway's `fill` report for it carries (or would carry).
        public var execID: String
        public var brokerOrderID: String
        public var orderID: String?
        public var symbol: String
        public var exchange: String
        public var side: OrderSide
        public var quantity: Int64
        public var price: FixedDecimal
        public var time: Timestamp?

        public init(execID: String, brokerOrderID: String, orderID: String?, symbol: String, exchange: String, side: OrderSide,
                    quantity: Int64, price: FixedDecimal, time: Timestamp? = nil) {
            self.execID = execID
            self.brokerOrderID = brokerOrderID
            self.orderID = orderID
            self.symbol = symbol
            self.exchange = exchange
            self.side = side
            self.quantity = quantity
            self.price = price
            self.time = time
        }

        /// Its effect on the position: bought is positive.
        public var signedQuantity: Int64 { side == .buy ? quantity : -quantity }
    }

    public struct Position: Sendable, Equatable, Codable {
        public var symbol: String
        public var exchange: String
        public var product: String
        /// Net, signed: negative is short.
        public var quantity: Int64

        public init(symbol: String, exchange: String, product: String, quantity: Int64) {
            self.symbol = symbol
            self.exchange = exchange
            self.product = product
            self.quantity = quantity
        }
    }

    public var brokerID: String
    public var orders: [Order] = []
    public var executions: [Execution] = []
    public var positions: [Position] = []

    public init(brokerID: String, orders: [Order] = [], executions: [Execution] = [], positions: [Position] = []) {
        self.brokerID = brokerID
        self.orders = orders
        self.executions = executions
        self.positions = positions
    }

    /// Most of each list one snapshot may hold, over all its parts.
    public static let maxOrders = 10_000
    public static let maxExecutions = 10_000
    public static let maxPositions = 1_000
    /// Most parts one snapshot may come in.
    public static let maxParts = 1_000
}

/// What a reconciliation did and found (stored in `system_logs`, sent in `reconcile.done`).
public struct Reconciliation: Sendable, Equatable, Codable {
    public var brokerID: String
    public var requestID: String
    /// Missed executions applied.
    public var applied = 0
    /// Working orders given the broker's quantity or prices.
    public var modified = 0
    /// Working orders the broker showed cancelled or rejected, ended so.
    public var ended = 0
    /// PENDING orders the broker did not have, sent again.
    public var resent = 0
    /// Broker orders not the engine's (their `broker_order_id`): reported, left alone.
    public var unknownOrders: [String] = []
    /// Positions in instruments the engine never traded through this broker: left alone.
    public var foreignPositions: [String] = []
    /// What nothing explains; any halts the broker's strategies.
    public var differences: [String] = []

    public init(brokerID: String, requestID: String) {
        self.brokerID = brokerID
        self.requestID = requestID
    }

    public var isClean: Bool { differences.isEmpty }

    /// The `system_logs` level: ERROR with differences, WARNING with anything left alone, else INFO.
    public var level: String { !differences.isEmpty ? "ERROR" : (unknownOrders.isEmpty && foreignPositions.isEmpty ? "INFO" : "WARNING") }

    public var summary: String {
        if !differences.isEmpty {
            return "reconciliation of live broker \(brokerID): \(differences.count) difference(s), its strategies halted: "
                + differences.prefix(3).joined(separator: "; ") + (differences.count > 3 ? "; ..." : "")
        }
        return "reconciliation of live broker \(brokerID): clean (\(applied) missed execution(s) applied, \(unknownOrders.count) unknown order(s), "
            + "\(foreignPositions.count) position(s) not the engine's)"
    }

    /// The `system_logs.data` object, and the body of `reconcile.done` (with `request_id`).
    public func json(includingRequest: Bool = false) -> String {
        var w = JSONObjectWriter()
        if includingRequest { w.add("request_id", requestID) }
        w.add("broker_id", brokerID)
        w.add("status", isClean ? "clean" : "halted")
        w.add("applied", applied)
        w.add("modified", modified)
        w.add("ended", ended)
        w.add("resent", resent)
        w.add("unknown_orders", strings: Array(unknownOrders.prefix(1_000)))
        w.add("foreign_positions", strings: Array(foreignPositions.prefix(1_000)))
        w.add("differences", strings: Array(differences.prefix(1_000)))
        return w.text
    }
}
