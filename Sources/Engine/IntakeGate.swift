public import Synchronization

/// Whether the receive threads may read their sockets. Closed while something the engine must
/// make durable cannot be (the order journal full while PostgreSQL is away): then nothing more is
/// accepted, the publishers' own high-water marks take the overload, and the gaps it leaves in
/// `seq` are counted as overload when reading resumes (docs/operations.md, "Overload").
public final class IntakeGate: Sendable {
    public enum Reason: Int, Sendable, CaseIterable {
        /// Order records can reach neither PostgreSQL nor the journal. (Blocked tick storage
        /// needs no gate: the full queue stops the receivers by itself.)
        case eventStorageBlocked = 1
    }

    private let closedReasons = Atomic<Int>(0)
    /// Monotonic time the gate last opened after being closed.
    public let lastOpened = Atomic<UInt64>(0)

    public init() {}

    public var isOpen: Bool { closedReasons.load(ordering: .acquiring) == 0 }

    public func close(_ reason: Reason) {
        closedReasons.bitwiseOr(reason.rawValue, ordering: .acquiringAndReleasing)
    }

    public func open(_ reason: Reason) {
        let before = closedReasons.bitwiseAnd(~reason.rawValue, ordering: .acquiringAndReleasing).oldValue
        if before != 0 && before & ~reason.rawValue == 0 { lastOpened.store(monotonicNanoseconds(), ordering: .relaxed) }
    }

    public func isClosed(for reason: Reason) -> Bool { closedReasons.load(ordering: .relaxed) & reason.rawValue != 0 }
}
