public import Synchronization
public import TradingCore

/// Counters of the ingest path, updated lock-free from the receive and writer threads.
public final class IngestCounters: Sendable {
    public let received = Atomic<Int>(0)
    public let accepted = Atomic<Int>(0)
    public let stored = Atomic<Int>(0)
    public let duplicates = Atomic<Int>(0)
    public let gaps = Atomic<Int>(0)
    public let missingSequenceNumbers = Atomic<Int>(0)
    public let writeFailures = Atomic<Int>(0)
    /// Ticks spilled to the local journal during a database outage, and replayed from it since.
    public let journaled = Atomic<Int>(0)
    /// Of those, ticks journaled with PostgreSQL up but slower than intake, memory at its share.
    public let spilled = Atomic<Int>(0)
    public let replayed = Atomic<Int>(0)
    /// Accepted ticks the database refused for their content: kept in `quarantine`, not stored.
    public let quarantined = Atomic<Int>(0)
    /// Tick journal records that could not be read back (their bytes quarantined).
    public let unreadableJournalRecords = Atomic<Int>(0)
    /// Sequence numbers missing in gaps first seen while or just after the engine stopped reading
    /// (overload: the publisher dropped them at its high-water mark). Part of `missingSequenceNumbers`.
    public let overloadMissing = Atomic<Int>(0)
    /// Bad messages are the exception, so a lock (rather than one atomic per reason) is cheap here.
    private let badByReason = Mutex<[TickRejection: Int]>([:])

    public init() {}

    public func countBad(_ reason: TickRejection) {
        badByReason.withLock { $0[reason, default: 0] += 1 }
    }

    public func bad(_ reason: TickRejection) -> Int { badByReason.withLock { $0[reason, default: 0] } }

    public var badTotal: Int { TickRejection.allCases.reduce(0) { $0 + bad($1) } }

    /// A point-in-time copy for logs and summaries.
    public struct Snapshot: Sendable, Equatable, CustomStringConvertible {
        public var received, accepted, stored, duplicates, gaps, missingSequenceNumbers, writeFailures: Int
        public var bad: [TickRejection: Int]
        public var quarantined = 0, overloadMissing = 0
        public var badTotal: Int { bad.values.reduce(0, +) }

        public var description: String {
            "received=\(received) accepted=\(accepted) stored=\(stored) bad=\(badTotal) duplicates=\(duplicates) gaps=\(gaps)"
                + " quarantined=\(quarantined) overload_missing=\(overloadMissing)"
        }

        /// The snapshot as a JSON object (for `system_logs.data`).
        public var json: String {
            var reasons = JSONObjectWriter()
            for (reason, count) in bad.filter({ $0.value > 0 }).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                reasons.add(reason.rawValue, count)
            }
            var w = JSONObjectWriter()
            w.add("received", received)
            w.add("accepted", accepted)
            w.add("stored", stored)
            w.add("bad", badTotal)
            w.add("bad_by_reason", object: reasons)
            w.add("duplicates", duplicates)
            w.add("gaps", gaps)
            w.add("missing_seq", missingSequenceNumbers)
            w.add("overload_missing_seq", overloadMissing)
            w.add("quarantined", quarantined)
            w.add("write_failures", writeFailures)
            return w.text
        }
    }

    public func snapshot() -> Snapshot {
        let byReason = badByReason.withLock { $0 }
        return Snapshot(
            received: received.load(ordering: .relaxed), accepted: accepted.load(ordering: .relaxed),
            stored: stored.load(ordering: .relaxed), duplicates: duplicates.load(ordering: .relaxed),
            gaps: gaps.load(ordering: .relaxed), missingSequenceNumbers: missingSequenceNumbers.load(ordering: .relaxed),
            writeFailures: writeFailures.load(ordering: .relaxed), bad: byReason,
            quarantined: quarantined.load(ordering: .relaxed), overloadMissing: overloadMissing.load(ordering: .relaxed)
        )
    }
}
