/// Tracks `seq` per (`src`, `session`) stream: gaps are reported, repeats and regressions are
/// duplicates to drop, so a publisher may resend safely (CONTRACT.md section 1).
///
/// Bounded (docs/ingest.md, "Bounds"): a stream not heard from for `idleNanoseconds` is
/// forgotten, and at most `maxStreams` are kept; past that the least recently heard are forgotten
/// first. A resend is therefore recognised as a duplicate for at least the idle window after the
/// stream's last message, unless more than `maxStreams` other streams were active since. A
/// forgotten stream that speaks again starts afresh, as a new one.
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

    struct Stream: Sendable {
        var last: Int64
        /// Monotonic nanoseconds of the last message (or of the restore).
        var heard: UInt64
    }

    private var streams: [StreamKey: Stream] = [:]
    public let maxStreams: Int
    public let idleNanoseconds: UInt64
    /// Streams forgotten since start (idle or over the bound).
    public private(set) var evicted = 0

    public init(maxStreams: Int = 50_000, idleSeconds: Int = 86_400) {
        self.maxStreams = max(1, maxStreams)
        self.idleNanoseconds = UInt64(max(1, idleSeconds)) * 1_000_000_000
    }

    /// Number of streams tracked.
    public var streamCount: Int { streams.count }

    /// The last accepted `seq` of a stream, if any.
    public func lastSequence(source: String, session: String) -> Int64? {
        streams[StreamKey(source: source, session: session)]?.last
    }

    /// Seeds a stream's last `seq` (from the database after a restart).
    public mutating func restore(source: String, session: String, lastSequence: Int64, now: UInt64 = 0) {
        let key = StreamKey(source: source, session: session)
        if streams[key] == nil { makeRoom(now: now) }
        streams[key] = Stream(last: lastSequence, heard: now)
    }

    /// Judges a message with `seq` in stream (`source`, `session`) and records it if accepted.
    /// `now` is monotonic nanoseconds.
    public mutating func observe(source: String, session: String, sequence: Int64, now: UInt64 = 0) -> Verdict {
        let key = StreamKey(source: source, session: session)
        guard let previous = streams[key] else {
            makeRoom(now: now)
            streams[key] = Stream(last: sequence, heard: now)
            return .inOrder
        }
        if sequence <= previous.last {
            streams[key]?.heard = now
            return .duplicate
        }
        streams[key] = Stream(last: sequence, heard: now)
        if sequence == previous.last + 1 { return .inOrder }
        return .gap(from: previous.last + 1, to: sequence - 1)
    }

    /// Forgets streams idle for the window; returns them (their durable state goes too).
    @discardableResult
    public mutating func evictIdle(now: UInt64) -> [StreamKey] {
        guard now > idleNanoseconds else { return [] }
        let horizon = now - idleNanoseconds
        let idle = streams.filter { $0.value.heard < horizon }.map(\.key)
        for key in idle { streams[key] = nil }
        evicted += idle.count
        return idle
    }

    /// Before a new stream is added at the bound: the idle go first; if none is, the least
    /// recently heard 1% (at least one), so the sort is paid once per that many new streams.
    private mutating func makeRoom(now: UInt64) {
        guard streams.count >= maxStreams else { return }
        if !evictIdle(now: now).isEmpty && streams.count < maxStreams { return }
        let count = max(1, maxStreams / 100)
        let oldest = streams.sorted { $0.value.heard < $1.value.heard }.prefix(count).map(\.key)
        for key in oldest { streams[key] = nil }
        evicted += oldest.count
    }

    /// Whether the stream is tracked.
    public func contains(_ key: StreamKey) -> Bool { streams[key] != nil }
}
