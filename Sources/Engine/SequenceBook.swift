import Synchronization
public import TradingCore

/// The engine's one ``SequenceTracker``, shared by the receive threads: a stream may reach the
/// engine through more than one endpoint (redundant feeds), and a resend is a duplicate whichever
/// socket it arrives on. Bounded as the tracker is: a forgotten stream's durable state goes with it.
public final class SequenceBook: Sendable {
    private let tracker: Mutex<SequenceTracker>

    public init(maxStreams: Int = 50_000, idleSeconds: Int = 86_400) {
        tracker = Mutex(SequenceTracker(maxStreams: maxStreams, idleSeconds: idleSeconds))
    }

    public func observe(source: String, session: String, sequence: Int64) -> SequenceTracker.Verdict {
        let now = monotonicNanoseconds()
        return tracker.withLock { $0.observe(source: source, session: session, sequence: sequence, now: now) }
    }

    public func restore(source: String, session: String, lastSequence: Int64) {
        let now = monotonicNanoseconds()
        tracker.withLock { $0.restore(source: source, session: session, lastSequence: lastSequence, now: now) }
    }

    /// Streams tracked now, and forgotten since start (metrics).
    public var streamCount: Int { tracker.withLock { $0.streamCount } }
    public var evictedStreams: Int { tracker.withLock { $0.evicted } }

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

    /// Streams whose durable seq moved since the last call (to save), clearing the marks. A
    /// stream the tracker forgot leaves the durable map once it has been handed out here.
    public func takeDirty() -> [(source: String, session: String, last: Int64)] {
        let dirty = durable.withLock { d -> [(SequenceTracker.StreamKey, Int64)] in
            defer { d.dirty.removeAll() }
            return d.dirty.compactMap { key in d.last[key].map { (key, $0) } }
        }
        let forgotten = tracker.withLock { t in dirty.filter { !t.contains($0.0) }.map(\.0) }
        if !forgotten.isEmpty { durable.withLock { d in for key in forgotten where !d.dirty.contains(key) { d.last[key] = nil } } }
        return dirty.map { ($0.0.source, $0.0.session, $0.1) }
    }

    /// Puts streams back to be saved (a save failed).
    public func markDirty(_ streams: [(source: String, session: String, last: Int64)]) {
        durable.withLock { d in
            for s in streams {
                let key = SequenceTracker.StreamKey(source: s.source, session: s.session)
                if s.last > d.last[key] ?? Int64.min { d.last[key] = s.last }
                d.dirty.insert(key)
            }
        }
    }

    /// Forgets streams idle past the window, and the durable state of every stream the tracker
    /// no longer holds (idle, or pushed out at the bound) once it has been saved. Housekeeping
    /// calls it every few seconds.
    public func evictIdle() {
        let now = monotonicNanoseconds()
        tracker.withLock { _ = $0.evictIdle(now: now) }
        let candidates = durable.withLock { d in d.last.keys.filter { !d.dirty.contains($0) } }
        let forgotten = tracker.withLock { t in candidates.filter { !t.contains($0) } }
        guard !forgotten.isEmpty else { return }
        durable.withLock { d in for key in forgotten where !d.dirty.contains(key) { d.last[key] = nil } }
    }

    /// Seeds both the tracker and the durable state (at start).
    public func restoreDurable(source: String, session: String, lastSequence: Int64) {
        let key = SequenceTracker.StreamKey(source: source, session: session)
        let now = monotonicNanoseconds()
        tracker.withLock { t in
            if lastSequence > t.lastSequence(source: source, session: session) ?? Int64.min {
                t.restore(source: source, session: session, lastSequence: lastSequence, now: now)
            }
        }
        durable.withLock { d in if lastSequence > d.last[key] ?? Int64.min { d.last[key] = lastSequence } }
    }
}
