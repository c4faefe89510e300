/// A message from a strategy process (docs/protocol.md, "Strategy processes"), read strictly:
/// unknown fields, wrong types and values out of range are refused with a reason, never guessed.
public enum StrategyRequest: Sendable, Equatable {
    case hello(strategy: String, token: String)
    case heartbeat
    case order(StrategyOrderRequest)
    case modify(clientOrderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?)
    case cancel(clientOrderID: String)
    case log(String)
    /// Lock-step replay: the process has handled the event it was given with this `step`.
    case done(step: Int64)

    public struct Problem: Error, Sendable, Equatable {
        public let message: String
        /// The request's client order id, when it had a readable one (echoed on the error).
        public let clientOrderID: String?
        public init(_ message: String, clientOrderID: String? = nil) {
            self.message = message
            self.clientOrderID = clientOrderID
        }
    }

    /// A log line's length, at most (characters).
    public static let maxLogCharacters = 2_000

    public static func parse(topic: String, body: JSONValue) -> Result<StrategyRequest, Problem> {
        guard case .object(let members) = body else { return .failure(Problem("the payload must be a JSON object")) }
        let fields = Dictionary(members, uniquingKeysWith: { first, _ in first })
        let clientOrderID = fields["client_order_id"]?.stringValue.flatMap { PrintableText.isIdentifier($0, maxCharacters: 64) ? $0 : nil }
        func allowed(_ names: Set<String>) -> Problem? {
            guard let unknown = fields.keys.sorted().first(where: { !names.contains($0) }) else { return nil }
            return Problem("unknown field '\(PrintableText.make(unknown, maxCharacters: 64))'", clientOrderID: clientOrderID)
        }
        switch topic {
        case "hello":
            if let p = allowed(["strategy", "token", "sdk"]) { return .failure(p) }
            guard let strategy = fields["strategy"]?.stringValue, PrintableText.isIdentifier(strategy, maxCharacters: 100),
                  let token = fields["token"]?.stringValue, PrintableText.isIdentifier(token, maxCharacters: 200) else {
                return .failure(Problem("hello needs 'strategy' (an id or a name) and 'token' (strings)"))
            }
            return .success(.hello(strategy: strategy, token: token))
        case "heartbeat":
            return .success(.heartbeat)
        case "done":
            if let p = allowed(["step"]) { return .failure(p) }
            guard let step = fields["step"]?.int64Value, step > 0 else { return .failure(Problem("done needs 'step' (the event's, a whole number)")) }
            return .success(.done(step: step))
        case "log":
            if let p = allowed(["message"]) { return .failure(p) }
            guard let text = fields["message"]?.stringValue else { return .failure(Problem("log needs 'message' (a string)")) }
            return .success(.log(PrintableText.make(text, maxCharacters: maxLogCharacters)))
        case "order.cancel":
            if let p = allowed(["client_order_id"]) { return .failure(p) }
            guard let clientOrderID else { return .failure(Problem("needs 'client_order_id' (a string of 1-64 characters)")) }
            return .success(.cancel(clientOrderID: clientOrderID))
        case "order.modify":
            if let p = allowed(["client_order_id", "quantity", "price", "trigger_price"]) { return .failure(p) }
            guard let clientOrderID else { return .failure(Problem("needs 'client_order_id' (a string of 1-64 characters)")) }
            do throws(Problem) {
                let quantity = try optionalQuantity(fields["quantity"])
                let price = try optionalPrice(fields["price"], "price")
                let trigger = try optionalPrice(fields["trigger_price"], "trigger_price")
                guard quantity != nil || price != nil || trigger != nil else {
                    return .failure(Problem("modify needs 'quantity', 'price' or 'trigger_price'", clientOrderID: clientOrderID))
                }
                return .success(.modify(clientOrderID: clientOrderID, quantity: quantity, price: price, triggerPrice: trigger))
            } catch {
                return .failure(Problem(error.message, clientOrderID: clientOrderID))
            }
        case "order.new":
            if let p = allowed(["client_order_id", "strategy_id", "user_id", "symbol", "exchange", "transaction_type", "quantity", "order_type",
                                "price", "trigger_price", "stoploss", "target", "product"]) { return .failure(p) }
            guard let clientOrderID else { return .failure(Problem("needs 'client_order_id' (a string of 1-64 characters)")) }
            do throws(Problem) {
                guard let symbol = fields["symbol"]?.stringValue, PrintableText.isIdentifier(symbol, maxCharacters: 50) else {
                    throw Problem("needs 'symbol' (1-50 characters)")
                }
                let exchange = fields["exchange"]?.stringValue ?? "NSE"
                guard PrintableText.isIdentifier(exchange, maxCharacters: 20) else { throw Problem("'exchange' must be 1-20 characters") }
                guard let sideText = fields["transaction_type"]?.stringValue, let side = OrderSide(rawValue: sideText) else {
                    throw Problem("'transaction_type' must be BUY or SELL")
                }
                let typeText = fields["order_type"]?.stringValue ?? "MARKET"
                guard let type = OrderType(rawValue: typeText) else { throw Problem("'order_type' must be MARKET, LIMIT, SL or SL-M") }
                guard let quantity = try optionalQuantity(fields["quantity"]) else { throw Problem("needs 'quantity'") }
                var product: Product?
                if let text = fields["product"]?.stringValue {
                    guard let value = Product(rawValue: text) else { throw Problem("'product' must be MIS, CNC or NRML") }
                    product = value
                } else if let value = fields["product"], !value.isNull {
                    throw Problem("'product' must be a string")
                }
                var strategyID: String?
                if let value = fields["strategy_id"], !value.isNull {
                    guard let text = value.stringValue else { throw Problem("'strategy_id' must be a string") }
                    strategyID = text
                }
                var userID: String?
                if let value = fields["user_id"], !value.isNull {
                    guard let text = value.stringValue else { throw Problem("'user_id' must be a string") }
                    userID = text
                }
                let order = StrategyOrderRequest(
                    clientOrderID: clientOrderID, strategyID: strategyID, userID: userID, symbol: symbol, exchange: exchange, side: side, type: type,
                    quantity: quantity, price: try optionalPrice(fields["price"], "price"),
                    triggerPrice: try optionalPrice(fields["trigger_price"], "trigger_price"),
                    stoploss: try optionalPrice(fields["stoploss"], "stoploss"), target: try optionalPrice(fields["target"], "target"),
                    product: product)
                if (type == .limit || type == .stopLoss) && order.price == nil { throw Problem("a \(type.rawValue) order needs 'price'") }
                if (type == .stopLoss || type == .stopLossMarket) && order.triggerPrice == nil { throw Problem("a \(type.rawValue) order needs 'trigger_price'") }
                return .success(.order(order))
            } catch {
                return .failure(Problem(error.message, clientOrderID: clientOrderID))
            }
        default:
            return .failure(Problem("unknown message type '\(PrintableText.make(topic, maxCharacters: 64))'"))
        }
    }

    private static func optionalQuantity(_ value: JSONValue?) throws(Problem) -> Int64? {
        guard let value, !value.isNull else { return nil }
        guard let n = value.int64Value, (1...TickLimits.maxQuantity).contains(n) else {
            throw Problem("'quantity' must be a whole number in 1...\(TickLimits.maxQuantity)")
        }
        return n
    }

    private static func optionalPrice(_ value: JSONValue?, _ name: String) throws(Problem) -> FixedDecimal? {
        guard let value, !value.isNull else { return nil }
        guard let price = value.fixedDecimalValue, price > FixedDecimal(0) else {
            throw Problem("'\(name)' must be a number above 0 with at most 4 decimals")
        }
        return price
    }
}

/// A new order from a strategy process, before the engine gives it the price of the last tick
/// it delivered and the strategy's identity.
public struct StrategyOrderRequest: Sendable, Equatable {
    public var clientOrderID: String
    /// Present only if the process named one; it must be its own.
    public var strategyID: String?
    /// Likewise: present only if the process named one; it must be its strategy's user.
    public var userID: String?
    public var symbol: String
    public var exchange: String
    public var side: OrderSide
    public var type: OrderType
    public var quantity: Int64
    public var price: FixedDecimal?
    public var triggerPrice: FixedDecimal?
    public var stoploss: FixedDecimal?
    public var target: FixedDecimal?
    public var product: Product?

    /// The intent the desk checks and executes: the strategy's identity, and as its reference
    /// the last tick of the instrument the engine delivered to the process (a paper MARKET
    /// order fills at that price).
    public func intent(identity: StrategyIdentity, lastTick: (price: FixedDecimal, time: Timestamp)) -> OrderIntent {
        var intent = OrderIntent(strategyID: identity.strategyID, userID: identity.userID, brokerID: identity.brokerID, symbol: symbol,
                                 exchange: exchange, side: side, type: type, quantity: quantity,
                                 limitPrice: type == .limit || type == .stopLoss ? price : nil,
                                 triggerPrice: triggerPrice, stoploss: stoploss, target: target, referencePrice: lastTick.price,
                                 time: lastTick.time, reason: "strategy process order", product: product)
        intent.clientOrderID = clientOrderID
        return intent
    }
}
