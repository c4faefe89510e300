/// The reconciliation messages a gateway sends (`reconcile` parts, `session`), read as strictly
/// as its reports (docs/protocol.md, "Reconciliation"), and the assembly of a snapshot's parts.
extension GatewayMessages {
    /// One `reconcile` message: a part of a snapshot, or the gateway's word that its broker
    /// cannot be read now.
    public struct ReconcilePart: Sendable, Equatable {
        public var requestID: String
        public var brokerID: String
        public var part: Int
        public var parts: Int
        public var snapshot: BrokerSnapshot
        /// Set when the broker could not be read (the engine asks again later).
        public var error: String?
    }

    public static func reconcilePart(_ body: JSONValue) -> Result<ReconcilePart, Problem> {
        do throws(Problem) {
            guard let requestID = try identifier(body, "request_id").get() else { throw Problem("reconcile needs request_id") }
            guard let broker = body["broker_id"]?.stringValue, PrintableText.isIdentifier(broker, maxCharacters: 64) else {
                throw Problem("reconcile needs broker_id (a string of 1 to 64 characters)")
            }
            var part = ReconcilePart(requestID: requestID, brokerID: broker.lowercased(), part: 1, parts: 1,
                                     snapshot: BrokerSnapshot(brokerID: broker.lowercased()))
            if let error = body["error"], !error.isNull {
                guard let text = error.stringValue else { throw Problem("error must be a string") }
                part.error = PrintableText.make(text, maxCharacters: maxReason)
                return .success(part)
            }
            part.part = try count(body, "part", max: BrokerSnapshot.maxParts)
            part.parts = try count(body, "parts", max: BrokerSnapshot.maxParts)
            guard part.part <= part.parts else { throw Problem("part must not exceed parts") }
            for item in try list(body, "orders") { part.snapshot.orders.append(try snapshotOrder(item)) }
            for item in try list(body, "executions") { part.snapshot.executions.append(try snapshotExecution(item)) }
            for item in try list(body, "positions") { part.snapshot.positions.append(try snapshotPosition(item)) }
            return .success(part)
        } catch {
            return .failure(error)
        }
    }

    /// A `session` message: whether a broker's session token works.
    public static func session(_ body: JSONValue) -> Result<(brokerID: String, active: Bool, reason: String?), Problem> {
        guard let broker = body["broker_id"]?.stringValue, PrintableText.isIdentifier(broker, maxCharacters: 64) else {
            return .failure(Problem("session needs broker_id (a string of 1 to 64 characters)"))
        }
        guard let status = body["status"]?.stringValue, status == "active" || status == "expired" else {
            return .failure(Problem("session needs status: active or expired"))
        }
        var reason: String?
        if let r = body["reason"], !r.isNull {
            guard let text = r.stringValue else { return .failure(Problem("reason must be a string")) }
            reason = PrintableText.make(text, maxCharacters: maxReason)
        }
        return .success((broker.lowercased(), status == "active", reason))
    }

    private static func count(_ body: JSONValue, _ key: String, max: Int) throws(Problem) -> Int {
        guard let n = body[key]?.int64Value, n >= 1, n <= Int64(max) else { throw Problem("\(key) must be an integer from 1 to \(max)") }
        return Int(n)
    }

    private static func list(_ body: JSONValue, _ key: String) throws(Problem) -> [JSONValue] {
        guard let value = body[key], !value.isNull else { return [] }
        guard case .array(let items) = value else { throw Problem("\(key) must be a list") }
        return items
    }

    private static func text(_ item: JSONValue, _ key: String, max: Int, in list: String) throws(Problem) -> String {
        guard let value = item[key]?.stringValue, PrintableText.isIdentifier(value, maxCharacters: max) else {
            throw Problem("\(list): \(key) must be a string of 1 to \(max) characters without control characters")
        }
        return value
    }

    private static func quantity(_ item: JSONValue, _ key: String, in list: String, signed: Bool = false, positive: Bool = false) throws(Problem) -> Int64 {
        guard let n = item[key]?.int64Value, n <= TickLimits.maxQuantity, n >= (signed ? -TickLimits.maxQuantity : (positive ? 1 : 0)) else {
            throw Problem("\(list): \(key) must be an integer from \(signed ? "-10^9" : (positive ? "1" : "0")) to 10^9")
        }
        return n
    }

    private static func price(_ item: JSONValue, _ key: String, in list: String, required: Bool) throws(Problem) -> FixedDecimal? {
        guard let value = item[key], !value.isNull else {
            if required { throw Problem("\(list): \(key) is required") }
            return nil
        }
        guard let p = value.fixedDecimalValue, p.units >= 0, !required || p.units > 0 else {
            throw Problem("\(list): \(key) must be a number \(required ? ">" : ">=") 0 with at most 4 decimals, below 10^14")
        }
        return p
    }

    private static func side(_ item: JSONValue, in list: String) throws(Problem) -> OrderSide {
        guard let side = item["transaction_type"]?.stringValue.flatMap(OrderSide.init(rawValue:)) else {
            throw Problem("\(list): transaction_type must be BUY or SELL")
        }
        return side
    }

    private static func snapshotOrder(_ item: JSONValue) throws(Problem) -> BrokerSnapshot.Order {
        guard case .object = item else { throw Problem("orders: each must be an object") }
        guard let status = item["status"]?.stringValue.flatMap(OrderStatus.init(rawValue:)) else {
            throw Problem("orders: status must be one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var reason: String?
        if let r = item["reason"]?.stringValue { reason = PrintableText.make(r, maxCharacters: maxReason) }
        return BrokerSnapshot.Order(
            brokerOrderID: try text(item, "broker_order_id", max: maxIdentifier, in: "orders"),
            orderID: try identifier(item, "order_id").get(), status: status,
            symbol: try text(item, "symbol", max: 50, in: "orders"), exchange: try text(item, "exchange", max: 20, in: "orders").uppercased(),
            side: try side(item, in: "orders"), quantity: try quantity(item, "quantity", in: "orders", positive: true),
            filledQuantity: try quantity(item, "filled_quantity", in: "orders"),
            price: try price(item, "price", in: "orders", required: false), triggerPrice: try price(item, "trigger_price", in: "orders", required: false),
            reason: reason)
    }

    private static func snapshotExecution(_ item: JSONValue) throws(Problem) -> BrokerSnapshot.Execution {
        guard case .object = item else { throw Problem("executions: each must be an object") }
        var time: Timestamp?
        if let ts = item["ts"], !ts.isNull {
            guard let text = ts.stringValue, let parsed = Timestamp.parseRFC3339(text) else { throw Problem("executions: ts must be an RFC 3339 time") }
            time = parsed
        }
        return BrokerSnapshot.Execution(
            execID: try text(item, "exec_id", max: maxIdentifier, in: "executions"),
            brokerOrderID: try text(item, "broker_order_id", max: maxIdentifier, in: "executions"),
            orderID: try identifier(item, "order_id").get(),
            symbol: try text(item, "symbol", max: 50, in: "executions"), exchange: try text(item, "exchange", max: 20, in: "executions").uppercased(),
            side: try side(item, in: "executions"), quantity: try quantity(item, "fill_quantity", in: "executions", positive: true),
            price: try price(item, "fill_price", in: "executions", required: true)!, time: time)
    }

    private static func snapshotPosition(_ item: JSONValue) throws(Problem) -> BrokerSnapshot.Position {
        guard case .object = item else { throw Problem("positions: each must be an object") }
        return BrokerSnapshot.Position(symbol: try text(item, "symbol", max: 50, in: "positions"),
                                       exchange: try text(item, "exchange", max: 20, in: "positions").uppercased(),
                                       product: (try? text(item, "product", max: 20, in: "positions")) ?? "",
                                       quantity: try quantity(item, "quantity", in: "positions", signed: true))
    }
}

/// Gathers one snapshot's `reconcile` parts until all have come (any order; a part repeated is
/// the same part), within the snapshot's bounds.
public struct ReconcileAssembly: Sendable {
    public let requestID: String
    public let brokerID: String
    private var parts: [Int: BrokerSnapshot] = [:]
    private var expected: Int?

    public init(requestID: String, brokerID: String) {
        self.requestID = requestID
        self.brokerID = brokerID
    }

    /// Adds a part; the whole snapshot once every part is in, a problem if the parts disagree
    /// or exceed the bounds.
    public mutating func add(_ part: GatewayMessages.ReconcilePart) -> Result<BrokerSnapshot?, GatewayMessages.Problem> {
        if let expected, expected != part.parts { return .failure(.init("parts changed from \(expected) to \(part.parts) within one snapshot")) }
        expected = part.parts
        parts[part.part] = part.snapshot
        var whole = BrokerSnapshot(brokerID: brokerID)
        for (_, piece) in parts {
            whole.orders += piece.orders
            whole.executions += piece.executions
            whole.positions += piece.positions
        }
        if whole.orders.count > BrokerSnapshot.maxOrders || whole.executions.count > BrokerSnapshot.maxExecutions
            || whole.positions.count > BrokerSnapshot.maxPositions {
            return .failure(.init("a snapshot holds at most \(BrokerSnapshot.maxOrders) orders, \(BrokerSnapshot.maxExecutions) executions and \(BrokerSnapshot.maxPositions) positions"))
        }
        guard parts.count == part.parts else { return .success(nil) }
        // In part order, so executions keep the order the gateway listed them in.
        whole = BrokerSnapshot(brokerID: brokerID)
        for index in parts.keys.sorted() {
            whole.orders += parts[index]!.orders
            whole.executions += parts[index]!.executions
            whole.positions += parts[index]!.positions
        }
        return .success(whole)
    }
}
