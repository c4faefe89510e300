/// Tracks `seq` per (`src`, `session`) stream: gaps are reported, repeats and regressions are
/// duplicates to drop, so a publisher may resend safely (CONTRACT.md section 1).
public struct SequenceTracker: Sendable {
    public struct StreamKey: Hashable, Sendable {
        public var source: String
        public var session: String
        public init(source: String, session: String) {
            self.source = source
            self.session = session
        }
    }

    public enum Verdict: Equatable, Sendable {
        /// First message of a stream, or exactly the next one.
        case inOrder
        /// Accepted, but `missing` sequence numbers (`from...to`) never arrived before it.
        case gap(from: Int64, to: Int64)
        /// At or below the last seen: drop it.
        case duplicate
    }

    private var last: [StreamKey: Int64] = [:]

    public init() {}

    /// Number of streams tracked.
    public var streamCount: Int { last.count }

    /// The last accepted `seq` of a stream, if any.
    public func lastSequence(source: String, session: String) -> Int64? {
        last[StreamKey(source: source, session: session)]
    }

    /// Seeds a stream's last `seq` (from the database after a restart).
    public mutating func restore(source: String, session: String, lastSequence: Int64) {
        last[StreamKey(source: source, session: session)] = lastSequence
    }

    /// Judges a message with `seq` in stream (`source`, `session`) and records it if accepted.
    public mutating func observe(source: String, session: String, sequence: Int64) -> Verdict {
        let key = StreamKey(source: source, session: session)
        guard let previous = last[key] else {
            last[key] = sequence
            return .inOrder
        }
        if sequence <= previous { return .duplicate }
        last[key] = sequence
        if sequence == previous + 1 { return .inOrder }
        return .gap(from: previous + 1, to: sequence - 1)
    }
}
