import Foundation
import Logging
import Storage
import TradingCore
import ZeroMQ

/// Reconciliation with live brokers, feeds and broker sessions on the gateway socket
/// (docs/protocol.md, "Reconciliation"). At every `hello` that routes a broker to a gateway, the
/// broker is held (its new orders rejected, its queued requests kept) and asked for with
/// `reconcile.request`; the gateway's whole snapshot goes to the desk, and once what it applied
/// and found is stored (the `.reconciliation` record), `reconcile.done` answers and the broker's
/// requests flow.
extension GatewayServer {
    struct PendingReconciliation {
        var requestID: String
        var identity: [UInt8]
        var payload: String?
        var lastSent: UInt64?
        var assembly: ReconcileAssembly
        /// The whole snapshot is with the desk: nothing is resent until its result.
        var applying = false
        /// `error` answers in a row (the broker could not be read: an expired session, an
        /// outage): the request is asked again after the resend interval doubled per answer, up
        /// to a minute, and `system_logs` gets the first and then one a minute, not one every
        /// resend interval for as long as it lasts.
        var errors = 0
        var lastErrorLogged: UInt64?
    }

    /// How long after its `error` answer the request is asked again.
    func reconcileRetryDelay(errors: Int) -> UInt64 {
        let base = UInt64(settings.resendIntervalMilliseconds)
        return min(60_000, base << UInt64(min(max(errors - 1, 0), 10)))
    }

    /// Holds `brokers` and asks the gateway at `identity` for their state (once the desk holds
    /// what they are compared with; before that, when start has restored it).
    func beginReconciliations(_ brokers: [String], with identity: [UInt8], _ state: State, _ socket: ZMQSocket) {
        guard !brokers.isEmpty else { return }
        for broker in brokers {
            let requestID = UUID().uuidString.lowercased()
            state.reconciling[broker] = PendingReconciliation(requestID: requestID, identity: identity, payload: nil, lastSent: nil,
                                                              assembly: ReconcileAssembly(requestID: requestID, brokerID: broker))
        }
        let orders = desk.withLock { $0 }?.beginReconciliation(brokers) ?? [:]
        guard state.deskRestored else { return }
        for broker in brokers { sendReconcileRequest(broker, orders: orders[broker] ?? [], state, socket) }
    }

    /// Start restored the desk: the reconciliations that waited for it are asked for now.
    func startWaitingReconciliations(_ state: State, _ socket: ZMQSocket) {
        let waiting = state.reconciling.filter { $0.value.payload == nil }.map(\.key).sorted()
        guard !waiting.isEmpty else { return }
        let orders = desk.withLock { $0 }?.beginReconciliation(waiting) ?? [:]
        for broker in waiting { sendReconcileRequest(broker, orders: orders[broker] ?? [], state, socket) }
    }

    private func sendReconcileRequest(_ broker: String, orders: [TradingDesk.BrokerOrderRef], _ state: State, _ socket: ZMQSocket) {
        guard var item = state.reconciling[broker] else { return }
        var w = JSONObjectWriter()
        w.add("request_id", item.requestID)
        w.add("broker_id", broker)
        w.add("orders", objects: orders.map { ref in
            var o = JSONObjectWriter()
            o.add("order_id", ref.orderID)
            o.add("broker_order_id", ref.brokerOrderID)
            o.add("status", ref.status.rawValue)
            return o
        })
        item.payload = w.text
        item.lastSent = Self.now()
        state.reconciling[broker] = item
        _ = send(socket, to: item.identity, "reconcile.request", w.text)
    }

    /// The broker's session works again: a reconciliation its expiry kept failing is asked for
    /// at once, not after its backoff (up to a minute), since the broker's orders are held until
    /// it completes (failed in a check at 76faf66: a strategy's first orders after the renewal
    /// were rejected "reconciling" while the request waited 5 s for its next turn).
    func reconcileNowAfterRenewal(_ broker: String, _ state: State, _ socket: ZMQSocket) {
        guard var item = state.reconciling[broker], item.errors > 0, !item.applying, let payload = item.payload else { return }
        item.errors = 0
        item.lastErrorLogged = nil
        item.lastSent = Self.now()
        state.reconciling[broker] = item
        _ = send(socket, to: item.identity, "reconcile.request", payload)
    }

    /// A request not answered in full within the resend interval is asked again (the same id).
    func resendReconcileRequests(_ state: State, _ socket: ZMQSocket, now: UInt64) {
        let after = UInt64(settings.resendIntervalMilliseconds)
        for (broker, var item) in state.reconciling where !item.applying {
            let wait = item.errors > 0 ? max(after, reconcileRetryDelay(errors: item.errors)) : after
            guard let payload = item.payload, let sent = item.lastSent, now &- sent >= wait else { continue }
            item.lastSent = now
            state.reconciling[broker] = item
            resends.add(1, ordering: .relaxed)
            _ = send(socket, to: item.identity, "reconcile.request", payload)
        }
    }

    func reconcilePart(_ part: GatewayMessages.ReconcilePart, from identity: [UInt8], _ state: State, _ socket: ZMQSocket,
                       _ logs: SystemLogStore, now: UInt64) {
        guard var item = state.reconciling[part.brokerID], item.identity == identity, item.requestID == part.requestID else {
            bad("reconcile: no reconciliation of broker \(part.brokerID) with request_id \(part.requestID) is waiting for this gateway", identity, socket)
            return
        }
        guard !item.applying else { return }  // a part repeated after the whole snapshot came
        if let error = part.error {
            item.errors += 1
            if item.lastErrorLogged.map({ now &- $0 >= 60_000 }) ?? true {
                item.lastErrorLogged = now
                logger.warning("a gateway could not read its broker for reconciliation: asking again",
                               metadata: ["broker": "\(part.brokerID)", "why": "\(error)", "answers": "\(item.errors)"])
                try? logs.insert([SystemLogEntry(component: "reconcile", level: .warning,
                                                 message: "live broker \(part.brokerID) could not be read for reconciliation (\(item.errors) time(s); "
                                                    + "asked again in \(reconcileRetryDelay(errors: item.errors) / 1_000) s): \(error)")])
            }
            item.lastSent = now
            state.reconciling[part.brokerID] = item
            return
        }
        switch item.assembly.add(part) {
        case .failure(let problem):
            item.assembly = ReconcileAssembly(requestID: item.requestID, brokerID: part.brokerID)
            state.reconciling[part.brokerID] = item
            bad("reconcile: \(problem.message); send the snapshot again", identity, socket)
        case .success(nil):
            state.reconciling[part.brokerID] = item
        case .success(let snapshot?):
            item.applying = true
            state.reconciling[part.brokerID] = item
            desk.withLock { $0 }?.reconcile(snapshot, requestID: item.requestID, peer: identity)
        }
    }

    /// What a reconciliation applied and found is stored: the gateway is told, and the broker's
    /// requests flow (a difference holds its new orders in the desk, not its queued requests:
    /// cancels from the halt must reach the broker).
    func reconciled(_ result: Reconciliation, peer: [UInt8], _ state: State, _ socket: ZMQSocket) {
        _ = send(socket, to: peer, "reconcile.done", result.json(includingRequest: true))
        let metadata: Logger.Metadata = ["broker": "\(result.brokerID)", "applied": "\(result.applied)", "unknown_orders": "\(result.unknownOrders.count)",
                                         "differences": "\(result.differences)"]
        if result.isClean { logger.notice("live broker reconciled", metadata: metadata) } else {
            logger.error("live broker reconciliation found differences: its strategies are halted", metadata: metadata)
        }
        guard let item = state.reconciling[result.brokerID], item.requestID == result.requestID else { return }
        state.reconciling[result.brokerID] = nil
        for requestID in state.order where state.outstanding[requestID]?.request.brokerID == result.brokerID {
            transmit(requestID, state, socket)
        }
    }

    func brokerSession(_ broker: String, active: Bool, reason: String?, gatewayID: String, _ logs: SystemLogStore) {
        desk.withLock { $0 }?.setBrokerSession(broker, active: active, reason: reason)
        let message = active ? "live broker \(broker): session active again (gateway \(gatewayID))"
            : "live broker \(broker): session expired (gateway \(gatewayID)): \(reason ?? "refused by the broker"); its orders are halted until "
                + "a new session token (algotrader broker login, then algotrader ctl reload)"
        if active { logger.notice("broker session active", metadata: ["broker": "\(broker)"]) } else {
            logger.error("broker session expired: its orders are halted until renewed", metadata: ["broker": "\(broker)", "reason": "\(reason ?? "")"])
        }
        try? logs.insert([SystemLogEntry(component: "gateway", level: active ? .info : .error, message: message,
                                         data: Self.peerJSON(gatewayID, brokers: [broker]))])
    }

    /// A feed connection: welcomed with its brokers' credentials and its instruments' tokens,
    /// never routed (docs/protocol.md).
    /// The `welcome` a gateway and a feed both get: the brokers granted and refused, the
    /// heartbeat timing and the granted brokers' credentials (docs/protocol.md).
    func welcome(accepted: [String], refused: [String], _ state: State) -> JSONObjectWriter {
        var welcome = JSONObjectWriter()
        welcome.add("broker_ids", strings: accepted)
        welcome.add("refused_broker_ids", strings: refused)
        welcome.add("heartbeat_interval_ms", settings.heartbeatIntervalMilliseconds)
        welcome.add("heartbeat_timeout_ms", settings.heartbeatTimeoutMilliseconds)
        let (credentials, problems) = opened(accepted, state)
        welcome.add("credentials", object: credentials)
        welcome.add("credential_errors", object: problems)
        return welcome
    }

    func admitFeed(_ peer: Peer, accepted: [String], refused: [String], renewed: Set<String>, _ state: State, _ socket: ZMQSocket) {
        let newly = accepted.filter { !peer.feedBrokers.contains($0) }
        state.peers[peer.identity]?.feedBrokers = Set(accepted)
        guard peer.feedBrokers.isEmpty || !newly.isEmpty || accepted.contains(where: renewed.contains) else { return }
        var welcome = welcome(accepted: accepted, refused: refused, state)
        var found: [(exchange: String, symbol: String, token: Int64, exchangeToken: Int64?)] = [], unknown = peer.instruments
        if !accepted.isEmpty && !peer.instruments.isEmpty {
            do {
                let db = try DatabaseConnection(connectionString: connectionString)
                defer { db.close() }
                (found, unknown) = try InstrumentStore(db).tokens(peer.instruments)
            } catch {
                logger.error("a feed's instruments could not be read from the instrument master", metadata: ["error": "\(error)"])
            }
        }
        welcome.add("instruments", objects: found.map { i in
            var o = JSONObjectWriter()
            o.add("exchange", i.exchange)
            o.add("symbol", i.symbol)
            o.add("instrument_token", i.token)
            o.add("exchange_token", i.exchangeToken)
            return o
        })
        welcome.add("unknown_instruments", strings: unknown)
        _ = send(socket, to: peer.identity, "welcome", welcome.text)
    }
}
