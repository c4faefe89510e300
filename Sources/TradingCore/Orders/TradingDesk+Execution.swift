/// Executions: ticks at the paper venue and gateway reports, fills into positions and P&L,
/// brackets, cancels and modifies.
extension TradingDesk {
    /// A trade on an instrument: fills working paper orders it reaches; marks positions.
    public mutating func onTick(_ tick: Tick) -> [DeskRecord] {
        let key = Self.instrument(tick.symbol, tick.exchange)
        positions.noteTrade(symbol: tick.symbol, exchange: tick.exchange, price: tick.price, traded: venues[key] != nil)
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
        guard var order = orders[report.orderID], isLive(order) else { return (.unknownOrder, []) }
        if let servedBrokers, !(order.intent.brokerID.map(servedBrokers.contains) ?? false) { return (.unknownOrder, []) }
        // The broker's id for it, kept for matching at the next reconciliation.
        if order.brokerOrderID == nil, let brokerOrderID = report.brokerOrderID { order.brokerOrderID = brokerOrderID }
        var records: [DeskRecord] = []
        if order.state.status == .pending && (report.kind == .fill || report.kind == .modified) {
            records += transition(&order, .accepted, message: "accepted by the broker", time: report.time, data: brokerData(report))
        }
        switch report.kind {
        case .accepted:
            guard order.state.status == .pending else { keep(order); return (.duplicate, []) }
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
            _ = orders.unlinkOneCancelsOther(order.orderID)
        case .modified:
            records += transition(&order, .modified(quantity: report.quantity, price: report.price, triggerPrice: report.triggerPrice),
                                  message: "modified at the broker", time: report.time, data: brokerData(report))
        case .fill:
            guard let execID = report.execID, let quantity = report.quantity, let price = report.price else {
                return (.refused("a fill needs exec_id, fill_quantity and fill_price"), records)
            }
            keep(order)
            let result = execute(orderID: order.orderID, executionID: execID, quantity: quantity, price: price, time: report.time)
            if case .duplicate = result.outcome, records.isEmpty { return (.duplicate, []) }
            return (result.outcome, records + result.records)
        }
        keep(order)
        if records.isEmpty { return (.duplicate, []) }
        return (.applied, records)
    }

    func brokerData(_ report: GatewayReport) -> String? {
        var w = JSONObjectWriter()
        w.add("report_id", report.reportID)
        w.add("broker_order_id", report.brokerOrderID)
        return w.text
    }

    /// Applies a non-fill event to an order and records it; nothing if it does not apply.
    func transition(_ order: inout DeskOrder, _ event: OrderEvent, message: String, time: Timestamp,
                            data: String? = nil) -> [DeskRecord] {
        guard (try? order.state.apply(event)) != nil else { return [] }
        return [.order(order), .tradeLog(tradeID: order.tradeID, level: "INFO", message: message, data: data),
                .event(BusEvent(kind: .order, order: order, time: time))]
    }

    /// One execution of a working order: the order row, its trade log, the position, the fill
    /// event, and the FILLED order event when it completes; a bracket or one-cancels-other after.
    mutating func execute(orderID: String, executionID: String, quantity: Int64, price: FixedDecimal,
                                  time: Timestamp) -> (outcome: ReportOutcome, records: [DeskRecord]) {
        guard var order = orders[orderID] else { return (.unknownOrder, []) }
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
        let positionRecords = applyToPosition(order: order, quantity: quantity, price: price, charges: Int128(charges.total), time: time)
        // What the execution realized before charges and when it happened, so a strategy's
        // equity curve can be drawn from its fills alone (positions are per user, not strategy).
        let realized = positionRecords.reduce(Int128(0)) { sum, record in
            if case .positionHistory(let h) = record { sum + h.pnl } else { sum }
        }
        data.add("realized_pnl", money: realized)
        data.add("ts", time: time)
        records.append(.tradeLog(tradeID: order.tradeID, level: "INFO", message: "filled \(quantity) at \(price)", data: data.text))
        records += positionRecords
        records.append(.event(BusEvent(kind: .fill, order: order, fillQuantity: quantity, fillPrice: price, time: time)))
        if order.state.status != before {
            records.append(.event(BusEvent(kind: .order, order: order, time: time)))
        }
        keep(order)
        if isLive(order), let broker = order.intent.brokerID {
            brokers.noteFill(broker: broker, instrument: Self.instrument(order.intent.symbol, order.intent.exchange),
                             signed: order.intent.side == .buy ? quantity : -quantity, day: SessionCalendar.istDay(time))
        }
        // After the fill's own events, before its bracket: a halt cancels the strategy's other
        // working orders, while the bracket placed next only protects the position.
        records += strategyLossCheck(order.intent, time: time)
        if order.state.status == .filled {
            if order.parentOrderID == nil {
                records += placeBracket(for: order, time: time)
            } else if let sibling = orders.unlinkOneCancelsOther(order.orderID) {
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
    mutating func fitBrackets(userID: String, symbol: String, exchange: String, time: Timestamp) -> [DeskRecord] {
        let held = position(userID: userID, symbol: symbol, exchange: exchange)
        var records: [DeskRecord] = []
        for child in orders.sorted(where: { $0.parentOrderID != nil && $0.intent.userID == userID && $0.intent.symbol == symbol
                                            && $0.intent.exchange == exchange && !orders.cancelRequested.contains($0.orderID) }) {
            let orderID = child.orderID
            let closes = child.intent.side == .sell ? held > 0 : held < 0
            let room = closes ? Int64(held.magnitude) : 0
            guard child.state.remainingQuantity > room else { continue }
            if room == 0 {
                records += cancel(orderID: orderID, reason: "the position it protects is closed", time: time)
            } else if orders.modifyRequested[orderID] != child.state.filledQuantity + room {
                // A live modify applies when its gateway reports it: ask once per new size.
                if isLive(child) { orders.modifyRequested[orderID] = child.state.filledQuantity + room }
                records += modify(orderID: orderID, quantity: child.state.filledQuantity + room, price: nil, triggerPrice: nil, time: time)
            }
        }
        return records
    }

    /// After an entry with `stoploss` and/or `target` fills: child orders on the other side for
    /// the filled quantity — an SL-M at the stoploss and a LIMIT at the target — linked by
    /// `parent_order_id`; when one fills, the other is cancelled (one-cancels-other). They only
    /// close the position, so they pass no risk check; they go where the parent went.
    mutating func placeBracket(for parent: DeskOrder, time: Timestamp) -> [DeskRecord] {
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
            orders.linkOneCancelsOther(childIDs[0], childIDs[1])
        }
        return records
    }

    /// Cancels a working order: at once at the paper venue; for a live order, a cancel request
    /// to its gateway (the order is CANCELLED when the gateway reports it).
    public mutating func cancel(orderID: String, reason: String, time: Timestamp) -> [DeskRecord] {
        guard var order = orders[orderID] else { return [] }
        if isLive(order) {
            orders.cancelRequested.insert(orderID)
            return countOrderMessage(order, time: time) + [
                    .tradeLog(tradeID: order.tradeID, level: "INFO", message: "cancel requested: \(reason)", data: nil),
                    .gatewayRequest(GatewayRequest(kind: .cancel, requestID: ids.next(now: time).description, order: order,
                                                   reason: reason, time: time))]
        }
        _ = venues[Self.instrument(order.intent.symbol, order.intent.exchange)]?.cancel(orderID)
        order.reason = reason
        var records = transition(&order, .cancelled(reason: reason), message: "cancelled: \(reason)", time: time)
        guard !records.isEmpty else { return [] }
        orders.remove(orderID)
        if !reason.hasPrefix("strategy halted") && !reason.hasPrefix("expired") { records = countOrderMessage(order, time: time) + records }
        _ = orders.unlinkOneCancelsOther(orderID)
        return records
    }

    /// Modifies a working order's total quantity and/or prices: at once at the paper venue (an
    /// order event with the new values, reason "modified"); for a live order, a modify request
    /// (applied when the gateway reports `modified`). Nothing if the change is not allowed.
    public mutating func modify(orderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?,
                                time: Timestamp) -> [DeskRecord] {
        guard var order = orders[orderID] else { return [] }
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
        if orders[orderID] == nil { return counted }  // the breaker halted the strategy and cancelled it
        order.reason = "modified"
        let records = counted + transition(&order, .modified(quantity: quantity, price: price, triggerPrice: triggerPrice),
                                 message: "modified", time: time)
        keep(order)
        return records
    }

    /// A strategy process's modify: the order as it would become (its remaining quantity, its
    /// new prices) passes exactly the checks of a new order (``decide``: risk, halts, market
    /// rules, order controls, funds), with its own blocked margin left out, before ``modify``
    /// applies it. A refusal changes nothing and comes back with its reason (and a trade log line).
    public mutating func modifyChecked(orderID: String, quantity: Int64?, price: FixedDecimal?, triggerPrice: FixedDecimal?,
                                       time: Timestamp) -> (records: [DeskRecord], refusal: String?) {
        guard let order = orders[orderID] else { return ([], "the order is no longer working") }
        var probe = order.state
        do {
            try probe.apply(.modified(quantity: quantity, price: price, triggerPrice: triggerPrice))
        } catch {
            return ([], "\(error)")
        }
        var intent = order.intent
        intent.quantity = probe.remainingQuantity
        intent.limitPrice = probe.price
        intent.triggerPrice = probe.triggerPrice
        intent.time = time
        var changed = order
        changed.intent = intent
        let instrument = instruments.lookup(symbol: intent.symbol, exchange: intent.exchange)
        let last = positions.lastPrice(symbol: intent.symbol, exchange: intent.exchange) ?? intent.referencePrice
        let checkPrice = intent.type == .limit ? (probe.price ?? last) : last
        switch decide(intent, order: changed, instrument: instrument, checkPrice: checkPrice, closing: false, marginExcluding: orderID) {
        case .reject(let reason), .rejectAndHalt(let reason):
            return ([.tradeLog(tradeID: order.tradeID, level: "WARNING", message: "modify refused: \(reason)", data: nil)], reason)
        case .accept:
            break
        }
        let records = modify(orderID: orderID, quantity: quantity, price: price, triggerPrice: triggerPrice, time: time)
        return records.isEmpty ? ([], "the order could not be modified") : (records, nil)
    }

    mutating func applyToPosition(order: DeskOrder, quantity: Int64, price: FixedDecimal, charges: Int128,
                                          time: Timestamp) -> [DeskRecord] {
        let intent = order.intent
        let key = PositionKey(userID: intent.userID, symbol: intent.symbol, exchange: intent.exchange)
        let signed = intent.side == .buy ? quantity : -quantity
        var records: [DeskRecord] = []
        var open = positions.open[key] ?? PositionLedger.Open(positionID: ids.next(now: time).description, openingTradeID: order.tradeID,
                                                              openedAt: time, net: NetPosition())
        let previousQuantity = open.net.quantity
        let previousID = open.positionID
        let entryAverage = open.net.averagePrice
        open.origin = PositionLedger.Origin(strategyID: intent.strategyID, brokerID: intent.brokerID)
        open.product = order.product ?? defaultProduct
        open.instrumentType = order.instrumentType ?? "EQ"
        let actions = open.net.apply(fill: signed, price: price)
        let closingPart = min(quantity, Int64(previousQuantity.magnitude))
        for (index, (action, pnl)) in actions.enumerated() {
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
        // A fill counts in the desk's current day, or its own when later: an old tick's fill or a
        // late report moves money today (in the user's loss and the strategy's figures alike).
        let day = riskDay(time)
        dayLedger.record(userID: intent.userID, day: day, realized: realizedNow, charges: charges)
        if let broker = intent.brokerID { funds.settle(broker: broker, realized: realizedNow, charges: charges) }
        let closing = actions.contains { $0.action == .close || $0.action == .decrease }
        // Starting a day over for a fill stamped before the current one overwrote today's
        // figures and their row.
        var stats = strategyDays[intent.strategyID].flatMap { $0.day == day ? $0 : nil } ?? StrategyDay(strategyID: intent.strategyID, day: day)
        stats.add(fill: realizedNow, closing: closing, charges: charges)
        strategyDays[intent.strategyID] = stats
        records.append(.performance(stats))
        positions.open[key] = open.net.quantity == 0 ? nil : open
        if open.net.quantity == 0 || open.positionID != previousID { positions.marked[previousID] = nil }
        return records
    }

    /// The strategy's own loss limit (its `max_loss` parameter), net of charges, checked once a
    /// fill is wholly applied: run in the middle of it, the halt cancelled the very order being
    /// filled from its stale state, so the bus said CANCELLED, fill, FILLED and its row CANCELLED.
    mutating func strategyLossCheck(_ intent: OrderIntent, time: Timestamp) -> [DeskRecord] {
        guard let limit = strategyPolicies[intent.strategyID]?.maxLoss, !halts.strategies.contains(intent.strategyID),
              let stats = strategyDays[intent.strategyID], stats.day >= SessionCalendar.istDay(time),
              -stats.totalPnL >= Int128(limit.units) else { return [] }
        return haltStrategy(intent.strategyID, userID: intent.userID, breach: "strategy_loss",
                            reason: "strategy loss \(RiskCheck.text(-stats.totalPnL)) reached its max_loss \(limit)", time: time)
    }
}
