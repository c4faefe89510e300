/// The desk's pre-trade checks beyond the risk settings (the MIS cut-off, funds, the instrument
/// rules and order controls) and the breakers that halt a strategy.
extension TradingDesk {
    /// After an exchange's MIS square-off on a trading day, an MIS order that would add to a
    /// position is refused until the next session opens (brokers refuse them too); one that only
    /// reduces a position is still taken. Off with the session actions. Refused when the
    /// intent's own time is past that day's square-off, or when the desk has squared off and the
    /// next session has not opened by the intent's time: an intent from a tick stamped 15:19:59
    /// that reaches the desk after the clock squared off at 15:20 would otherwise open a
    /// position nothing closes that day. (A desk started after 15:20 has squared off nothing.)
    func misCutOffRefusal(_ order: DeskOrder, position: Int64) -> String? {
        let intent = order.intent
        guard sessionActions, (order.product ?? .mis) == .mis, !Self.reducesOnly(intent, position: position) else { return nil }
        let at = TradingCalendar.clock(calendar.squareOff[intent.exchange] ?? 0)
        let refusal = "MIS square-off at \(at) IST has passed: new MIS orders that add to a position are refused until the next session"
        if let cutOff = calendar.squareOffTime(intent.exchange, day: SessionCalendar.istDay(intent.time)), intent.time >= cutOff { return refusal }
        if let done = squaredOffAt[intent.exchange], intent.time < nextSessionOpen(intent.exchange, after: done) { return refusal }
        return nil
    }

    /// The first session open of `exchange` after `time` (a week on at most, past holidays).
    func nextSessionOpen(_ exchange: String, after time: Timestamp) -> Timestamp {
        guard let session = calendar.sessions[exchange] else { return time }
        let first = SessionCalendar.istDay(time)
        for day in first...(first + 14) where calendar.isTradingDay(exchange, day: day) {
            let open = TradingCalendar.instant(day: day, minutes: session.open)
            if open > time { return open }
        }
        return time
    }

    /// The margin an order needs for the exposure it adds (nothing for what only reduces a
    /// position), against the account's cash less the margin its open positions and working
    /// orders block; the reason it is refused, or nil.
    func fundsRefusal(_ order: DeskOrder, position: Int64, price: FixedDecimal, excluding: String? = nil) -> String? {
        let intent = order.intent
        guard let broker = intent.brokerID, let cash = funds.cash(broker: broker, live: isLive(order)) else { return nil }
        let signed = intent.side == .buy ? intent.quantity : -intent.quantity
        let added = Int64((position + signed).magnitude) - Int64(position.magnitude)
        guard added > 0 else { return nil }
        let product = order.product ?? defaultProduct
        let needed = funds.schedule.margin(value: Int128(added) * Int128(price.units), product: product)
        let available = cash - blockedMargin(broker: broker, excluding: excluding)
        guard needed > available else { return nil }
        return "insufficient funds: the order needs \(RiskCheck.text(needed)) of margin, \(RiskCheck.text(max(available, 0))) is available in broker account \(broker)"
    }

    /// Margin the account's open positions (at their average price) and working orders (their
    /// remaining quantity at their limit or reference price; bracket children only close) block.
    func blockedMargin(broker: String, excluding: String? = nil) -> Int128 {
        var blocked = positions.blockedMargin(broker: broker, schedule: funds.schedule)
        for order in orders.working.values where order.intent.brokerID == broker && order.parentOrderID == nil && !order.intent.placedByEngine
            && order.orderID != excluding {
            // An order against the position (an exit waiting at its limit) adds no exposure.
            let held = position(userID: order.intent.userID, symbol: order.intent.symbol, exchange: order.intent.exchange)
            if held != 0 && (held > 0) != (order.intent.side == .buy) { continue }
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
        if c.priceBandPercent.units > 0, let ltp = positions.lastPrice(symbol: intent.symbol, exchange: intent.exchange), ltp.units > 0 {
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
    mutating func countOrderMessage(_ order: DeskOrder, time: Timestamp) -> [DeskRecord] {
        let strategy = order.intent.strategyID
        let sent = orderMessages[strategy, default: 0] + 1
        orderMessages[strategy] = sent
        let multiple = controls.breakerOrdersPerIntent
        guard multiple > 0, sent >= max(controls.breakerMinimumOrders, 1), !halts.strategies.contains(strategy) else { return [] }
        let intents = intentCount[strategy, default: 0]
        guard sent > multiple * max(intents, 1) else { return [] }
        return haltStrategy(strategy, userID: order.intent.userID, breach: "order_ratio",
                            reason: "breaker: \(sent) order messages for \(intents) intents exceed \(multiple) per intent", time: time)
    }

    /// Halts a strategy (a breaker): its working orders are cancelled, its new orders refused
    /// unless they reduce a position. Bracket orders stay: they only protect what it holds, and
    /// cancelling a stoploss at a loss halt would leave the position unprotected.
    mutating func haltStrategy(_ strategyID: String, userID: String, breach: String, reason: String, time: Timestamp) -> [DeskRecord] {
        halts.haltStrategy(strategyID, breach: breach)
        var records: [DeskRecord] = [.strategyHalt(strategyID: strategyID, userID: userID, reason: reason, breach: breach)]
        for order in orders.sorted(where: { $0.intent.strategyID == strategyID && $0.parentOrderID == nil }) {
            records += cancel(orderID: order.orderID, reason: "strategy halted: \(reason)", time: time)
        }
        return records
    }

    /// The strategies halted now (from `halts`, read by the engine); replaces the set. A newly
    /// halted strategy's working orders are cancelled but its brackets, as a breaker's are: they
    /// only protect what it holds. Before, an operator's halt, and every halt read again at a
    /// restart (a `max_loss` one included), cancelled the stoploss of an open position.
    public mutating func setHaltedStrategies(_ strategies: Set<String>, time: Timestamp) -> [DeskRecord] {
        let newly = halts.set(strategies: strategies)
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { newly.contains($0.intent.strategyID) && $0.parentOrderID == nil }) {
            records += cancel(orderID: order.orderID, reason: "strategy halted", time: time)
        }
        return records
    }

    /// Strategies stopped (deactivated, removed, or their user disabled) on a reload: their
    /// working orders are cancelled; their positions stay open and are returned, to be reported.
    public mutating func strategiesStopped(_ strategyIDs: Set<String>, time: Timestamp)
        -> (records: [DeskRecord], openPositions: [(strategyID: String, symbol: String, exchange: String, quantity: Int64)]) {
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { strategyIDs.contains($0.intent.strategyID) }) {
            records += cancel(orderID: order.orderID, reason: "strategy stopped", time: time)
        }
        var open: [(String, String, String, Int64)] = []
        for (key, position) in positions.sorted() {
            if let origin = position.origin, strategyIDs.contains(origin.strategyID) {
                open.append((origin.strategyID, key.symbol, key.exchange, position.net.quantity))
            }
        }
        return (records, open)
    }
}
