public import Postgres
public import TradingCore

/// Writes batches of ticks to `market_data` with one `COPY` each, on its own connection.
///
/// Exactly once: a COPY is one atomic statement, and every row carries a client-made id, so
/// when the connection breaks with the outcome unknown, the writer asks whether the batch's
/// first row is there before it sends the batch again.
/// Not thread-safe; owned by the writer thread.
public final class MarketDataWriter {
    private let connectionString: String
    private var connection: PostgresConnection?
    private var ids: UUIDv7Generator
    private var buffer: [UInt8] = []
    /// UTC days (since the epoch) whose tick partitions are known to exist.
    private var partitionedDays = Set<Int64>()

    public init(connectionString: String, ids: UUIDv7Generator = UUIDv7Generator()) {
        self.connectionString = connectionString
        self.ids = ids
    }

    /// Connects if not connected.
    public func connect() throws(PostgresError) {
        if let connection, connection.isConnected { return }
        connection = try PostgresConnection(connectionString: connectionString)
    }

    public func close() {
        connection?.close()
        connection = nil
    }

    /// Makes sure tick and bar partitions exist for every day in `from...to` (native layout;
    /// a no-op for TimescaleDB, which makes its own chunks).
    public func ensurePartitions(from: Timestamp, to: Timestamp) throws {
        try connect()
        guard let connection else { return }
        let firstDay = Self.day(of: from), lastDay = Self.day(of: to)
        var missing = false
        for day in firstDay...lastDay where !partitionedDays.contains(day) { missing = true; break }
        guard missing else { return }
        try connection.query(
            "SELECT market_data_ensure_partitions($1::timestamptz, $2::timestamptz)",
            [from.description, to.description]
        )
        for day in firstDay...lastDay { partitionedDays.insert(day) }
    }

    static func day(of time: Timestamp) -> Int64 {
        let (q, r) = time.nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: Timestamp.nanosecondsPerDay)
        return r < 0 ? q - 1 : q
    }

    /// A batch with its ids assigned, ready to be written (and, if need be, written again with the
    /// same ids).
    public struct PreparedBatch: Sendable {
        public let firstID: UUIDBytes
        public let firstTimestamp: Timestamp
        public let count: Int
        public let earliest: Timestamp
        public let latest: Timestamp
        let rows: [UInt8]
        /// The encoded COPY rows (for benchmarks comparing other tables with the same bytes).
        public var rowBytes: [UInt8] { rows }

        /// A batch read back from the local journal, ids as first assigned.
        public init(firstID: UUIDBytes, firstTimestamp: Timestamp, count: Int, earliest: Timestamp, latest: Timestamp, rows: [UInt8]) {
            self.firstID = firstID
            self.firstTimestamp = firstTimestamp
            self.count = count
            self.earliest = earliest
            self.latest = latest
            self.rows = rows
        }
    }

    /// Assigns ids and encodes the rows once.
    public func prepare(_ ticks: ArraySlice<Tick>, now: Timestamp) -> PreparedBatch? {
        guard let first = ticks.first else { return nil }
        buffer.removeAll(keepingCapacity: true)
        var firstID = UUIDBytes(high: 0, low: 0)
        var earliest = first.timestamp, latest = first.timestamp
        for (offset, tick) in ticks.enumerated() {
            let id = ids.next(now: now)
            if offset == 0 { firstID = id }
            if tick.timestamp < earliest { earliest = tick.timestamp }
            if tick.timestamp > latest { latest = tick.timestamp }
            TickCopyEncoder.append(tick, id: id, to: &buffer)
        }
        return PreparedBatch(firstID: firstID, firstTimestamp: first.timestamp, count: ticks.count,
                             earliest: earliest, latest: latest, rows: buffer)
    }

    /// Writes a prepared batch. After a lost connection, call again with the same batch: it is
    /// not written twice.
    /// - Parameter afterUnknownOutcome: the previous attempt's outcome is unknown.
    /// - Returns: rows stored now (0 when an earlier attempt had already stored the batch).
    public func write(_ batch: PreparedBatch, afterUnknownOutcome: Bool) throws -> Int {
        try connect()
        guard let connection else { return 0 }
        try ensurePartitions(from: batch.earliest, to: batch.latest)
        if afterUnknownOutcome {
            let present = try connection.query(
                #"SELECT EXISTS (SELECT 1 FROM market_data WHERE data_id = $1 AND "interval" = 'tick' AND "timestamp" = $2::timestamptz)"#,
                [batch.firstID.description, batch.firstTimestamp.description]
            ).scalar == "t"
            if present { return 0 }
        }
        do {
            return try connection.copyIn(TickCopyEncoder.copyStatement) { copy in
                try copy.write(batch.rows)
            }
        } catch let error as PostgresError where error.code == .connectionLost || !connection.isConnected {
            self.connection = nil
            throw error
        }
    }
}
