import CZeroMQ

/// The one funnel through which every libzmq call that reports failure with `-1`/`errno` passes.
///
/// Like swift-nio's `System.swift`, it retries `EINTR` (a signal arriving during a blocking
/// call is not an error) and turns every other failure into a typed ``ZMQError``.
@inline(__always)
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(operation: operation(), code: code)
    }
}
