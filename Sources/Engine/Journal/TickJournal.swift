public import Storage
import TradingCore

/// Tick batches that could not reach PostgreSQL, in the ``SegmentJournal``, with the ids they
/// were given: a replay inserts only the rows not yet stored, so a batch is never stored twice
/// however often a replay is interrupted; a record that cannot be read back is quarantined and
/// passed over, never blocking the records behind it.
public final class TickJournal: Sendable {
    public let journal: SegmentJournal

    public init(journal: SegmentJournal) {
        self.journal = journal
    }

    /// The highest seq of each stream in a batch, kept with it so a restart that replays the
    /// journal also knows which resends to drop.
    public struct StreamSequence: Sendable, Equatable {
        public var source: String
        public var session: String
        public var last: Int64
    }

    static func streams(_ ticks: some Sequence<Tick>) -> [StreamSequence] {
        var best: [SequenceTracker.StreamKey: StreamSequence] = [:]
        for tick in ticks {
            guard let seq = tick.sequence, let source = tick.source else { continue }
            let key = SequenceTracker.StreamKey(source: source, session: tick.session ?? "")
            if seq > best[key]?.last ?? Int64.min { best[key] = StreamSequence(source: source, session: tick.session ?? "", last: seq) }
        }
        return Array(best.values)
    }

    /// Appends a batch (split over several records if one would exceed the journal's bound).
    public func append(_ batch: MarketDataWriter.PreparedBatch, streams: [StreamSequence] = []) throws(SegmentJournal.Failure) {
        let record = Self.encode(batch, streams: streams)
        if record.count > journal.maxRecordBytes, let (first, second) = batch.split() {
            // The streams' last seq goes with the last half only: a crash after the first half
            // must not make a restart drop resends of ticks that never became durable (a resend
            // stored twice is the lesser harm).
            try append(first, streams: [])
            try append(second, streams: streams)
            return
        }
        try journal.append(record)
    }

    /// Appends a batch as one record, or throws `.tooLarge` without writing (a spilled batch is
    /// small: a receiver's batch). A failed append leaves nothing of it behind.
    public func appendWhole(_ batch: MarketDataWriter.PreparedBatch) throws(SegmentJournal.Failure) {
        try journal.append(Self.encode(batch, streams: []))
    }

    static func encode(_ batch: MarketDataWriter.PreparedBatch, streams: [StreamSequence]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(batch.rowBytes.count + 64)
        func put(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        func putString(_ s: String) {
            let bytes = Array(s.utf8)
            put(UInt64(bytes.count))
            out += bytes
        }
        put(batch.firstID.high)
        put(batch.firstID.low)
        put(UInt64(bitPattern: batch.firstTimestamp.nanosecondsSinceEpoch))
        put(UInt64(bitPattern: batch.earliest.nanosecondsSinceEpoch))
        put(UInt64(bitPattern: batch.latest.nanosecondsSinceEpoch))
        put(UInt64(batch.count))
        put(UInt64(streams.count))
        for stream in streams {
            putString(stream.source)
            putString(stream.session)
            put(UInt64(bitPattern: stream.last))
        }
        out += batch.rowBytes
        return out
    }

    static func decode(_ payload: [UInt8]) -> (MarketDataWriter.PreparedBatch, [StreamSequence])? {
        var at = 0
        func get() -> UInt64? {
            guard at + 8 <= payload.count else { return nil }
            defer { at += 8 }
            return payload[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        func getString() -> String? {
            guard let n = get(), n <= UInt64(payload.count - at) else { return nil }
            defer { at += Int(n) }
            return String(decoding: payload[at..<at + Int(n)], as: UTF8.self)
        }
        guard let high = get(), let low = get(), let first = get(), let earliest = get(), let latest = get(), let count = get(),
              count <= UInt64(payload.count), let streamCount = get(), streamCount < 1_000_000 else { return nil }
        var streams: [StreamSequence] = []
        for _ in 0..<streamCount {
            guard let source = getString(), let session = getString(), let last = get() else { return nil }
            streams.append(StreamSequence(source: source, session: session, last: Int64(bitPattern: last)))
        }
        let batch = MarketDataWriter.PreparedBatch(
            firstID: UUIDBytes(high: high, low: low),
            firstTimestamp: Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: first)),
            count: Int(count),
            earliest: Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: earliest)),
            latest: Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: latest)),
            rows: Array(payload[at...]))
        return (batch, streams)
    }

    public var isEmpty: Bool { journal.isEmpty }

    /// What a replay did.
    public struct Replayed: Sendable, Equatable {
        /// Ticks in the records replayed (stored now, stored before, or quarantined).
        public var ticks = 0
        /// Rows the database refused for their content, and journal records that could not be
        /// read back, both quarantined.
        public var quarantinedTicks = 0
        public var unreadableRecords = 0
    }

    /// Writes journaled batches to PostgreSQL, oldest first, moving the checkpoint after each;
    /// stops at the first failure to reach the database (it went away again).
    public func replay(with writer: MarketDataWriter, limit: Int = .max,
                       onStreams: (([StreamSequence]) -> Void)? = nil) throws -> Replayed {
        var done = Replayed()
        while done.ticks < limit {
            let records = try journal.read(limit: 4)
            guard !records.isEmpty else { break }
            for record in records {
                if let problem = record.corruption ?? (Self.decode(record.payload) == nil ? "a tick record that does not decode" : nil) {
                    try writer.quarantine([QuarantineStore.Entry(kind: .tickJournal, key: "ticks:\(record.start.segment):\(record.start.offset)",
                                                                 reason: problem, record: record.payload)])
                    done.unreadableRecords += 1
                } else if let (batch, streams) = Self.decode(record.payload) {
                    let result = try writer.write(batch, afterUnknownOutcome: true)
                    done.quarantinedTicks += result.quarantined
                    done.ticks += batch.count
                    onStreams?(streams)
                }
                try journal.consume(through: record.next)
            }
        }
        return done
    }
}
