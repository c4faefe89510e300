import Dispatch
public import Synchronization
public import TradingCore

/// The bounded hand-off between the receive threads and the writer thread.
///
/// Receivers push whole batches (one lock round-trip per batch, not per tick); the writer takes
/// up to a batch size at once. The queue is bounded twice: by ticks (`capacity`) and by the
/// memory they hold (`maxBytes`, `ingest.max_memory`). When full, a batch goes to the overflow
/// (the journal) if one is set and takes it; otherwise `push` waits: the receive thread stops
/// reading its socket, and backpressure flows back to the publisher instead of memory growing
/// without bound (docs/operations.md, "Overload"). Counting semaphores carry the
/// wake-ups, so none is lost between checking the state and waiting.
public final class TickQueue: Sendable {
    private struct State {
        var batches: [[Tick]] = []
        var batchBytes: [Int] = []
        var count = 0
        var bytes = 0
        var closed = false
        /// Stopping: pushes no longer wait for room (see `admitWaitingPushes`).
        var admitAll = false
        /// Consumers blocked in `take`; `close` wakes every one of them.
        var waiting = 0
    }

    private let state = Mutex(State())
    private let itemsAvailable = DispatchSemaphore(value: 0)
    private let spaceAvailable = DispatchSemaphore(value: 0)
    public let capacity: Int
    public let maxBytes: Int
    /// Time pushes spent waiting for room (the engine not reading its sockets), and the monotonic
    /// time the last such wait ended: gaps in `seq` seen soon after are counted as overload.
    public let backpressureNanoseconds = Atomic<UInt64>(0)
    public let lastBackpressureEnd = Atomic<UInt64>(0)
    /// Pushes waiting for room right now.
    public let waitingPushes = Atomic<Int>(0)
    /// Where a batch goes instead of waiting when the queue is full (the journal: see
    /// ``TickWriterLoop/spill(_:)``); `true` if it took the batch. Set once, before intake.
    private let overflow = Mutex<(@Sendable ([Tick]) -> Bool)?>(nil)

    /// Sets where batches go past the bounds, before any push.
    public func setOverflow(_ handler: @escaping @Sendable ([Tick]) -> Bool) {
        overflow.withLock { $0 = handler }
    }

    public init(capacity: Int, maxBytes: Int = .max) {
        self.capacity = capacity
        self.maxBytes = maxBytes
    }

    /// Ticks waiting.
    public var count: Int { state.withLock { $0.count } }
    /// Estimated bytes the waiting ticks hold (``Tick/estimatedMemory``).
    public var bytes: Int { state.withLock { $0.bytes } }

    /// Adds a batch, waiting while the queue is full. Returns `false` if the queue was closed.
    @discardableResult
    public func push(_ batch: [Tick]) -> Bool {
        guard !batch.isEmpty else { return true }
        // What the batch holds in memory: its ticks with their strings, and the empty room its
        // buffer was made with (an array built with room for a thousand ticks pins all of it).
        var size = (batch.capacity - batch.count) * MemoryLayout<Tick>.stride
        for tick in batch { size += tick.estimatedMemory }
        var waitStarted: UInt64?
        defer {
            if let waitStarted {
                let end = monotonicNanoseconds()
                backpressureNanoseconds.add(end - waitStarted, ordering: .relaxed)
                lastBackpressureEnd.store(end, ordering: .relaxed)
                waitingPushes.subtract(1, ordering: .relaxed)
            }
        }
        while true {
            let outcome: Bool? = state.withLock { s in
                if s.closed { return false }
                // An empty queue always takes a batch, however large, so nothing can deadlock.
                guard s.count == 0 || s.admitAll || (s.count + batch.count <= capacity && s.bytes + size <= maxBytes) else { return nil }
                s.batches.append(batch)
                s.batchBytes.append(size)
                s.count += batch.count
                s.bytes += size
                return true
            }
            if let outcome {
                if outcome { itemsAvailable.signal() }
                return outcome
            }
            // Full: past memory the journal takes the batch, and the receiver reads on. Only
            // when it cannot (no journal, its budget or the disk full) does the push wait.
            if let spill = overflow.withLock({ $0 }), spill(batch) { return true }
            if waitStarted == nil {
                waitStarted = monotonicNanoseconds()
                waitingPushes.add(1, ordering: .relaxed)
            }
            _ = spaceAvailable.wait(timeout: .now() + .milliseconds(50))
        }
    }

    /// A `take` timeout that never runs out (a push or the close ends the wait).
    public static let forever = UInt64.max

    /// Takes up to `max` ticks (whole batches; at least one batch if any is there), waiting up to
    /// `timeoutNanoseconds` for the first. Returns an empty array on timeout or when closed and drained.
    public func take(max: Int, timeoutNanoseconds: UInt64) -> [Tick] {
        let deadline: DispatchTime = timeoutNanoseconds == Self.forever
            ? .distantFuture : DispatchTime.now() + .nanoseconds(Int(min(timeoutNanoseconds, UInt64(Int.max / 2))))
        while true {
            let (taken, finished): ([Tick], Bool) = state.withLock { s in
                guard !s.batches.isEmpty else {
                    if !s.closed { s.waiting += 1 }
                    return ([], s.closed)
                }
                var out: [Tick] = []
                var used = 0
                var freed = 0
                for (index, batch) in s.batches.enumerated() {
                    if !out.isEmpty && out.count + batch.count > max { break }
                    out.append(contentsOf: batch)
                    freed += s.batchBytes[index]
                    used += 1
                }
                s.batches.removeFirst(used)
                s.batchBytes.removeFirst(used)
                s.count -= out.count
                s.bytes -= freed
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

    /// At stop, before the receivers are joined: a push waiting for room (PostgreSQL away and the
    /// journal full) takes its batch in over the bound, so the receiver can leave and the
    /// writers' shutdown stores the batch or counts it abandoned. At most one batch per receiver
    /// goes over. Before, such a stop waited for the database for ever.
    public func admitWaitingPushes() {
        state.withLock { $0.admitAll = true }
        spaceAvailable.signal()
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
