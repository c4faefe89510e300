import CZeroMQ

/// One event from `zmq_socket_monitor`: a connection was made, dropped, retried, and so on.
public struct ZMQMonitorEvent: Sendable, Equatable {
    /// Event kinds as a mask (`ZMQ_EVENT_*`).
    public struct Kind: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let connected = Kind(rawValue: ZMQ_EVENT_CONNECTED)
        public static let connectDelayed = Kind(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
        public static let connectRetried = Kind(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
        public static let listening = Kind(rawValue: ZMQ_EVENT_LISTENING)
        public static let bindFailed = Kind(rawValue: ZMQ_EVENT_BIND_FAILED)
        public static let accepted = Kind(rawValue: ZMQ_EVENT_ACCEPTED)
        public static let acceptFailed = Kind(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
        public static let closed = Kind(rawValue: ZMQ_EVENT_CLOSED)
        public static let closeFailed = Kind(rawValue: ZMQ_EVENT_CLOSE_FAILED)
        public static let disconnected = Kind(rawValue: ZMQ_EVENT_DISCONNECTED)
        public static let monitorStopped = Kind(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
        public static let handshakeFailedNoDetail = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        public static let handshakeSucceeded = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        public static let handshakeFailedProtocol = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        public static let handshakeFailedAuth = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        public static let all = Kind(rawValue: ZMQ_EVENT_ALL)
    }

    public let kind: Kind
    /// The event's value: a file descriptor, an errno or a reconnect interval, by kind.
    public let value: UInt32
    /// The endpoint the event concerns.
    public let endpoint: String

    public init(kind: Kind, value: UInt32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// Parses the two frames libzmq 4.x sends: 6 bytes (u16 event, u32 value, host order), then the
    /// endpoint. Returns `nil` for a malformed event.
    public init?(frames: [[UInt8]]) {
        guard frames.count >= 2, frames[0].count >= 6 else { return nil }
        let head = frames[0]
        let event = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) }
        let value = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        self.init(kind: Kind(rawValue: Int32(event)), value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    /// Reads the next event from a monitor PAIR socket (see ``ZMQSocket/monitor(endpoint:events:)``).
    public static func receive(from monitor: ZMQSocket, dontWait: Bool = false) throws(ZMQError) -> ZMQMonitorEvent? {
        guard let frames = try monitor.receive(dontWait: dontWait) else { return nil }
        return ZMQMonitorEvent(frames: frames)
    }
}
