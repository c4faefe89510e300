/// What a strategy process may ask for, checked the same way live (the strategy socket) and in
/// a lock-step replay: only for its own strategy and that strategy's user, only for the
/// instruments the strategy declared, each client order id once, and only once a tick of the
/// instrument was delivered to it (a paper MARKET order fills at that tick).
public enum StrategyScope {
    /// Why a new order is refused before it reaches the desk, or nil when it may go on.
    public static func refusal(of order: StrategyOrderRequest, by identity: StrategyIdentity, declared config: ExternalStrategyConfig,
                               clientOrderIDUsed: Bool, tickDelivered: Bool) -> String? {
        if let named = order.strategyID, named.lowercased() != identity.strategyID.lowercased() {
            return "a process acts only for its own strategy (\(identity.strategyID))"
        }
        if let named = order.userID, named.lowercased() != identity.userID.lowercased() {
            return "a process acts only for its own strategy's user (\(identity.userID))"
        }
        guard config.instruments.contains(ExternalStrategyConfig.Instrument(symbol: order.symbol, exchange: order.exchange)) else {
            return "\(order.exchange):\(order.symbol) is not among the strategy's instruments"
        }
        if clientOrderIDUsed { return "client_order_id \(order.clientOrderID) was used already" }
        if !tickDelivered {
            return "no tick of \(order.exchange):\(order.symbol) was delivered yet: an order needs a price to be checked against"
        }
        return nil
    }
}
