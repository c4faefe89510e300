import Foundation
import Storage
import TradingCore
import ZeroMQ

/// The strategy endpoint's state, owned by its thread (``StrategyServer``): the runnable
/// external strategies, each one's filled position per instrument (the desk's truth, kept from
/// the published fills), and the connected processes with what was delivered to them.
final class StrategySessions {
    private let server: StrategyServer
    private let socket: ZMQSocket

    private struct Session {
        var identity: [UInt8]
        var strategyID: String
        var lastHeard: UInt64
        var lastSent: UInt64
        /// The stored hash of the secret it said hello with: a new secret (`strategy token`)
        /// ends the session at the next check.
        var tokenHash: String
        /// The last tick of each instrument delivered to the process: its paper MARKET orders fill there.
        var lastTicks: [String: (price: FixedDecimal, time: Timestamp)] = [:]
        /// Its client order ids and the orders they became (learnt from the first event).
        var clientOrders: [String: String?] = [:]
        /// Its `system_logs` rows (log lines, refusals) in the current window, and those left out.
        var logWindowStart: UInt64 = 0
        var logRows = 0
        var logRowsLeftOut = 0
    }

    private var entries: [String: StrategyServer.Entry] = [:]
    /// strategy id -> instrument key -> signed filled quantity.
    private var positions: [String: [String: Int64]] = [:]
    /// instrument key -> strategies declaring it.
    private var subscribers: [String: [String]] = [:]
    private var sessions: [[UInt8]: Session] = [:]
    private var byStrategy: [String: [UInt8]] = [:]

    /// Client order ids a process may have outstanding at once (older ones are forgotten).
    static let maxClientOrders = 10_000

    /// The processes' `log` lines and the refusals of their requests go to `system_logs`,
    /// written together at each housekeeping turn (never one round trip per message), at most
    /// `logRowsPerWindow` per process in each `logWindowMilliseconds`: a process that logs in a
    /// loop, or sends a flood of bad requests, cannot fill the table or hold up its own ticks.
    private let logs: SystemLogStore
    private var pendingLogs: [SystemLogEntry] = []
    static let logRowsPerWindow = 100
    static let logWindowMilliseconds: UInt64 = 10_000

    /// Secrets as stored now: checked at each hello, and for connected processes every
    /// `tokenCheckMilliseconds`.
    private let tokens: StrategyTokenStore
    private var lastTokenCheck: UInt64 = 0
    static let tokenCheckMilliseconds: UInt64 = 2_000
    /// After a failed read, none for this long (the last reload's hashes stand in): an outage
    /// costs this thread one bounded stall, not one every check.
    private var tokensUnreadUntil: UInt64 = 0
    static let tokenBackoffMilliseconds: UInt64 = 30_000

    /// The stored hashes of `strategyIDs`, or nil while the database cannot be read.
    private func storedHashes(_ strategyIDs: [String], now: UInt64) -> [String: String]? {
        guard now >= tokensUnreadUntil else { return nil }
        do {
            return try tokens.currentHashes(strategyIDs)
        } catch {
            tokensUnreadUntil = now &+ Self.tokenBackoffMilliseconds
            server.logger.warning("strategy secrets not read; the last reload's stand in for \(Self.tokenBackoffMilliseconds / 1000) s",
                                  metadata: ["error": "\(error)"])
            return nil
        }
    }

    init(server: StrategyServer, socket: ZMQSocket) {
        self.server = server
        self.socket = socket
        self.logs = SystemLogStore(connectionString: server.connectionString)
        self.tokens = StrategyTokenStore(connectionString: server.connectionString)
    }

    func close() {
        flushLogs()
        logs.close()
        tokens.close()
    }

    // MARK: - From the engine

    func handle(_ item: StrategyServer.Inbound, desk: OrderDesk?) {
        switch item {
        case .strategies(let list, let filled):
            let previous = entries
            entries = Dictionary(list.map { ($0.identity.strategyID, $0) }, uniquingKeysWith: { first, _ in first })
            subscribers = [:]
            for entry in list {
                for instrument in entry.config.instruments {
                    subscribers[StrategyServer.key(instrument.symbol, instrument.exchange), default: []].append(entry.identity.strategyID)
                }
            }
            // Positions already kept from published fills stay (a fill published between the
            // reload's read and now is in them); strategies new to the set start from the read.
            for id in entries.keys where previous[id] == nil { positions[id] = [:] }
            for p in filled where previous[p.strategyID] == nil {
                positions[p.strategyID, default: [:]][StrategyServer.key(p.symbol, p.exchange)] = p.quantity
            }
            for id in positions.keys where entries[id] == nil { positions[id] = nil }
            var changed = false
            for (identity, session) in sessions {
                guard let entry = entries[session.strategyID] else {
                    send(identity, "stop", JSONObjectWriter.object { $0.add("reason", "the strategy was stopped") })
                    drop(identity, why: "its strategy was stopped")
                    changed = true
                    continue
                }
                // An edited strategy (parameters, instruments, intervals, name): a new welcome
                // tells the connected process, whose scope is the new one from now on.
                if let before = previous[session.strategyID], welcomeFor(before) != welcomeFor(entry) {
                    send(identity, "welcome", welcomeFor(entry))
                    server.logger.notice("strategy process told of its strategy's new settings", metadata: ["strategy": "\(session.strategyID)"])
                }
            }
            if changed { reportConnected() }
        case .ticks(let ticks):
            for tick in ticks {
                let key = StrategyServer.key(tick.symbol, tick.exchange)
                for strategyID in subscribers[key] ?? [] {
                    guard let identity = byStrategy[strategyID] else { continue }
                    var payload: [UInt8] = []
                    TickJSONEncoder.append(tick, to: &payload)
                    if send(identity, "tick", payload) {
                        sessions[identity]?.lastTicks[key] = (tick.price, tick.timestamp)
                    } else {
                        server.droppedTicks.add(1, ordering: .relaxed)
                    }
                }
            }
        case .bars(let bars):
            for bar in bars {
                for strategyID in subscribers[StrategyServer.key(bar.symbol, bar.exchange)] ?? [] {
                    guard let entry = entries[strategyID], entry.config.intervals.contains(bar.interval),
                          let identity = byStrategy[strategyID] else { continue }
                    send(identity, "bar", Self.bar(bar).bytes)
                }
            }
        case .events(let events):
            for (_, event, payload) in events {
                let intent = event.order.intent
                guard entries[intent.strategyID] != nil else { continue }
                let key = StrategyServer.key(intent.symbol, intent.exchange)
                var moved = false
                if event.kind == .fill, let quantity = event.fillQuantity, quantity != 0 {
                    positions[intent.strategyID, default: [:]][key, default: 0] += intent.side == .buy ? quantity : -quantity
                    moved = true
                }
                guard let identity = byStrategy[intent.strategyID] else { continue }
                if let client = intent.clientOrderID, sessions[identity]?.clientOrders[client] != nil || sessions[identity]?.clientOrders.keys.contains(client) == true {
                    sessions[identity]?.clientOrders[client] = .some(event.order.orderID)
                }
                // The position first: a handler of the fill already sees the position it made.
                if moved {
                    send(identity, "position", Self.position(symbol: intent.symbol, exchange: intent.exchange,
                                                            quantity: positions[intent.strategyID]?[key] ?? 0))
                }
                send(identity, event.kind.rawValue, Self.withClientOrderID(payload, intent.clientOrderID))
            }
        }
    }

    /// Section 2's payload with `client_order_id` added (null for orders the process did not send).
    static func withClientOrderID(_ payload: String, _ clientOrderID: String?) -> [UInt8] {
        extended(Array(payload.utf8)) { $0.add("client_order_id", clientOrderID) }
    }

    /// A payload (a JSON object) with members added: a lock-step replay's `step`, an event's
    /// `client_order_id`.
    static func extended(_ payload: [UInt8], _ add: (inout JSONObjectWriter) -> Void) -> [UInt8] {
        guard case .object(let members)? = try? JSONValue.parse(payload) else { return payload }
        var w = JSONObjectWriter()
        for (name, value) in members { w.add(name, value: value) }
        add(&w)
        return w.bytes
    }

    static func bar(_ bar: Bar) -> JSONObjectWriter {
        var w = JSONObjectWriter()
        w.add("symbol", bar.symbol)
        w.add("exchange", bar.exchange)
        w.add("interval", bar.interval.rawValue)
        w.add("start", time: bar.start)
        w.add("open", bar.open)
        w.add("high", bar.high)
        w.add("low", bar.low)
        w.add("close", bar.close)
        w.add("volume", bar.volume)
        return w
    }

    /// The answer to an accepted hello. `lockStep`: a replay, where every event carrying a
    /// `step` waits for the process's `done` and nobody times out on silence.
    static func welcome(_ entry: StrategyServer.Entry, positions: [String: Int64], heartbeatIntervalMilliseconds: Int,
                        heartbeatTimeoutMilliseconds: Int, lockStep: Bool) -> [UInt8] {
        var w = JSONObjectWriter()
        w.add("strategy_id", entry.identity.strategyID)
        w.add("user_id", entry.identity.userID)
        w.add("name", entry.identity.name)
        w.add("instruments", strings: entry.config.instruments.map(\.text))
        w.add("intervals", strings: entry.config.intervals.map(\.rawValue).sorted())
        w.add("parameters", object: ExternalStrategyConfig.parametersObject(entry.parameters))
        var held: [JSONObjectWriter] = []
        for instrument in entry.config.instruments {
            var p = JSONObjectWriter()
            p.add("symbol", instrument.symbol)
            p.add("exchange", instrument.exchange)
            p.add("quantity", positions[StrategyServer.key(instrument.symbol, instrument.exchange)] ?? 0)
            held.append(p)
        }
        w.add("positions", objects: held)
        w.add("heartbeat_interval_ms", heartbeatIntervalMilliseconds)
        w.add("heartbeat_timeout_ms", heartbeatTimeoutMilliseconds)
        if lockStep { w.add("lockstep", true) }
        return w.bytes
    }

    static func position(symbol: String, exchange: String, quantity: Int64) -> [UInt8] {
        var w = JSONObjectWriter()
        w.add("symbol", symbol)
        w.add("exchange", exchange)
        w.add("quantity", quantity)
        return w.bytes
    }

    // MARK: - From processes

    /// A message from a process, read as the protocol says (two frames after the identity, at
    /// most the size limit, a JSON object, a known topic with its fields): its sender and the
    /// request or the problem to answer. The live socket and lock-step replay read alike.
    static func read(_ message: ZMQSocket.ReceivedMessage) -> (identity: [UInt8], request: Result<StrategyRequest, StrategyRequest.Problem>)? {
        let frames = message.frames
        guard let identity = frames.first else { return nil }
        guard !message.oversized, frames.count == 3 else {
            return (identity, .failure(StrategyRequest.Problem(message.oversized ? "message larger than \(StrategyServer.maxMessageBytes) bytes"
                                                                                 : "expected 2 frames (topic, JSON payload)")))
        }
        let topic = String(decoding: frames[1].prefix(64), as: UTF8.self)
        switch GatewayMessages.parseObject(frames[2]) {
        case .success(let body): return (identity, StrategyRequest.parse(topic: topic, body: body))
        case .failure(let problem): return (identity, .failure(StrategyRequest.Problem(problem.message)))
        }
    }

    func receive(_ message: ZMQSocket.ReceivedMessage, desk: OrderDesk?) {
        guard let (identity, parsed) = Self.read(message) else { return }
        let request: StrategyRequest
        switch parsed {
        case .success(let value): request = value
        case .failure(let problem):
            refuse(identity, problem.message, clientOrderID: problem.clientOrderID)
            return
        }
        let now = StrategyServer.now()
        if case .hello(let strategy, let token) = request {
            hello(identity, strategy: strategy, token: token, now: now)
            return
        }
        guard var session = sessions[identity], let entry = entries[session.strategyID] else {
            refuse(identity, "say hello first (with your strategy and its token)")
            return
        }
        session.lastHeard = now
        sessions[identity] = session
        switch request {
        case .hello, .heartbeat, .done:
            break  // `done` answers a lock-step replay's events; live, nothing waits for it
        case .log(let text):
            record(identity, .info, "strategy \(entry.identity.name): \(text)", clientOrderID: nil, now: now)
        case .order(let order):
            let key = StrategyServer.key(order.symbol, order.exchange)
            let last = session.lastTicks[key]
            if let why = StrategyScope.refusal(of: order, by: entry.identity, declared: entry.config,
                                               clientOrderIDUsed: session.clientOrders.keys.contains(order.clientOrderID),
                                               tickDelivered: last != nil) {
                refuse(identity, why, clientOrderID: order.clientOrderID)
                return
            }
            guard let last else { return }
            guard let desk else {
                refuse(identity, "the desk is not ready", clientOrderID: order.clientOrderID)
                return
            }
            if session.clientOrders.count >= Self.maxClientOrders, let oldest = session.clientOrders.keys.first {
                session.clientOrders[oldest] = nil
            }
            session.clientOrders[order.clientOrderID] = .some(nil)
            sessions[identity] = session
            if !desk.submit([order.intent(identity: entry.identity, lastTick: last)], now: SystemClock().now()) {
                sessions[identity]?.clientOrders[order.clientOrderID] = nil
                refuse(identity, "order not placed: order records cannot be made durable now (journal full and PostgreSQL away); send it again later",
                       clientOrderID: order.clientOrderID)
            }
        case .cancel(let client):
            guard let orderID = session.clientOrders[client] ?? nil, let desk else {
                refuse(identity, "unknown client_order_id \(client) (not this process's, or its order is not known yet)", clientOrderID: client)
                return
            }
            desk.cancel(orderID: orderID, reason: "cancelled by the strategy process", now: SystemClock().now())
        case .modify(let client, let quantity, let price, let trigger):
            guard let orderID = session.clientOrders[client] ?? nil, let desk else {
                refuse(identity, "unknown client_order_id \(client) (not this process's, or its order is not known yet)", clientOrderID: client)
                return
            }
            if let why = desk.modify(orderID: orderID, quantity: quantity, price: price, triggerPrice: trigger, now: SystemClock().now()) {
                refuse(identity, "modify refused: \(why)", clientOrderID: client)
            }
        }
    }

    private func hello(_ identity: [UInt8], strategy: String, token: String, now: UInt64) {
        let hashText = StrategyServer.tokenHash(token)
        let hash = Array(hashText.utf8)
        // By id, or by name: the token decides which of several users' same-named strategies.
        let candidates = entries.values.filter { $0.identity.strategyID == strategy.lowercased() || $0.identity.name == strategy }
        // Against the hash stored now: `strategy token` changes it without a reload, revoking the
        // old secret at once. Without the database, the hash read at the last reload stands in.
        var stored: [String: String] = [:]
        if let read = storedHashes(candidates.map(\.identity.strategyID), now: now) {
            stored = read
        } else {
            for c in candidates { stored[c.identity.strategyID] = c.tokenHash }
        }
        guard let entry = candidates.first(where: { ControlServer.constantTimeEqual(Array((stored[$0.identity.strategyID] ?? "").utf8), hash) }) else {
            refuse(identity, "unknown or stopped strategy, or a wrong token")
            server.logger.warning("strategy process refused: unknown or stopped strategy, or a wrong token",
                                  metadata: ["strategy": "\(PrintableText.make(strategy, maxCharacters: 100))"])
            return
        }
        let id = entry.identity.strategyID
        if let current = byStrategy[id], current != identity, let other = sessions[current],
           now &- other.lastHeard < UInt64(server.settings.heartbeatTimeoutMilliseconds) {
            var w = JSONObjectWriter()
            w.add("error", "strategy \(entry.identity.name) is connected from another process; retry once it has been silent for \(server.settings.heartbeatTimeoutMilliseconds) ms")
            w.add("retry", true)
            send(identity, "error", w.bytes)
            server.refusedRequests.add(1, ordering: .relaxed)
            return
        }
        if let current = byStrategy[id], current != identity { drop(current, why: "another process took its place") }
        // A socket that was another strategy's session says hello again: that session ends
        // first, so nothing of it (its ticks, its `is_running`) stays tied to this socket.
        if let mine = sessions[identity], mine.strategyID != id { drop(identity, why: "its process said hello as another strategy") }
        sessions[identity] = Session(identity: identity, strategyID: id, lastHeard: now, lastSent: now, tokenHash: hashText)
        byStrategy[id] = identity
        send(identity, "welcome", welcomeFor(entry))
        server.logger.notice("strategy process connected", metadata: ["strategy": "\(id)", "name": "\(entry.identity.name)"])
        reportConnected()
    }

    /// The welcome of a live session: the entry, the desk's filled positions, the heartbeat settings.
    private func welcomeFor(_ entry: StrategyServer.Entry) -> [UInt8] {
        Self.welcome(entry, positions: positions[entry.identity.strategyID] ?? [:],
                     heartbeatIntervalMilliseconds: server.settings.heartbeatIntervalMilliseconds,
                     heartbeatTimeoutMilliseconds: server.settings.heartbeatTimeoutMilliseconds, lockStep: false)
    }

    /// Ends the sessions whose strategy's secret was replaced or removed since their hello.
    private func checkTokens(now: UInt64) -> Bool {
        guard !sessions.isEmpty, now &- lastTokenCheck >= Self.tokenCheckMilliseconds else { return false }
        lastTokenCheck = now
        guard let stored = storedHashes(Array(Set(sessions.values.map(\.strategyID))), now: now) else { return false }
        var changed = false
        for (identity, session) in sessions where stored[session.strategyID] != session.tokenHash {
            send(identity, "stop", JSONObjectWriter.object { $0.add("reason", "the strategy's secret was replaced: connect with the new one") })
            drop(identity, why: "its strategy's secret was replaced")
            changed = true
        }
        return changed
    }

    func housekeeping(now: UInt64) {
        flushLogs()
        var changed = checkTokens(now: now)
        for (identity, session) in sessions {
            if now &- session.lastHeard > UInt64(server.settings.heartbeatTimeoutMilliseconds) {
                drop(identity, why: "silent for \(server.settings.heartbeatTimeoutMilliseconds) ms; its working orders stay as they are")
                changed = true
            } else if now &- session.lastSent >= UInt64(server.settings.heartbeatIntervalMilliseconds) {
                send(identity, "heartbeat", Array("{}".utf8))
            }
        }
        if changed { reportConnected() }
    }

    func stopAll(reason: String) {
        for identity in sessions.keys { send(identity, "stop", JSONObjectWriter.object { $0.add("reason", reason) }) }
    }

    // MARK: - Inside

    /// A `system_logs` row for a connected process, within its allowance; once a window is
    /// over, the rows left out in it are said in one row.
    private func record(_ identity: [UInt8], _ level: SystemLogEntry.Level, _ message: String, clientOrderID: String?, now: UInt64) {
        guard var session = sessions[identity], let entry = entries[session.strategyID] else { return }
        func data(_ extra: (inout JSONObjectWriter) -> Void = { _ in }) -> String {
            JSONObjectWriter.object {
                $0.add("strategy_id", entry.identity.strategyID)
                $0.add("user_id", entry.identity.userID)
                extra(&$0)
            }
        }
        if now &- session.logWindowStart >= Self.logWindowMilliseconds {
            if session.logRowsLeftOut > 0 {
                pendingLogs.append(SystemLogEntry(component: "strategy", level: .warning,
                                                  message: "strategy \(entry.identity.name): \(session.logRowsLeftOut) log lines and refusals left out (more than \(Self.logRowsPerWindow) in \(Self.logWindowMilliseconds / 1000) s)",
                                                  data: data { $0.add("left_out", session.logRowsLeftOut) }))
            }
            session.logWindowStart = now
            session.logRows = 0
            session.logRowsLeftOut = 0
        }
        if session.logRows < Self.logRowsPerWindow {
            session.logRows += 1
            pendingLogs.append(SystemLogEntry(component: "strategy", level: level, message: message,
                                              data: data { w in if let clientOrderID { w.add("client_order_id", clientOrderID) } }))
        } else {
            session.logRowsLeftOut += 1
        }
        sessions[identity] = session
    }

    private func flushLogs() {
        guard !pendingLogs.isEmpty else { return }
        let rows = pendingLogs
        pendingLogs.removeAll()
        do {
            try logs.insert(rows)
        } catch {
            // Not kept for a retry: the allowance bounds what one turn holds, and a database
            // away must not grow this without bound. The journal has each refusal already.
            server.logger.warning("strategy log lines not stored", metadata: ["rows": "\(rows.count)", "error": "\(error)"])
        }
    }

    private func drop(_ identity: [UInt8], why: String) {
        guard let session = sessions.removeValue(forKey: identity) else { return }
        if byStrategy[session.strategyID] == identity { byStrategy[session.strategyID] = nil }
        server.logger.notice("strategy process dropped", metadata: ["strategy": "\(session.strategyID)", "why": "\(why)"])
    }

    private func reportConnected() { server.connectedChanged(Set(byStrategy.keys)) }

    private func refuse(_ identity: [UInt8], _ message: String, clientOrderID: String? = nil) {
        server.refusedRequests.add(1, ordering: .relaxed)
        var w = JSONObjectWriter()
        w.add("error", message)
        if let clientOrderID { w.add("client_order_id", clientOrderID) }
        send(identity, "error", w.bytes)
        server.logger.warning("strategy request refused", metadata: ["reason": "\(message)"])
        record(identity, .warning, "strategy request refused: \(message)", clientOrderID: clientOrderID, now: StrategyServer.now())
    }

    @discardableResult
    private func send(_ identity: [UInt8], _ topic: String, _ payload: String) -> Bool { send(identity, topic, Array(payload.utf8)) }

    @discardableResult
    private func send(_ identity: [UInt8], _ topic: String, _ payload: [UInt8]) -> Bool {
        let sent = (try? socket.send([identity, Array(topic.utf8), payload], dontWait: true)) == true
        if sent { sessions[identity]?.lastSent = StrategyServer.now() }
        return sent
    }
}
