import CZeroMQ

/// The socket types the engine uses.
public enum ZMQSocketType: Sendable {
    case pub, sub, xpub, xsub, push, pull, router, dealer, pair, req, rep

    var raw: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }
}

/// Readiness a poll asks about or reports.
public struct ZMQEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = ZMQEvents(rawValue: Int16(ZMQ_POLLIN))
    public static let writable = ZMQEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// An owned libzmq socket.
///
/// libzmq sockets are not thread-safe, so this class is deliberately not `Sendable`: it is created,
/// used and dropped by one owner thread. Closing happens in `deinit` (or ``close()``), after
/// `ZMQ_LINGER` has been set, which defaults to 0 here instead of libzmq's -1 (that default makes
/// `zmq_ctx_term` hang forever on undeliverable messages).
public final class ZMQSocket {
    private var handle: UnsafeMutableRawPointer?
    /// Keeps the context alive for as long as the socket exists (`zmq_ctx_term` would block).
    public let context: ZMQContext
    public let type: ZMQSocketType
    /// One reusable message object for receiving; `zmq_msg_t` must never be copied by value, so
    /// it lives at a stable heap address for the socket's lifetime.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    public init(context: ZMQContext, type: ZMQSocketType, linger: Int32 = 0) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else {
            throw ZMQError(operation: "zmq_socket", code: zmq_errno())
        }
        self.handle = handle
        self.context = context
        self.type = type
        self.message = .allocate(capacity: 1)
        zmq_msg_init(message)
        try setOption(ZMQ_LINGER, linger, name: "ZMQ_LINGER")
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
        if let handle { zmq_close(handle) }
    }

    /// Closes the socket now; further calls throw `ENOTSOCK`.
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }

    private func live(_ operation: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(operation: operation, code: ENOTSOCK) }
        return handle
    }

    // MARK: - Endpoints

    /// `zmq_bind`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let h = try live("zmq_bind")
        _ = try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(h, endpoint) }
    }

    /// `zmq_connect`.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let h = try live("zmq_connect")
        _ = try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(h, endpoint) }
    }

    /// `zmq_unbind`.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let h = try live("zmq_unbind")
        _ = try zmqCall("zmq_unbind(\(endpoint))") { zmq_unbind(h, endpoint) }
    }

    /// `zmq_disconnect`.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let h = try live("zmq_disconnect")
        _ = try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(h, endpoint) }
    }

    /// The endpoint actually bound (`ZMQ_LAST_ENDPOINT`), e.g. after binding `tcp://127.0.0.1:*`.
    public func lastEndpoint() throws(ZMQError) -> String {
        let h = try live("zmq_getsockopt")
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        _ = try zmqCall("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
            zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size)
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Options

    private func setOption(_ option: Int32, _ value: Int32, name: String) throws(ZMQError) {
        let h = try live("zmq_setsockopt")
        var v = value
        _ = try zmqCall("zmq_setsockopt(\(name))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size) }
    }

    private func setOption64(_ option: Int32, _ value: Int64, name: String) throws(ZMQError) {
        let h = try live("zmq_setsockopt")
        var v = value
        _ = try zmqCall("zmq_setsockopt(\(name))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int64>.size) }
    }

    private func setOption(_ option: Int32, bytes: [UInt8], name: String) throws(ZMQError) {
        let h = try live("zmq_setsockopt")
        _ = try zmqCall("zmq_setsockopt(\(name))") {
            bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
        }
    }

    private func getInt32(_ option: Int32, name: String) throws(ZMQError) -> Int32 {
        let h = try live("zmq_getsockopt")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try zmqCall("zmq_getsockopt(\(name))") { zmq_getsockopt(h, option, &v, &size) }
        return v
    }

    /// `ZMQ_LINGER` in milliseconds: how long `close` may wait to deliver queued messages.
    public func setLinger(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_LINGER, milliseconds, name: "ZMQ_LINGER")
    }

    /// `ZMQ_SNDHWM`: queued outbound messages per peer before send blocks or drops (0 = unlimited).
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, messages, name: "ZMQ_SNDHWM")
    }

    /// `ZMQ_RCVHWM`: queued inbound messages before the peer is pushed back (0 = unlimited).
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, messages, name: "ZMQ_RCVHWM")
    }

    /// `ZMQ_MAXMSGSIZE`. Beware: on a SUB, one oversized message silently and permanently drops
    /// that publisher's connection (see docs/architecture.md); the engine leaves it unlimited
    /// and drops oversized payloads itself.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        try setOption64(ZMQ_MAXMSGSIZE, bytes, name: "ZMQ_MAXMSGSIZE")
    }

    /// `ZMQ_RCVTIMEO` in milliseconds (-1 blocks forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, milliseconds, name: "ZMQ_RCVTIMEO")
    }

    /// `ZMQ_SNDTIMEO` in milliseconds (-1 blocks forever).
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, milliseconds, name: "ZMQ_SNDTIMEO")
    }

    /// `ZMQ_RECONNECT_IVL` and `ZMQ_RECONNECT_IVL_MAX` in milliseconds.
    public func setReconnectInterval(milliseconds: Int32, max: Int32 = 0) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds, name: "ZMQ_RECONNECT_IVL")
        try setOption(ZMQ_RECONNECT_IVL_MAX, max, name: "ZMQ_RECONNECT_IVL_MAX")
    }

    /// ZMTP heartbeats (`ZMQ_HEARTBEAT_IVL`, `_TIMEOUT`, `_TTL`), all in milliseconds: a peer
    /// silent for `timeout` is disconnected (and, on a connecting socket, reconnected).
    public func setHeartbeat(interval: Int32, timeout: Int32, ttl: Int32) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, interval, name: "ZMQ_HEARTBEAT_IVL")
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeout, name: "ZMQ_HEARTBEAT_TIMEOUT")
        try setOption(ZMQ_HEARTBEAT_TTL, ttl, name: "ZMQ_HEARTBEAT_TTL")
    }

    /// TCP keepalive (`ZMQ_TCP_KEEPALIVE`, `_IDLE`, `_INTVL`, `_CNT`; seconds): the kernel finds a
    /// silently dead TCP peer, so the connection is dropped and re-established.
    public func setTCPKeepalive(idleSeconds: Int32, intervalSeconds: Int32, probes: Int32) throws(ZMQError) {
        try setOption(ZMQ_TCP_KEEPALIVE, 1, name: "ZMQ_TCP_KEEPALIVE")
        try setOption(ZMQ_TCP_KEEPALIVE_IDLE, idleSeconds, name: "ZMQ_TCP_KEEPALIVE_IDLE")
        try setOption(ZMQ_TCP_KEEPALIVE_INTVL, intervalSeconds, name: "ZMQ_TCP_KEEPALIVE_INTVL")
        try setOption(ZMQ_TCP_KEEPALIVE_CNT, probes, name: "ZMQ_TCP_KEEPALIVE_CNT")
    }

    /// `ZMQ_SUBSCRIBE` (SUB/XSUB): receive messages whose first frame starts with `prefix`.
    public func subscribe(_ prefix: String) throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, bytes: Array(prefix.utf8), name: "ZMQ_SUBSCRIBE")
    }

    /// `ZMQ_UNSUBSCRIBE`.
    public func unsubscribe(_ prefix: String) throws(ZMQError) {
        try setOption(ZMQ_UNSUBSCRIBE, bytes: Array(prefix.utf8), name: "ZMQ_UNSUBSCRIBE")
    }

    /// `ZMQ_ROUTING_ID` of this socket as its peers' ROUTER sees it.
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, bytes: id, name: "ZMQ_ROUTING_ID")
    }

    /// `ZMQ_ROUTER_MANDATORY`: sending to an unknown peer fails with `EHOSTUNREACH` instead of
    /// being dropped silently.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0), name: "ZMQ_ROUTER_MANDATORY")
    }

    /// `ZMQ_XPUB_VERBOSE`: pass every subscription message up, not only new ones.
    public func setXPubVerbose(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_XPUB_VERBOSE, Int32(on ? 1 : 0), name: "ZMQ_XPUB_VERBOSE")
    }

    /// `ZMQ_CURVE_SERVER` with this server's secret key (Z85). Clients must know its public key.
    /// A CURVE server admits any client unless a ZAP handler is installed.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, Int32(1), name: "ZMQ_CURVE_SERVER")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8), name: "ZMQ_CURVE_SECRETKEY")
    }

    /// `ZMQ_ZAP_DOMAIN`: the domain sent to the ZAP handler for this socket's connections.
    public func setZapDomain(_ domain: String) throws(ZMQError) {
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8), name: "ZMQ_ZAP_DOMAIN")
    }

    /// CURVE client keys (Z85): its own pair and the server's public key.
    public func setCurveClient(publicKey: String, secretKey: String, serverKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(publicKey.utf8), name: "ZMQ_CURVE_PUBLICKEY")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8), name: "ZMQ_CURVE_SECRETKEY")
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.utf8), name: "ZMQ_CURVE_SERVERKEY")
    }

    /// `ZMQ_EVENTS`: what the socket is ready for right now.
    public func events() throws(ZMQError) -> ZMQEvents {
        ZMQEvents(rawValue: Int16(truncatingIfNeeded: try getInt32(ZMQ_EVENTS, name: "ZMQ_EVENTS")))
    }

    // MARK: - Sending

    /// Sends one multipart message. Each frame is copied by libzmq (`zmq_send`).
    /// - Returns: `false` when `dontWait` is set and the message could not be queued (`EAGAIN`).
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        let h = try live("zmq_send")
        let base: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let flags = base | (index == frames.count - 1 ? 0 : ZMQ_SNDMORE)
            do {
                _ = try zmqCall("zmq_send") {
                    frame.withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
                }
            } catch let error where error.isWouldBlock && index == 0 {
                // Only the first frame can fail atomically: libzmq queues a multipart message
                // as a whole once its first part is accepted.
                return false
            }
        }
        return true
    }

    /// Sends a two-frame `topic` + `payload` message, the shape of every bus message.
    @discardableResult
    public func send(topic: String, payload: [UInt8], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try send([Array(topic.utf8), payload], dontWait: dontWait)
    }

    // MARK: - Receiving

    /// Receives one whole multipart message through `zmq_msg_recv` (never truncates).
    /// - Returns: `nil` when `dontWait` is set (or `ZMQ_RCVTIMEO` expired) and nothing was there.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        let got = try receive(dontWait: dontWait) { _, bytes in
            frames.append(Array(bytes))
        }
        return got ? frames : nil
    }

    /// A received message with the metadata libzmq attached to it.
    public struct ReceivedMessage: Sendable {
        public let frames: [[UInt8]]
        /// The peer's address (`Peer-Address`: its IP for TCP; `...:uid:gid:pid` over ipc on Linux).
        public let peerAddress: String?
        /// What the ZAP handler said the peer is (`User-Id`), or nil without authentication.
        public let userID: String?
        /// The message was larger than the budget: only its first frame (a ROUTER's routing id,
        /// so it can be answered) is kept, the rest was read and dropped without copying.
        public let oversized: Bool
    }

    /// Receives one whole multipart message with its `Peer-Address` and `User-Id` properties.
    /// `ZMQ_MAXMSGSIZE` bounds each frame only; `maxBytes` and `maxFrames` bound the message,
    /// so a peer cannot make the receiver hold a huge request made of many small frames.
    public func receiveMessage(dontWait: Bool = false, maxBytes: Int = .max, maxFrames: Int = .max) throws(ZMQError) -> ReceivedMessage? {
        let h = try live("zmq_msg_recv")
        let msg = message
        var frames: [[UInt8]] = []
        var peer: String?, user: String?
        var total = 0, count = 0, oversized = false
        while true {
            let flags: Int32 = count == 0 && dontWait ? ZMQ_DONTWAIT : 0
            do {
                _ = try zmqCall("zmq_msg_recv") { zmq_msg_recv(msg, h, flags) }
            } catch let error where error.isWouldBlock && count == 0 {
                return nil
            }
            // A ROUTER makes the routing-id frame itself, without the connection's metadata: the
            // properties come with the frames the peer sent, so take them from the first that has them.
            if peer == nil { peer = zmq_msg_gets(msg, "Peer-Address").map { String(cString: $0) } }
            if user == nil { user = zmq_msg_gets(msg, "User-Id").map { String(cString: $0) } }
            let size = zmq_msg_size(msg)
            total += size
            count += 1
            if !oversized && count > 1 && (total > maxBytes || count > maxFrames) {
                oversized = true
                frames.removeSubrange(1...)
            }
            if !oversized || count == 1 {
                frames.append(Array(UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: size)))
            }
            if zmq_msg_more(msg) == 0 { break }
        }
        return ReceivedMessage(frames: frames, peerAddress: peer, userID: user, oversized: oversized)
    }

    /// Receives one whole multipart message and hands each frame's bytes to `body` without copying;
    /// the buffer is valid only during the call.
    /// - Returns: `false` when nothing was received (non-blocking or timed out).
    public func receive(
        dontWait: Bool = false,
        _ body: (_ index: Int, _ bytes: UnsafeRawBufferPointer) throws(ZMQError) -> Void
    ) throws(ZMQError) -> Bool {
        let h = try live("zmq_msg_recv")
        let msg = message
        var index = 0
        while true {
            let flags: Int32 = (dontWait || index > 0) ? (index > 0 ? 0 : ZMQ_DONTWAIT) : 0
            do {
                _ = try zmqCall("zmq_msg_recv") { zmq_msg_recv(msg, h, flags) }
            } catch let error where error.isWouldBlock && index == 0 {
                return false
            }
            let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg))
            try body(index, bytes)
            index += 1
            if zmq_msg_more(msg) == 0 { return true }
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for this socket to become ready.
    public func poll(_ events: ZMQEvents = .readable, timeoutMilliseconds: Int) throws(ZMQError) -> ZMQEvents {
        var item = zmq_pollitem_t(socket: try live("zmq_poll"), fd: -1, events: events.rawValue, revents: 0)
        _ = try zmqCall("zmq_poll") { zmq_poll(&item, 1, timeoutMilliseconds) }
        return ZMQEvents(rawValue: item.revents)
    }

    /// Waits on several sockets at once; returns each one's readiness, in order.
    public static func poll(
        _ sockets: [(socket: ZMQSocket, events: ZMQEvents)],
        timeoutMilliseconds: Int
    ) throws(ZMQError) -> [ZMQEvents] {
        var items: [zmq_pollitem_t] = []
        items.reserveCapacity(sockets.count)
        for entry in sockets {
            items.append(zmq_pollitem_t(socket: try entry.socket.live("zmq_poll"), fd: -1, events: entry.events.rawValue, revents: 0))
        }
        let count = Int32(items.count)
        _ = try zmqCall("zmq_poll") { zmq_poll(&items, count, timeoutMilliseconds) }
        return items.map { ZMQEvents(rawValue: $0.revents) }
    }

    /// Waits on sockets and plain file descriptors (a pipe that wakes a socket's thread) at
    /// once; returns each socket's readiness in order, then each descriptor's.
    public static func poll(
        _ sockets: [(socket: ZMQSocket, events: ZMQEvents)],
        fileDescriptors: [Int32],
        timeoutMilliseconds: Int
    ) throws(ZMQError) -> (sockets: [ZMQEvents], fileDescriptors: [ZMQEvents]) {
        var items: [zmq_pollitem_t] = []
        items.reserveCapacity(sockets.count + fileDescriptors.count)
        for entry in sockets {
            items.append(zmq_pollitem_t(socket: try entry.socket.live("zmq_poll"), fd: -1, events: entry.events.rawValue, revents: 0))
        }
        for fd in fileDescriptors {
            items.append(zmq_pollitem_t(socket: nil, fd: fd, events: ZMQEvents.readable.rawValue, revents: 0))
        }
        let count = Int32(items.count)
        _ = try zmqCall("zmq_poll") { zmq_poll(&items, count, timeoutMilliseconds) }
        let all = items.map { ZMQEvents(rawValue: $0.revents) }
        return (Array(all.prefix(sockets.count)), Array(all.dropFirst(sockets.count)))
    }

    // MARK: - Monitoring

    /// Starts `zmq_socket_monitor` publishing this socket's events on `endpoint` (`inproc://...`),
    /// and returns a PAIR socket connected to it from which ``ZMQMonitorEvent/receive(from:)`` reads.
    public func monitor(endpoint: String, events: ZMQMonitorEvent.Kind = .all) throws(ZMQError) -> ZMQSocket {
        let h = try live("zmq_socket_monitor")
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(h, endpoint, events.rawValue) }
        let pair = try ZMQSocket(context: context, type: .pair)
        try pair.connect(endpoint)
        return pair
    }
}
