import Glibc
public import TradingCore

/// Where the engine reads the time: the system clock in production, a fixed or stepped one in
/// tests. Domain code never reads a clock itself; it is given timestamps.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// `clock_gettime(CLOCK_REALTIME)`.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(secondsSinceEpoch: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec))
    }
}

/// Monotonic nanoseconds for measuring intervals (`CLOCK_MONOTONIC`).
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
