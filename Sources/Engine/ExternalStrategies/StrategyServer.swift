import Crypto
import Dispatch
import Foundation
public import Logging
import Storage
public import Synchronization
public import TradingCore
public import ZeroMQ

/// The strategy processes' endpoint (`strategies.bind`, a ROUTER; docs/protocol.md, "Strategy
/// processes"). A process of an `external` strategy connects a DEALER and says `hello` with the
/// strategy's id or name and its secret; once welcomed it receives the ticks and closed bars of
/// its declared instruments, its own order and fill events (with the `client_order_id` its
/// requests gave) and its position, and sends `order.new`, `order.modify`, `order.cancel` and
/// `log`. Its orders go to the desk as intents of that strategy, through exactly the checks and
/// records of built-in strategies' orders; a paper MARKET order fills at the last tick of the
/// instrument this endpoint delivered to the process. One process per strategy: a second hello is
/// refused (with `retry: true`) until the first has been silent for the heartbeat timeout.
///
/// One thread owns the socket; ticks, bars, events and the runnable set reach it through a locked
/// inbox and a wake pipe.
public final class StrategyServer: Sendable {
    public struct Settings: Sendable {
        public var endpoint: String
        public var heartbeatTimeoutMilliseconds: Int
        public init(endpoint: String, heartbeatTimeoutMilliseconds: Int = 5_000) {
            self.endpoint = endpoint
            self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
        }
        var heartbeatIntervalMilliseconds: Int { max(100, heartbeatTimeoutMilliseconds / 4) }
    }

    /// A runnable external strategy.
    public struct Entry: Sendable {
        public var identity: StrategyIdentity
        public var config: ExternalStrategyConfig
        public var parameters: StrategyParameters
        public var tokenHash: String?
        public init(identity: StrategyIdentity, config: ExternalStrategyConfig, parameters: StrategyParameters, tokenHash: String?) {
            self.identity = identity
            self.config = config
            self.parameters = parameters
            self.tokenHash = tokenHash
        }
    }

    enum Inbound: Sendable {
        case ticks([Tick])
        case bars([Bar])
        case events([(seq: Int64, event: BusEvent, payload: String)])
        case strategies([Entry], positions: [(strategyID: String, symbol: String, exchange: String, quantity: Int64)])
    }

    let settings: Settings
    private let context: ZMQContext
    let logger: Logger
    private let security: SocketSecurity?
    private let inbox = Mutex<[Inbound]>([])
    /// Instruments some running external strategy declared ("SYMBOL|EXCHANGE"): receivers hand
    /// on only ticks of these (most ticks concern no process).
    private let wanted = Mutex<Set<String>>([])
    private let desk = Mutex<OrderDesk?>(nil)
    private let service = ServiceThread()
    private let wake = WakePipe()
    /// Strategies with a process connected now.
    public let connected = Mutex<Set<String>>([])
    /// Told when the set of connected strategies changes (to mark `is_running`).
    private let onConnectedChanged: @Sendable (Set<String>) -> Void
    let connectionString: String
    /// Requests refused (malformed, out of scope, unauthenticated), and ticks a process was too
    /// slow to take (its queue full).
    public let refusedRequests = Atomic<Int>(0)
    public let droppedTicks = Atomic<Int>(0)

    /// Messages queued for one process at most before ticks to it are dropped (counted).
    static let sendHighWaterMark: Int32 = 100_000
    /// A message from a process is at most this (bytes; larger ones are dropped unread).
    static let maxMessageBytes = 64 << 10

    public init(settings: Settings, context: ZMQContext, connectionString: String, logger: Logger, security: SocketSecurity?,
                onConnectedChanged: @escaping @Sendable (Set<String>) -> Void = { _ in }) {
        self.settings = settings
        self.context = context
        self.logger = logger
        self.security = security
        self.onConnectedChanged = onConnectedChanged
        self.connectionString = connectionString
    }

    public func attach(_ desk: OrderDesk) { self.desk.withLock { $0 = desk } }

    /// The runnable external strategies and their filled positions (at start and each reload):
    /// a process of a strategy no longer in the set is told to stop.
    public func setStrategies(_ entries: [Entry], positions: [(strategyID: String, symbol: String, exchange: String, quantity: Int64)]) {
        wanted.withLock { set in
            set = Set(entries.flatMap { $0.config.instruments.map { Self.key($0.symbol, $0.exchange) } })
        }
        push(.strategies(entries, positions: positions))
    }

    /// Ticks as they are accepted (a receiver thread): only those of declared instruments go on.
    public func onTicks(_ ticks: [Tick]) {
        let mine = wanted.withLock { set -> [Tick] in
            set.isEmpty ? [] : ticks.filter { set.contains(Self.key($0.symbol, $0.exchange)) }
        }
        if !mine.isEmpty { push(.ticks(mine)) }
    }

    public func onClosedBars(_ bars: [Bar]) {
        let mine = wanted.withLock { set -> [Bar] in set.isEmpty ? [] : bars.filter { set.contains(Self.key($0.symbol, $0.exchange)) } }
        if !mine.isEmpty { push(.bars(mine)) }
    }

    /// Published events (durable): those of external strategies reach their processes.
    public func onPublished(_ events: [(seq: Int64, event: BusEvent, payload: String)]) {
        push(.events(events))
    }

    private func push(_ item: Inbound) {
        inbox.withLock { $0.append(item) }
        wake.signal()
    }

    static func key(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    /// A new secret (256 random bits, hex) and the hash stored for it.
    public static func issueToken() -> (token: String, hash: String) {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return (token, tokenHash(token))
    }

    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public func start() throws(ZMQError) {
        try service.start(name: "strategies") { [self] ready in run(ready) }
    }

    public func stop() {
        service.stopping()
        wake.signal()
        service.stop()
    }

    // MARK: - The thread

    private func run(_ ready: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router, linger: 1_000)
            try socket.setRouterMandatory(true)
            try socket.setMaxMessageSize(Int64(Self.maxMessageBytes))
            try socket.setSendHighWaterMark(Self.sendHighWaterMark)
            try security?.applyServer(to: socket, as: .strategies)
            try socket.bind(settings.endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        logger.info("strategy endpoint ready", metadata: ["endpoint": "\(settings.endpoint)"])
        let state = StrategySessions(server: self, socket: socket)
        var lastHousekeeping: UInt64 = 0
        while !service.isStopping {
            for item in inbox.withLock({ i -> [Inbound] in defer { i.removeAll() }; return i }) {
                state.handle(item, desk: desk.withLock { $0 })
            }
            let wait = Int(max(0, 100 - Int64(min(100, Self.now() &- lastHousekeeping))))
            let woke = try? ZMQSocket.poll([(socket, .readable)], fileDescriptors: [wake.readEnd], timeoutMilliseconds: wait)
            if woke?.fileDescriptors.first?.contains(.readable) == true { wake.drain() }
            if let readable = woke?.sockets.first, readable.contains(.readable) {
                while let message = try? socket.receiveMessage(dontWait: true, maxBytes: Self.maxMessageBytes + 256, maxFrames: 3) {
                    state.receive(message, desk: desk.withLock { $0 })
                }
            }
            let now = Self.now()
            if now &- lastHousekeeping >= 100 {
                lastHousekeeping = now
                state.housekeeping(now: now)
            }
        }
        state.stopAll(reason: "the engine is stopping")
        state.close()
        socket.close()
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }

    func connectedChanged(_ ids: Set<String>) {
        connected.withLock { $0 = ids }
        onConnectedChanged(ids)
    }
}
