public import Postgres
public import TradingCore

/// Writes batches of ticks to `market_data` with one `COPY` each, on its own connection.
///
/// Exactly once: a COPY is one atomic statement, and every row carries a client-made id, so
/// when the connection breaks with the outcome unknown (or a batch comes back from the journal),
/// the batch goes through a staging table and only the ids not yet stored are inserted.
/// Not thread-safe; owned by the writer thread.
public final class MarketDataWriter {
    private let connectionString: String
    private var connection: PostgresConnection?
    private var ids: UUIDv7Generator
    private var buffer: [UInt8] = []
    /// UTC days (since the epoch) whose tick partitions are known to exist.
    private var partitionedDays = Set<Int64>()
    /// Whether this session's staging table exists (made on the first idempotent write).
    private var staged = false

    public init(connectionString: String, ids: UUIDv7Generator = UUIDv7Generator()) {
        self.connectionString = connectionString
        self.ids = ids
    }

    /// Connects if not connected.
    public func connect() throws(PostgresError) {
        if let connection, connection.isConnected { return }
        staged = false
        connection = try PostgresConnection(connectionString: connectionString)
    }

    public func close() {
        connection?.close()
        connection = nil
        staged = false
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

    /// What a write did: rows stored now, and rows the database refused for their content and
    /// that went to `quarantine` instead (never retried, never lost).
    public struct WriteResult: Sendable, Equatable {
        public var stored: Int
        public var quarantined: Int
        public init(stored: Int, quarantined: Int) {
            self.stored = stored
            self.quarantined = quarantined
        }
    }

    /// Writes a prepared batch. After a lost connection, call again with the same batch and
    /// `afterUnknownOutcome`: rows already stored are skipped one by one, so nothing is written
    /// twice. A batch refused for a row's content is split until that row is found; it goes to
    /// `quarantine` with the refusal and every other row is stored.
    /// - Parameter afterUnknownOutcome: an earlier attempt may have stored some of these rows
    ///   (its outcome is unknown, or it came from the journal).
    public func write(_ batch: PreparedBatch, afterUnknownOutcome: Bool) throws -> WriteResult {
        try connect()
        guard let connection else { return WriteResult(stored: 0, quarantined: 0) }
        try ensurePartitions(from: batch.earliest, to: batch.latest)
        var stored = 0
        do {
            // The whole batch in one piece first (the common case: no per-row work); split
            // into rows only when PostgreSQL refused it for its content.
            do {
                let whole = [batch.rows[...]]
                stored = afterUnknownOutcome ? try copyIdempotent(whole[...], connection) : try copy(whole[...], connection)
                return WriteResult(stored: stored, quarantined: 0)
            } catch let error as PostgresError where error.isContentRefusal {}
            let rows = batch.rowSlices()
            let quarantined = try PoisonIsolation.write(rows[...]) { part in
                stored += afterUnknownOutcome ? try copyIdempotent(part, connection) : try copy(part, connection)
            } quarantine: { row, error in
                let entry = QuarantineStore.Entry(kind: .tick, key: Self.rowID(row), refusal: error, record: Array(row))
                try QuarantineStore.insert([entry], on: connection)
            }
            return WriteResult(stored: stored, quarantined: quarantined)
        } catch let error as PostgresError where error.code == .connectionLost || !connection.isConnected {
            self.connection = nil
            throw error
        }
    }

    private func copy(_ rows: ArraySlice<ArraySlice<UInt8>>, _ connection: PostgresConnection) throws -> Int {
        try connection.copyIn(TickCopyEncoder.copyStatement) { copy in
            for row in rows { try copy.write(row) }
        }
    }

    /// COPY into a session's staging table, then insert what is not stored yet, in one
    /// transaction: per-row exactly once, however much of the batch an earlier attempt stored.
    private func copyIdempotent(_ rows: ArraySlice<ArraySlice<UInt8>>, _ connection: PostgresConnection) throws -> Int {
        if !staged {
            try connection.execute("CREATE TEMP TABLE IF NOT EXISTS tick_stage (LIKE market_data INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            staged = true
        }
        return try connection.transaction { conn in
            try conn.copyIn(TickCopyEncoder.stageCopyStatement) { copy in
                for row in rows { try copy.write(row) }
            }
            return try conn.query(TickCopyEncoder.insertStagedStatement).affectedRows
        }
    }

    /// A COPY row's first field: the tick's id.
    static func rowID(_ row: ArraySlice<UInt8>) -> String {
        String(decoding: row.prefix { $0 != UInt8(ascii: "\t") }, as: UTF8.self)
    }
}

extension MarketDataWriter {
    /// Quarantines entries on this writer's connection (journal records that cannot be read back).
    public func quarantine(_ entries: [QuarantineStore.Entry]) throws {
        try connect()
        guard let connection else { return }
        do {
            try QuarantineStore.insert(entries, on: connection)
        } catch let error as PostgresError where error.code == .connectionLost || !connection.isConnected {
            self.connection = nil
            throw error
        }
    }
}

extension MarketDataWriter.PreparedBatch {
    /// The batch as two halves with the same ids (a journal record must stay below its size
    /// bound); `nil` for a single row.
    public func split() -> (MarketDataWriter.PreparedBatch, MarketDataWriter.PreparedBatch)? {
        let rows = rowSlices()
        guard rows.count > 1 else { return nil }
        let middle = rows.count / 2
        func part(_ slice: ArraySlice<ArraySlice<UInt8>>) -> MarketDataWriter.PreparedBatch {
            let first = slice[slice.startIndex]
            let fields = first.split(separator: UInt8(ascii: "\t"), maxSplits: 4, omittingEmptySubsequences: false)
            let id = UUIDBytes(String(decoding: fields[0], as: UTF8.self)) ?? firstID
            let time = fields.count > 3 ? Timestamp.parseRFC3339(String(decoding: fields[3], as: UTF8.self)) ?? firstTimestamp : firstTimestamp
            return MarketDataWriter.PreparedBatch(firstID: id, firstTimestamp: time, count: slice.count, earliest: earliest, latest: latest,
                                                  rows: slice.flatMap { $0 })
        }
        return (part(rows[..<middle]), part(rows[middle...]))
    }

    /// The encoded rows, each with its newline. A raw newline only ends a row: the COPY text
    /// format escapes every newline inside a field.
    func rowSlices() -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        out.reserveCapacity(count)
        var start = rows.startIndex
        for i in rows.indices where rows[i] == UInt8(ascii: "\n") {
            out.append(rows[start...i])
            start = i + 1
        }
        if start < rows.endIndex { out.append(rows[start...]) }
        return out
    }
}
