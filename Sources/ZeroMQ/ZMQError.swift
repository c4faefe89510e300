import CZeroMQ

/// A failed libzmq call: the operation that failed and the `errno` it left behind.
///
/// The description comes from `zmq_strerror`; it never includes message contents.
public struct ZMQError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The C function (and, where useful, its argument) that failed, e.g. `zmq_bind(tcp://...)`.
    public let operation: String
    /// The `errno` value libzmq reported.
    public let code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        "\(operation) failed: \(String(cString: zmq_strerror(code))) (errno \(code))"
    }

    /// `EAGAIN`: a non-blocking call found nothing to do, or a timeout expired.
    public var isWouldBlock: Bool { code == EAGAIN }
    /// `ETERM`: the context was terminated; the socket must be closed.
    public var isContextTerminated: Bool { code == ETERM }
    /// `EHOSTUNREACH`: a ROUTER with `ZMQ_ROUTER_MANDATORY` was given an unknown peer.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
}
