import Synchronization

/// One disk allowance (`journal.max_bytes`) shared by the engine's journals, so a tick backlog
/// cannot fill the disk under the order journal: each ``SegmentJournal`` is given a ceiling on
/// this shared count (the tick journal's is lower, leaving a reserve that only order records
/// may use). What counts is bytes not yet consumed; bytes already consumed but still on disk
/// (at most part of one segment per journal) do not.
public final class JournalBudget: Sendable {
    public let maxBytes: Int64
    private let used = Atomic<Int64>(0)

    /// `maxBytes` defaults to unlimited.
    public init(maxBytes: Int64 = .max) {
        self.maxBytes = maxBytes
    }

    /// Bytes held by the journals sharing this budget.
    public var usedBytes: Int64 { used.load(ordering: .relaxed) }

    /// Takes `bytes` if that keeps the total within `ceiling` (and `maxBytes`).
    func reserve(_ bytes: Int64, ceiling: Int64) -> Bool {
        let limit = min(ceiling, maxBytes)
        var current = used.load(ordering: .relaxed)
        while true {
            // Subtracting, not adding: `limit` may be Int64.max.
            guard bytes <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Counts bytes that already exist (a journal reopened with a backlog), over the limit or not.
    func add(_ bytes: Int64) {
        used.add(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int64) {
        if bytes != 0 { used.subtract(bytes, ordering: .relaxed) }
    }
}
