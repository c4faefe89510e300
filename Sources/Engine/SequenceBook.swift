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

    /// The last seq per stream among ticks that are durable (stored, or in the local journal),
    /// and which streams moved since they were last saved to `feed_sequences`.
    private let durable = Mutex<(last: [SequenceTracker.StreamKey: Int64], dirty: Set<SequenceTracker.StreamKey>)>(([:], []))

    /// Records the sequenced ticks of a batch that just became durable.
    public func markDurable(_ ticks: some Sequence<Tick>) {
        var best: [SequenceTracker.StreamKey: Int64] = [:]
        for tick in ticks {
            guard let seq = tick.sequence, let source = tick.source else { continue }
            let key = SequenceTracker.StreamKey(source: source, session: tick.session ?? "")
            if seq > best[key] ?? Int64.min { best[key] = seq }
        }
        guard !best.isEmpty else { return }
        durable.withLock { d in
            for (key, seq) in best where seq > d.last[key] ?? Int64.min {
                d.last[key] = seq
                d.dirty.insert(key)
            }
        }
    }

    /// Streams whose durable seq moved since the last call (to save), clearing the marks.
    public func takeDirty() -> [(source: String, session: String, last: Int64)] {
        durable.withLock { d in
            defer { d.dirty.removeAll() }
            return d.dirty.compactMap { key in d.last[key].map { (key.source, key.session, $0) } }
        }
    }

    /// Puts streams back to be saved (a save failed).
    public func markDirty(_ streams: [(source: String, session: String, last: Int64)]) {
        durable.withLock { d in for s in streams { d.dirty.insert(SequenceTracker.StreamKey(source: s.source, session: s.session)) } }
    }

    /// Seeds both the tracker and the durable state (at start).
    public func restoreDurable(source: String, session: String, lastSequence: Int64) {
        let key = SequenceTracker.StreamKey(source: source, session: session)
        tracker.withLock { t in
            if lastSequence > t.lastSequence(source: source, session: session) ?? Int64.min {
                t.restore(source: source, session: session, lastSequence: lastSequence)
            }
        }
        durable.withLock { d in if lastSequence > d.last[key] ?? Int64.min { d.last[key] = lastSequence } }
    }
}
