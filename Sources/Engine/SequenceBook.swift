import Synchronization
public import TradingCore

/// The engine's one ``SequenceTracker``, shared by the receive threads: a stream may reach the
/// engine through more than one endpoint (redundant feeds), and a resend is a duplicate whichever
/// socket it arrives on.
public final class SequenceBook: Sendable {
    private let tracker = Mutex(SequenceTracker())

    public init() {}

    public func observe(source: String, session: String, sequence: Int64) -> SequenceTracker.Verdict {
        tracker.withLock { $0.observe(source: source, session: session, sequence: sequence) }
    }

    public func restore(source: String, session: String, lastSequence: Int64) {
        tracker.withLock { $0.restore(source: source, session: session, lastSequence: lastSequence) }
    }
}
