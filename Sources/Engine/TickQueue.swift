import Dispatch
import Synchronization
public import TradingCore

/// The bounded hand-off between the receive threads and the writer thread.
///
/// Receivers push whole batches (one lock round-trip per batch, not per tick); the writer takes
/// up to a batch size at once. When full, `push` waits: backpressure flows back into libzmq's
/// receive queue instead of memory growing without bound. Counting semaphores carry the
/// wake-ups, so none is lost between checking the state and waiting.
public final class TickQueue: Sendable {
    private struct State {
        var batches: [[Tick]] = []
        var count = 0
        var closed = false
        /// Consumers blocked in `take`; `close` wakes every one of them.
        var waiting = 0
    }

    private let state = Mutex(State())
    private let itemsAvailable = DispatchSemaphore(value: 0)
    private let spaceAvailable = DispatchSemaphore(value: 0)
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Ticks waiting.
    public var count: Int { state.withLock { $0.count } }

    /// Adds a batch, waiting while the queue is full. Returns `false` if the queue was closed.
    @discardableResult
    public func push(_ batch: [Tick]) -> Bool {
        guard !batch.isEmpty else { return true }
        while true {
            let outcome: Bool? = state.withLock { s in
                if s.closed { return false }
                // An empty queue always takes a batch, however large, so nothing can deadlock.
                guard s.count == 0 || s.count + batch.count <= capacity else { return nil }
                s.batches.append(batch)
                s.count += batch.count
                return true
            }
            if let outcome {
                if outcome { itemsAvailable.signal() }
                return outcome
            }
            _ = spaceAvailable.wait(timeout: .now() + .milliseconds(50))
        }
    }

    /// Takes up to `max` ticks (whole batches; at least one batch if any is there), waiting up to
    /// `timeoutNanoseconds` for the first. Returns an empty array on timeout or when closed and drained.
    public func take(max: Int, timeoutNanoseconds: UInt64) -> [Tick] {
        let deadline = DispatchTime.now() + .nanoseconds(Int(min(timeoutNanoseconds, UInt64(Int.max))))
        while true {
            let (taken, finished): ([Tick], Bool) = state.withLock { s in
                guard !s.batches.isEmpty else {
                    if !s.closed { s.waiting += 1 }
                    return ([], s.closed)
                }
                var out: [Tick] = []
                var used = 0
                for batch in s.batches {
                    if !out.isEmpty && out.count + batch.count > max { break }
                    out.append(contentsOf: batch)
                    used += 1
                }
                s.batches.removeFirst(used)
                s.count -= out.count
                return (out, false)
            }
            if !taken.isEmpty {
                spaceAvailable.signal()
                return taken
            }
            if finished { return [] }
            let timedOut = itemsAvailable.wait(timeout: deadline) == .timedOut
            state.withLock { $0.waiting -= 1 }
            if timedOut { return [] }
        }
    }

    /// After `close`, pushes are refused and `take` returns what is left, then empty arrays.
    public func close() {
        let waiting = state.withLock { s -> Int in
            s.closed = true
            return s.waiting
        }
        // Every blocked consumer must see the close, not just one (with several writers, the
        // others would sleep out their whole flush interval).
        for _ in 0..<max(1, waiting) { itemsAvailable.signal() }
        spaceAvailable.signal()
    }

    public var isClosedAndEmpty: Bool { state.withLock { $0.closed && $0.batches.isEmpty } }
}
