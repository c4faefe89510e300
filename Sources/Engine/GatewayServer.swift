import Dispatch
import Foundation
public import Logging
public import Storage
public import Security
public import Synchronization
public import TradingCore
public import ZeroMQ

/// The broker-gateway endpoint (`gateway.bind`, a ROUTER; CONTRACT.md section 3, schemas in
/// docs/protocol.md). A gateway connects a DEALER and says `hello` with the `broker_id`s it
/// serves; the engine sends it `order.new`, `order.modify` and `order.cancel` requests for those
/// brokers' live orders and resends each, with the same `request_id` and `order_id`, until the
/// gateway `ack`s it; the gateway sends `report`s (accepted, rejected, fill with a unique
/// `exec_id`, cancelled, modified), which the engine applies once (a repeated report changes
/// nothing) and acknowledges with `report.ack` after what it changed is durable. Both sides send
/// `heartbeat`s; a gateway silent for `gateway.heartbeat_timeout_ms` loses its brokers, whose
/// strategies' orders are then rejected ("halted") until a gateway says `hello` for them again.
///
/// Authentication (docs/security.md): a live broker's orders go only to a gateway authenticated
/// for that broker — a CURVE key listed with it in `gateway.curve_keys_file`, or a connection over
/// an `ipc://` endpoint in a directory only the gateway's user can reach, for the brokers in
/// `gateway.ipc_brokers`. Any other gateway may connect and hear heartbeats, but its `hello` gets
/// no live broker, and a report or ack about an order of a broker it does not serve changes nothing.
///
/// One thread owns the socket. Requests reach it through a locked outbox; handing one over wakes
/// the thread through a pipe it polls beside the socket, so a live order goes out as soon as it
/// is durable, and an idle thread sleeps until the next heartbeat is due.
public final class GatewayServer: Sendable {
    public struct Settings: Sendable {
        public var endpoint: String
        public var heartbeatIntervalMilliseconds: Int
        public var heartbeatTimeoutMilliseconds: Int
        public var resendIntervalMilliseconds: Int
        /// Live brokers a gateway connected over an `ipc://` endpoint may serve (`*`: all).
        public var ipcBrokers: Set<String>

        public init(endpoint: String, heartbeatIntervalMilliseconds: Int = 1_000, heartbeatTimeoutMilliseconds: Int = 5_000,
                    resendIntervalMilliseconds: Int = 2_000, ipcBrokers: [String] = []) {
            self.endpoint = endpoint
            self.ipcBrokers = Set(ipcBrokers.map { $0 == "*" ? $0 : $0.lowercased() })
            self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
            self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
            self.resendIntervalMilliseconds = resendIntervalMilliseconds
        }
    }

    /// Messages the thread has not handled yet.
    private enum Outbound: Sendable {
        case records([DeskRecord])
        case liveBrokers([String: String], [String: SealedCredentials])
        /// The desk holds what reconciliations compare with (after the working orders' restore).
        case deskRestored
    }

    let settings: Settings
    private let context: ZMQContext
    let connectionString: String
    let logger: Logger
    private let outbox = Mutex<[Outbound]>([])
    let desk = Mutex<OrderDesk?>(nil)
    /// Malformed messages from gateways (logged, never fatal).
    public let badMessages = Atomic<Int>(0)
    /// Requests resent because no `ack` came in time.
    public let resends = Atomic<Int>(0)

    private let security: SocketSecurity?
    /// Opens live brokers' credentials for their gateways; nil when the engine has no key.
    let keyRing: CredentialKeyRing?
    private let service = ServiceThread()
    private let wake = WakePipe()

    public init(settings: Settings, context: ZMQContext, connectionString: String, logger: Logger, security: SocketSecurity? = nil,
                keyRing: CredentialKeyRing? = nil) {
        self.security = security
        self.keyRing = keyRing
        self.settings = settings
        self.context = context
        self.connectionString = connectionString
        self.logger = logger
    }

    /// The desk that receives reports and broker availability.
    public func attach(_ desk: OrderDesk) {
        self.desk.withLock { $0 = desk }
    }

    /// The live broker accounts (`broker_id` -> `api_type`) and their sealed credentials, at
    /// start and on SIGHUP.
    public func setLiveBrokers(_ brokers: [String: String], credentials: [String: SealedCredentials] = [:]) {
        if !brokers.isEmpty && security == nil && (!settings.endpoint.hasPrefix("ipc://") || settings.ipcBrokers.isEmpty) {
            logger.warning("""
                live brokers are configured but no gateway can authenticate for them: their orders are rejected until one does \
                (set gateway.curve_keys_file with CURVE, or an ipc:// gateway.bind with gateway.ipc_brokers; docs/security.md)
                """,
                           metadata: ["live_brokers": "\(brokers.count)", "endpoint": "\(settings.endpoint)"])
        }
        outbox.withLock { $0.append(.liveBrokers(brokers, credentials)) }
        wake.signal()
    }

    /// Gateway requests and report acknowledgements whose rows are committed.
    public func send(_ records: [DeskRecord]) {
        outbox.withLock { $0.append(.records(records)) }
        wake.signal()
    }

    /// Start restored the working orders and the live brokers' history: reconciliations begin.
    public func deskRestored() {
        outbox.withLock { $0.append(.deskRestored) }
        wake.signal()
    }

    public func start() throws(ZMQError) {
        try service.start(name: "gateway") { [self] ready in run(ready) }
    }

    public func stop() {
        service.stopping()
        wake.signal()
        service.stop()
    }

    // MARK: - The thread

    struct Peer {
        var identity: [UInt8]
        var gatewayID: String
        /// The brokers its authentication admits it to (`*`: every live broker).
        var authorized: Set<String>
        /// What it asked for in `hello`, and its api_type: a broker refused because it was not
        /// (yet) known as live is admitted when the live set is loaded or reloaded.
        var requested: [String] = []
        var apiType: String?
        var brokers: Set<String>
        var lastHeard: UInt64
        var lastSent: UInt64
        /// A market-data publisher: its granted brokers (credentials only; never routed).
        var isFeed = false
        var feedBrokers: Set<String> = []
        var instruments: [String] = []
    }

    struct Outstanding {
        var request: GatewayRequest
        var payload: String
        var lastSent: UInt64?
    }

    final class State {
        var peers: [[UInt8]: Peer] = [:]
        var routes: [String: [UInt8]] = [:]  // broker_id -> peer identity
        var liveBrokers: [String: String] = [:]
        /// Sealed: opened only into a `welcome` for a connection authenticated for the broker.
        var credentials: [String: SealedCredentials] = [:]
        var outstanding: [String: Outstanding] = [:]  // by request_id
        var order: [String] = []  // request ids, oldest first
        /// Brokers being reconciled with the gateway that said hello for them (docs/protocol.md).
        var reconciling: [String: PendingReconciliation] = [:]
        var deskRestored = false
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }

    private func run(_ ready: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router, linger: 1_000)
            try socket.setRouterMandatory(true)
            // A gateway message is at most 64 KiB (GatewayMessages); a larger one drops the
            // connection in libzmq before it is buffered or parsed.
            try socket.setMaxMessageSize(Int64(GatewayMessages.maxPayloadBytes))
            try security?.applyServer(to: socket, as: .gateway)
            try socket.bind(settings.endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        logger.info("gateway endpoint ready", metadata: ["endpoint": "\(settings.endpoint)"])
        let state = State()
        let logs = SystemLogStore(connectionString: connectionString)
        var lastHousekeeping: UInt64 = 0
        while !service.isStopping {
            for item in outbox.withLock({ o -> [Outbound] in defer { o.removeAll() }; return o }) {
                switch item {
                case .liveBrokers(let brokers, let credentials):
                    state.liveBrokers = brokers
                    // A broker whose credentials changed (a renewed session token) is welcomed again.
                    let renewed = Set(credentials.keys.filter { state.credentials[$0] != credentials[$0] })
                    state.credentials = credentials
                    // Gateways that said hello before the live set was loaded (or before a
                    // broker turned live) get their brokers now.
                    for identity in Array(state.peers.keys) { admit(identity, state, socket, renewed: renewed) }
                case .deskRestored:
                    state.deskRestored = true
                    startWaitingReconciliations(state, socket)
                case .records(let records):
                    for record in records { handleOutbound(record, state, socket) }
                }
            }
            // Sleep until a message, a hand-over (the pipe) or the next housekeeping is due.
            let untilHousekeeping = Int(50 - min(50, Self.now() &- lastHousekeeping))
            let woke = try? ZMQSocket.poll([(socket, .readable)], fileDescriptors: [wake.readEnd], timeoutMilliseconds: max(untilHousekeeping, 0))
            if woke?.fileDescriptors.first?.contains(.readable) == true { wake.drain() }
            if let ready = woke?.sockets.first, ready.contains(.readable) {
                // Identity, topic and payload: a message past that (or past 64 KiB plus the
                // topic) is dropped unread, however it is split into frames.
                while let message = try? socket.receiveMessage(dontWait: true, maxBytes: GatewayMessages.maxPayloadBytes + 256, maxFrames: 3) {
                    handleInbound(message, state, socket, logs)
                }
            }
            let now = Self.now()
            if now &- lastHousekeeping >= 50 {
                lastHousekeeping = now
                housekeeping(state, socket, logs, now: now)
            }
        }
        logs.close()
        socket.close()
    }

    func send(_ socket: ZMQSocket, to identity: [UInt8], _ topic: String, _ payload: String) -> Bool {
        (try? socket.send([identity, Array(topic.utf8), Array(payload.utf8)], dontWait: true)) == true
    }

    private func handleOutbound(_ record: DeskRecord, _ state: State, _ socket: ZMQSocket) {
        switch record {
        case .gatewayRequest(let request):
            let payload = request.json()
            state.outstanding[request.requestID] = Outstanding(request: request, payload: payload, lastSent: nil)
            state.order.append(request.requestID)
            transmit(request.requestID, state, socket)
        case .gatewayAck(let peer, let reportID, let status):
            var w = JSONObjectWriter()
            w.add("report_id", reportID)
            w.add("status", status)
            _ = send(socket, to: peer, "report.ack", w.text)
        case .reconciliation(let result, let peer):
            reconciled(result, peer: peer, state, socket)
        default:
            break
        }
    }

    /// Sends (or resends) a request to the gateway serving its broker, if one is connected.
    func transmit(_ requestID: String, _ state: State, _ socket: ZMQSocket) {
        // A broker's requests wait while it is reconciled with its gateway.
        guard var item = state.outstanding[requestID], let peer = state.routes[item.request.brokerID],
              state.reconciling[item.request.brokerID] == nil else { return }
        if item.lastSent != nil { resends.add(1, ordering: .relaxed) }
        if send(socket, to: peer, item.request.kind.rawValue, item.payload) {
            let now = Self.now()
            item.lastSent = now
            state.outstanding[requestID] = item
            state.peers[peer]?.lastSent = now
        }
    }

    private func handleInbound(_ message: ZMQSocket.ReceivedMessage, _ state: State, _ socket: ZMQSocket, _ logs: SystemLogStore) {
        let frames = message.frames
        guard !message.oversized else {
            bad("message larger than \(GatewayMessages.maxPayloadBytes) bytes or of more than 2 frames", frames.first ?? [], socket)
            return
        }
        guard frames.count == 3 else {
            bad("expected 2 frames (topic, JSON payload), got \(frames.count - 1)", frames.first ?? [], socket)
            return
        }
        let identity = frames[0]
        let topic = String(decoding: frames[1].prefix(64), as: UTF8.self)
        let body: JSONValue
        switch GatewayMessages.parseObject(frames[2]) {
        case .success(let value): body = value
        case .failure(let problem):
            bad("\(PrintableText.make(topic, maxCharacters: 64)): \(problem.message)", identity, socket)
            return
        }
        let now = Self.now()
        if topic == "hello" {
            // Who said it, as the transport vouches: the uid over ipc, the address over TCP, and
            // the CURVE key it authenticated with (recorded with the hello).
            let peer = ControlServer.ipcUser(message.peerAddress) ?? message.peerAddress ?? "unknown"
            hello(body, identity, authorized: authorization(message.userID), peer: (peer, message.userID), state, socket, logs, now: now)
            return
        }
        guard let peer = state.peers[identity] else {
            bad("say hello first (with broker_ids)", identity, socket)
            return
        }
        state.peers[identity]?.lastHeard = now
        if peer.isFeed && topic != "heartbeat" && topic != "session" {
            bad("a feed connection sends only heartbeats and session", identity, socket)
            return
        }
        switch topic {
        case "heartbeat":
            break
        case "reconcile":
            switch GatewayMessages.reconcilePart(body) {
            case .success(let part): reconcilePart(part, from: identity, state, socket, logs, now: now)
            case .failure(let problem): bad("reconcile: \(problem.message)", identity, socket)
            }
        case "session":
            switch GatewayMessages.session(body) {
            // A feed's stream uses the broker's session token too: its expiry is the broker's.
            case .success(let session) where peer.brokers.contains(session.brokerID) || peer.feedBrokers.contains(session.brokerID):
                brokerSession(session.brokerID, active: session.active, reason: session.reason, gatewayID: peer.gatewayID, logs)
                if session.active { reconcileNowAfterRenewal(session.brokerID, state, socket) }
            case .success(let session):
                bad("session for broker \(session.brokerID), which this gateway does not serve", identity, socket)
            case .failure(let problem):
                bad(problem.message, identity, socket)
            }
        case "ack":
            guard let requestID = body["request_id"]?.stringValue else { bad("ack needs request_id", identity, socket); return }
            // Only the gateway serving the request's broker may settle it.
            if let item = state.outstanding[requestID], peer.brokers.contains(item.request.brokerID) {
                state.outstanding[requestID] = nil
                state.order.removeAll { $0 == requestID }
            }
        case "funds":
            switch GatewayMessages.funds(body) {
            case .success(let funds) where peer.brokers.contains(funds.brokerID):
                desk.withLock { $0 }?.setFunds(brokerID: funds.brokerID, cash: funds.cash)
            case .success(let funds):
                bad("funds for broker \(funds.brokerID), which this gateway does not serve", identity, socket)
            case .failure(let problem):
                bad(problem.message, identity, socket)
            }
        case "report":
            // Not before the start has restored the desk: a fill applied then would be lost from
            // the day's nets the start reads from PostgreSQL and restores over the desk's (seen
            // under load: a reconciliation after a restart found the broker's position "not the
            // engine's"). The gateway resends an unacknowledged report; none is lost.
            // A malformed one is answered at once all the same (failed before: the stand-in
            // gateway's bad report after its welcome went unanswered).
            switch GatewayMessages.report(body, now: SystemClock().now()) {
            case .success(let report):
                guard state.deskRestored else { return }
                desk.withLock { $0 }?.onGatewayReport(report, peer: identity, servedBrokers: peer.brokers, logger: logger)
            case .failure(let problem):
                bad("report: \(problem.message)", identity, socket)
            }
        default:
            bad("unknown message type '\(PrintableText.make(topic, maxCharacters: 64))'", identity, socket)
        }
    }

    /// The live brokers a connection's authentication admits it to: those listed with its CURVE
    /// key, or over an `ipc://` endpoint `gateway.ipc_brokers`; nothing for a plain TCP peer.
    private func authorization(_ curveKey: String?) -> Set<String> {
        if let curveKey, let security { return security.gatewayBrokers[curveKey] ?? [] }
        if settings.endpoint.hasPrefix("ipc://") { return settings.ipcBrokers }
        return []
    }

    private func hello(_ body: JSONValue, _ identity: [UInt8], authorized: Set<String>, peer: (address: String, curveKey: String?),
                       _ state: State, _ socket: ZMQSocket,
                       _ logs: SystemLogStore, now: UInt64) {
        let hello: GatewayMessages.Hello
        switch GatewayMessages.hello(body) {
        case .success(let value): hello = value
        case .failure(let problem):
            bad(problem.message, identity, socket)
            return
        }
        // Peers are kept until silent for the heartbeat timeout: a flood of hellos from new
        // identities is refused past the bound instead of growing the table.
        // A full table first drops the stalest connection that serves no broker, so a flood of
        // hellos that were granted nothing cannot keep a real gateway out.
        if state.peers[identity] == nil && state.peers.count >= Self.maxPeers,
           let idle = state.peers.values.filter({ $0.brokers.isEmpty && $0.feedBrokers.isEmpty }).min(by: { $0.lastHeard < $1.lastHeard }) {
            state.peers[idle.identity] = nil
        }
        if state.peers[identity] == nil && state.peers.count >= Self.maxPeers {
            bad("too many gateways connected (\(Self.maxPeers))", identity, socket)
            return
        }
        let gatewayID = hello.gatewayID
        state.peers[identity] = Peer(identity: identity, gatewayID: gatewayID, authorized: authorized, requested: hello.brokerIDs,
                                     apiType: hello.apiType, brokers: [], lastHeard: now, lastSent: now, isFeed: hello.isFeed,
                                     instruments: hello.instruments)
        let (accepted, refused) = admit(identity, state, socket)
        logger.notice(hello.isFeed ? "feed connected" : "gateway connected",
                      metadata: ["gateway": "\(gatewayID)", "brokers": "\(accepted)", "refused": "\(refused)",
                                                      "authenticated_for": "\(authorized.count)", "peer": "\(peer.address)",
                                                      "curve_key": "\(peer.curveKey ?? "none")"])
        var data = JSONObjectWriter()
        data.add("gateway_id", gatewayID)
        data.add("broker_ids", strings: accepted)
        data.add("refused_broker_ids", strings: refused)
        data.add("peer", peer.address)
        if let key = peer.curveKey { data.add("curve_key", key) }
        try? logs.insert([SystemLogEntry(component: "gateway", level: .info,
                                         message: "\(hello.isFeed ? "feed" : "gateway") \(gatewayID) connected for \(accepted.count) live broker(s)",
                                         data: data.text)])
    }

    /// Gateways known at once, at most.
    static let maxPeers = 256
    /// Routes a peer's requested brokers that are live to it, answers `welcome`, tells the desk,
    /// and sends what waited for those brokers. Returns the accepted and refused broker ids.
    @discardableResult
    private func admit(_ identity: [UInt8], _ state: State, _ socket: ZMQSocket, renewed: Set<String> = []) -> (accepted: [String], refused: [String]) {
        guard let peer = state.peers[identity] else { return ([], []) }
        var accepted: [String] = [], refused: [String] = []
        for broker in peer.requested {
            let allowed = peer.authorized.contains("*") || peer.authorized.contains(broker.lowercased())
            if allowed, let type = state.liveBrokers[broker], peer.apiType == nil || peer.apiType == type { accepted.append(broker) } else { refused.append(broker) }
        }
        if peer.isFeed {
            admitFeed(peer, accepted: accepted, refused: refused, renewed: renewed, state, socket)
            return (accepted, refused)
        }
        let newlyAccepted = accepted.filter { !peer.brokers.contains($0) }
        // A broker this connection no longer asks for (a second hello with fewer) is no longer
        // routed to it: else its orders went there unanswered and it counted as connected forever.
        for (broker, routed) in state.routes where routed == identity && !accepted.contains(broker) { state.routes[broker] = nil }
        // A gateway that reconnects (a new DEALER) takes its brokers over from the old route.
        for broker in accepted {
            if let old = state.routes[broker], old != identity { state.peers[old]?.brokers.remove(broker) }
            state.routes[broker] = identity
        }
        state.peers[identity]?.brokers = Set(accepted)
        if peer.brokers.isEmpty || !newlyAccepted.isEmpty || accepted.contains(where: renewed.contains) {
            _ = send(socket, to: identity, "welcome", welcome(accepted: accepted, refused: refused, state).text)
        }
        // Each broker newly routed here is reconciled before its requests flow.
        beginReconciliations(newlyAccepted, with: identity, state, socket)
        desk.withLock { $0 }?.setConnectedBrokers(Set(state.routes.keys))
        return (accepted, refused)
    }

    private func housekeeping(_ state: State, _ socket: ZMQSocket, _ logs: SystemLogStore, now: UInt64) {
        let interval = UInt64(settings.heartbeatIntervalMilliseconds), timeout = UInt64(settings.heartbeatTimeoutMilliseconds)
        var lost: [Peer] = []
        for (identity, peer) in state.peers {
            if now &- peer.lastHeard > timeout {
                lost.append(peer)
                state.peers[identity] = nil
                for broker in peer.brokers where state.routes[broker] == identity { state.routes[broker] = nil }
                state.reconciling = state.reconciling.filter { $0.value.identity != identity }
            } else if now &- peer.lastSent >= interval {
                if send(socket, to: identity, "heartbeat", "{}") { state.peers[identity]?.lastSent = now }
            }
        }
        if !lost.isEmpty {
            desk.withLock { $0 }?.setConnectedBrokers(Set(state.routes.keys))
            for peer in lost {
                logger.error("gateway silent: its brokers' strategies are halted until it returns",
                             metadata: ["gateway": "\(peer.gatewayID)", "brokers": "\(peer.brokers.sorted())", "silent_ms": "\(now &- peer.lastHeard)"])
                try? logs.insert([SystemLogEntry(
                    component: "gateway", level: .error,
                    message: "gateway \(peer.gatewayID) silent for over \(timeout) ms: orders for its \(peer.brokers.count) broker(s) halted until it returns",
                    data: Self.peerJSON(peer.gatewayID, brokers: peer.brokers.sorted()))])
            }
        }
        let resendAfter = UInt64(settings.resendIntervalMilliseconds)
        resendReconcileRequests(state, socket, now: now)
        for requestID in state.order {
            guard let item = state.outstanding[requestID] else { continue }
            if let sent = item.lastSent, now &- sent < resendAfter { continue }
            transmit(requestID, state, socket)
        }
    }

    func bad(_ problem: String, _ identity: [UInt8], _ socket: ZMQSocket) {
        let count = badMessages.add(1, ordering: .relaxed).newValue
        if count <= 10 || count % 1_000 == 0 {
            logger.warning("bad gateway message", metadata: ["problem": "\(problem)", "count": "\(count)"])
        }
        if !identity.isEmpty {
            var w = JSONObjectWriter()
            w.add("error", problem)
            _ = send(socket, to: identity, "error", w.text)
        }
    }

    static func peerJSON(_ gatewayID: String, brokers: [String]) -> String {
        var w = JSONObjectWriter()
        w.add("gateway_id", gatewayID)
        w.add("broker_ids", strings: brokers)
        return w.text
    }
}
