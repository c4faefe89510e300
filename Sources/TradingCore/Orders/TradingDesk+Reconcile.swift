/// Reconciliation with a live broker (docs/protocol.md, "Reconciliation"): the broker's account,
/// as its gateway read it, against the desk's orders and fills at that broker. Missed executions
/// are applied once (by exec id), orders the broker shows ended or modified are brought in line,
/// orders not the engine's are reported and left alone, and whatever nothing explains is a
/// difference that holds the broker's new orders (its strategies are halted through the record).
extension TradingDesk {
    /// One of the engine's orders at `brokerID` as `reconcile.request` lists it.
    public struct BrokerOrderRef: Sendable, Equatable {
        public var orderID: String
        public var brokerOrderID: String?
        public var status: OrderStatus
    }

    /// The engine's orders at the broker, working or ended lately, oldest first.
    public func ordersAtBroker(_ brokerID: String) -> [BrokerOrderRef] {
        let working = orders.sorted(where: { $0.intent.brokerID == brokerID && isLive($0) })
        let ended = brokers.finished.values.filter { $0.intent.brokerID == brokerID }
        return (working + ended).sorted { ($0.orderTime, $0.orderID) < ($1.orderTime, $1.orderID) }
            .map { BrokerOrderRef(orderID: $0.orderID, brokerOrderID: $0.brokerOrderID, status: $0.state.status) }
    }

    /// What was read at start for a live broker: each instrument's net of the fills of its live
    /// orders placed on IST day `day` ("SYMBOL|EXCHANGE" -> signed quantity), and its orders that
    /// ended lately.
    public mutating func restoreBroker(_ brokerID: String, nets: [String: Int64], day: Int64, ended: [DeskOrder]) {
        brokers.restore(broker: brokerID, nets: nets, day: day, finished: ended)
    }

    /// A gateway connected for the broker: its new orders wait (rejected) until reconciled.
    public mutating func beginReconciliation(_ brokerID: String) {
        brokers.set(.reconciling, "halted: reconciling live broker \(brokerID) with its gateway", broker: brokerID)
    }

    /// The gateway says the broker's session token expired (or works again).
    public mutating func setBrokerSession(_ brokerID: String, active: Bool, reason: String?) {
        brokers.set(.session, active ? nil : "halted: broker session expired for live broker \(brokerID): \(reason ?? "the broker refused the session token")",
                    broker: brokerID)
    }

    /// Why the broker's new orders are rejected now (reconciling, a difference, an expired session).
    public func brokerHold(_ brokerID: String) -> String? { brokers.holdReason(brokerID) }

    /// Reconciles the broker's `snapshot` (the answer to request `requestID`, from gateway `peer`).
    public mutating func reconcile(_ snapshot: BrokerSnapshot, requestID: String, peer: [UInt8], time: Timestamp) -> [DeskRecord] {
        let broker = snapshot.brokerID
        brokers.prune(before: Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch - 2 * Timestamp.nanosecondsPerDay))
        var result = Reconciliation(brokerID: broker, requestID: requestID)
        var records: [DeskRecord] = []
        var byBrokerOrderID: [String: String] = [:]
        for ref in ordersAtBroker(broker) { if let b = ref.brokerOrderID { byBrokerOrderID[b] = ref.orderID } }
        func engineOrder(_ orderID: String?, _ brokerOrderID: String) -> String? {
            if let id = orderID {
                if let w = orders[id], isLive(w), w.intent.brokerID == broker { return id }
                if brokers.finished[id]?.intent.brokerID == broker { return id }
            }
            return byBrokerOrderID[brokerOrderID]
        }
        let data = Self.reconcileData(requestID)
        // 1. Matching.
        var matched: [String: BrokerSnapshot.Order] = [:]
        for order in snapshot.orders {
            if let id = engineOrder(order.orderID, order.brokerOrderID) {
                matched[id] = order
                if var w = orders[id], w.brokerOrderID == nil { w.brokerOrderID = order.brokerOrderID; keep(w) }
            } else {
                result.unknownOrders.append(order.brokerOrderID)
            }
        }
        // 2. Missed executions, in the gateway's order.
        var unknownNet: [String: Int64] = [:]
        for execution in snapshot.executions {
            let key = Self.instrument(execution.symbol, execution.exchange)
            guard let id = engineOrder(execution.orderID, execution.brokerOrderID) else {
                unknownNet[key, default: 0] += execution.signedQuantity
                continue
            }
            if var working = orders[id] {
                if working.state.executionIDs.contains(execution.execID) { continue }
                if working.brokerOrderID == nil { working.brokerOrderID = execution.brokerOrderID }
                if working.state.status == .pending {
                    records += transition(&working, .accepted, message: "accepted by the broker (found at reconciliation)", time: execution.time ?? time, data: data)
                }
                keep(working)
                let applied = execute(orderID: id, executionID: execution.execID, quantity: execution.quantity, price: execution.price,
                                      time: execution.time ?? time)
                records += applied.records
                switch applied.outcome {
                case .applied: result.applied += 1
                case .duplicate: break
                case .refused(let why): result.differences.append("execution \(execution.execID) of order \(id): \(why)")
                case .unknownOrder: result.differences.append("execution \(execution.execID) of order \(id): the order is not working")
                }
            } else if let ended = brokers.finished[id], !ended.state.executionIDs.contains(execution.execID) {
                result.differences.append("execution \(execution.execID) (\(execution.quantity) at \(execution.price)) of order \(id), "
                    + "which the engine had already ended \(ended.state.status.rawValue)")
            }
        }
        // 3. Order states.
        for (id, order) in matched.sorted(by: { $0.key < $1.key }) {
            if var working = orders[id] {
                let name = "order \(id) (broker order \(order.brokerOrderID))"
                switch order.status {
                case .pending:
                    break
                case .open, .partiallyFilled:
                    if working.state.status == .pending {
                        records += transition(&working, .accepted, message: "accepted by the broker (found at reconciliation)", time: time, data: data)
                    }
                    let quantity = order.quantity != working.state.quantity ? order.quantity : nil
                    let price = order.price != nil && order.price != working.state.price ? order.price : nil
                    let trigger = order.triggerPrice != nil && order.triggerPrice != working.state.triggerPrice ? order.triggerPrice : nil
                    if quantity != nil || price != nil || trigger != nil {
                        let changed = transition(&working, .modified(quantity: quantity, price: price, triggerPrice: trigger),
                                                 message: "modified at the broker (found at reconciliation)", time: time, data: data)
                        if changed.isEmpty {
                            result.differences.append("\(name): the broker shows quantity \(order.quantity), the engine cannot take it")
                        } else {
                            result.modified += 1
                            records += changed
                        }
                    }
                    keep(working)
                case .filled:
                    if working.state.status != .filled {
                        result.differences.append("\(name): the broker shows it FILLED (\(order.filledQuantity)), "
                            + "the executions the engine has come to \(working.state.filledQuantity) of \(working.state.quantity)")
                    }
                case .cancelled, .rejected:
                    guard order.filledQuantity == working.state.filledQuantity else { break }  // counted below
                    let reason = order.reason ?? (order.status == .cancelled ? "cancelled at the broker" : "rejected by the broker")
                    working.reason = reason
                    let event: OrderEvent = order.status == .cancelled ? .cancelled(reason: reason) : .rejected(reason: reason)
                    if working.state.status == .pending && order.status == .cancelled {
                        records += transition(&working, .accepted, message: "accepted by the broker (found at reconciliation)", time: time, data: data)
                    }
                    let changed = transition(&working, event, message: "\(order.status.rawValue.lowercased()) at the broker (found at reconciliation): \(reason)",
                                             time: time, data: data)
                    if !changed.isEmpty { result.ended += 1 }
                    records += changed
                    keep(working)
                    if order.status == .cancelled, let sibling = self.orders.unlinkOneCancelsOther(id) {
                        records += cancel(orderID: sibling, reason: "one-cancels-other: \(id) cancelled", time: time)
                    }
                }
                let now = orders[id] ?? brokers.finished[id] ?? working
                if order.filledQuantity != now.state.filledQuantity {
                    result.differences.append("\(name): the broker shows \(order.filledQuantity) filled, the executions the engine has come to \(now.state.filledQuantity)")
                }
            } else if let ended = brokers.finished[id] {
                if !order.status.isTerminal {
                    result.differences.append("order \(id) (broker order \(order.brokerOrderID)): ended at the engine (\(ended.state.status.rawValue)), "
                        + "working at the broker (\(order.status.rawValue))")
                } else if order.filledQuantity != ended.state.filledQuantity {
                    result.differences.append("order \(id) (broker order \(order.brokerOrderID)): the broker shows \(order.filledQuantity) filled, "
                        + "the engine \(ended.state.filledQuantity)")
                }
            }
        }
        // 4. The engine's working orders the broker does not have.
        let today = SessionCalendar.istDay(time)
        for var working in orders.sorted(where: { $0.intent.brokerID == broker && self.isLive($0) }) where matched[working.orderID] == nil {
            if SessionCalendar.istDay(working.orderTime) < today {
                // A DAY or IOC order (the only validities) of an earlier day: its day's close
                // ended it, and the broker's book of today no longer lists it. Not a difference;
                // one never placed is not sent on another day.
                let pending = working.state.status == .pending
                let reason = pending ? "not placed: its day ended before the broker had it" : "expired at the close of its day"
                working.reason = reason
                let changed = transition(&working, pending ? .rejected(reason: reason) : .cancelled(reason: reason),
                                         message: "\(reason) (found at reconciliation: not in the broker's book of today)", time: time, data: data)
                if !changed.isEmpty { result.ended += 1 }
                records += changed
                keep(working)
                continue
            }
            if working.state.status == .pending {
                records.append(.gatewayRequest(GatewayRequest(kind: .new, requestID: ids.next(now: time).description, order: working, time: time)))
                result.resent += 1
            } else {
                result.differences.append("order \(working.orderID) (\(working.state.status.rawValue), broker order \(working.brokerOrderID ?? "unknown")): "
                    + "working at the engine, the broker does not have it")
            }
        }
        // 5. Today's positions (what moved today, IST), per instrument the engine traded
        // through the broker today.
        var held: [String: Int64] = [:]
        for position in snapshot.positions { held[Self.instrument(position.symbol, position.exchange), default: 0] += position.quantity }
        let nets = brokers.nets(broker: broker, day: today)
        for key in Set(nets.keys).union(held.keys).sorted() {
            let name = key.split(separator: "|").reversed().joined(separator: ":")
            guard let own = nets[key] else {
                if held[key, default: 0] != 0 { result.foreignPositions.append("\(name) \(held[key]!)") }
                continue
            }
            let expected = own + unknownNet[key, default: 0], actual = held[key, default: 0]
            if expected != actual {
                result.differences.append("\(name): the broker's day position is \(actual), the engine's fills there today make \(own)"
                    + (unknownNet[key] != nil ? " and today's executions of orders not the engine's \(unknownNet[key]!)" : ""))
            }
        }
        brokers.set(.reconciling, nil, broker: broker)
        // The gateway read the whole account just now: its session works, whatever an earlier
        // gateway said (one that reported the expiry and was restarted with the renewed token
        // never says `active`: it never saw the expiry).
        brokers.set(.session, nil, broker: broker)
        brokers.set(.difference, result.isClean ? nil : "halted: reconciliation difference at live broker \(broker)", broker: broker)
        records.append(.reconciliation(result, peer: peer))
        if !result.isClean {
            // The halt the record writes cancels these strategies' working orders too, later and
            // as "strategy halted"; cancelling now says why on the bus, the one place a
            // subscriber sees a reconciliation. Bracket legs stay: they protect what is held.
            for order in orders.sorted(where: { $0.intent.brokerID == broker && self.isLive($0) && $0.parentOrderID == nil }) {
                records += cancel(orderID: order.orderID, reason: "strategy halted: reconciliation difference at live broker \(broker)", time: time)
            }
        }
        return records
    }

    /// `trade_logs.data` of what a reconciliation changed (the request it answered).
    static func reconcileData(_ requestID: String) -> String {
        var w = JSONObjectWriter()
        w.add("reconcile_id", requestID)
        return w.text
    }
}
