/// The desk's clock: what the calendar says happens as time passes (day start, MIS square-off,
/// session close), placing orders at the venue, marks and user halts.
extension TradingDesk {
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
            let lifting = halts.startDay(liftDailyLoss: liftDailyLossHaltsAtDayStart)
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
        squaredOffAt[exchange] = time
        let at = TradingCalendar.clock(calendar.squareOff[exchange] ?? 0)
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { $0.intent.exchange == exchange && ($0.product ?? .mis) == .mis && !isLive($0) }) {
            records += cancel(orderID: order.orderID, reason: "MIS square-off at \(at) IST", time: time)
        }
        for (key, open) in positions.sorted(where: { key, open in key.exchange == exchange && open.product == .mis }) {
            guard let price = positions.lastPrice(symbol: key.symbol, exchange: key.exchange), let origin = open.origin else { continue }
            records += close(key, quantity: open.net.quantity, at: price, origin: origin, reason: "MIS auto square-off at \(at) IST", time: time)
        }
        return records
    }

    /// The end of an exchange's session: its working paper DAY orders expire.
    mutating func expireDayOrders(exchange: String, time: Timestamp) -> [DeskRecord] {
        let at = TradingCalendar.clock(calendar.sessions[exchange]?.close ?? 0)
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { $0.intent.exchange == exchange && ($0.validity ?? .day) == .day && !isLive($0) }) {
            records += cancel(orderID: order.orderID, reason: "expired: end of the \(exchange) session at \(at) IST", time: time)
        }
        return records
    }

    /// Places an order that passed risk (or needs none: a bracket child).
    mutating func place(_ order: DeskOrder, time: Timestamp, why: String) -> [DeskRecord] {
        var order = order
        var records = countOrderMessage(order, time: time)
        if !records.isEmpty && halts.strategies.contains(order.intent.strategyID) {
            // This very order tripped the breaker: it is refused with the halt.
            let reason = "the strategy is halted by the order-to-intent breaker"
            _ = try? order.state.apply(.rejected(reason: reason))
            order.reason = reason
            return records + [.order(order), .tradeLog(tradeID: order.tradeID, level: "WARNING", message: "rejected: \(reason)", data: nil),
                              .event(BusEvent(kind: .order, order: order, time: time))]
        }
        if isLive(order) {
            // PENDING until the gateway reports the broker took it; durable before it is sent.
            keep(order)
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
        keep(order)
        for fill in fills {
            records += execute(orderID: fill.orderID, executionID: ids.next(now: fill.time).description, quantity: fill.quantity,
                               price: fill.price, time: fill.time).records
        }
        if order.validity == .ioc, orders[order.orderID] != nil {
            // Immediate or cancel: what did not fill on placement is cancelled.
            records += cancel(orderID: order.orderID, reason: "IOC: the unfilled quantity is cancelled", time: time)
        }
        return records
    }

    /// Open positions whose last traded price moved since they were last marked.
    public mutating func marks() -> [DeskRecord] {
        positions.marks().map { .mark(positionID: $0.positionID, price: $0.price) }
    }

    /// Applies the active halts. Newly halted users' working orders (all of them, for an engine
    /// halt) are cancelled; orders that only reduce a position are still accepted afterwards.
    public mutating func setHalts(users: Set<String>, engine: Bool, time: Timestamp) -> [DeskRecord] {
        let (newlyHalted, engineNow) = halts.set(users: users, engine: engine)
        guard !newlyHalted.isEmpty || engineNow else { return [] }
        var records: [DeskRecord] = []
        for order in orders.sorted(where: { engineNow || newlyHalted.contains($0.intent.userID) }) {
            records += cancel(orderID: order.orderID, reason: "trading halted", time: time)
        }
        return records
    }
}
