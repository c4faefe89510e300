public import Postgres
public import TradingCore

/// Loads imported history into `market_data` (`algotrader history import`; docs/schema.md,
/// "Migration 15"): one transaction per file, so a failure leaves the table as it was.
///
/// Idempotent. A bar is known by its natural key (symbol, exchange, interval, start): one
/// already stored is kept as it is. Ticks have no key of their own (two trades may share a
/// time, price and size), so a file's ticks are counted as a multiset of (symbol, exchange,
/// time, price, qty): a file is imported as far as it has more of one than `market_data`
/// already holds. Importing a file twice, or a file overlapping one imported before or ticks
/// the engine stored live, adds each tick once. Stored rows that the file also holds (live ones
/// included) are marked as imported (`adopted`), so retention keeps them with the rest of the
/// file.
public struct HistoryImportStore {
    let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    /// What an import did.
    public struct Outcome: Sendable, Equatable {
        /// Data rows of the file.
        public var read = 0
        /// New rows in `market_data`.
        public var imported = 0
        /// Rows already stored that the file also holds (now kept as imported).
        public var adopted = 0
        /// Its `history_imports` row, when it stored or adopted anything.
        public var importID: String?
    }

    /// Two rows of a bar file for one bar, with different values.
    public struct Conflict: Error, Sendable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Imports the rows `produce` hands to its `emit` (each with its line number), all of one
    /// layout (and, for bars, of `interval`), streamed into a staging table as they are read:
    /// memory stays flat however long the file. If `produce` throws, nothing is stored. Ticks
    /// keep their file order where they share a time (through their row ids).
    public func importRows(_ layout: HistoryCSVReader.Layout, interval: BarInterval?, file: String, sha256: String, actor: String?,
                           now: Timestamp, produce: (_ emit: (HistoryRow, Int) throws -> Void) throws -> Void) throws -> Outcome {
        var ids = UUIDv7Generator()
        return try db.transaction { conn in
            // One import at a time: two importing the same ticks at once would each count them
            // as absent (the multiset rule reads before it writes).
            try conn.query("SELECT pg_advisory_xact_lock(7414925466453737217)")
            _ = try conn.execute("""
                CREATE TEMPORARY TABLE history_load (line BIGINT, data_id UUID, symbol TEXT, exchange TEXT, "timestamp" TIMESTAMPTZ,
                                                     open NUMERIC, high NUMERIC, low NUMERIC, close NUMERIC, volume BIGINT, oi NUMERIC)
                ON COMMIT DROP
                """)
            var read = 0
            _ = try conn.copyIn(#"COPY history_load (line, data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi) FROM STDIN"#) { copy in
                try produce { row, line in
                    let id = ids.next(now: now)
                    try copy.write { out in
                        out += Array(String(line).utf8); out.append(9)
                        id.append(to: &out); out.append(9)
                        switch row {
                        case .tick(let t):
                            Self.encode(t.symbol, t.exchange, t.timestamp, [t.price, t.price, t.price, t.price], t.quantity, t.openInterest, &out)
                        case .bar(let b):
                            Self.encode(b.symbol, b.exchange, b.start, [b.open, b.high, b.low, b.close], b.volume, b.openInterest, &out)
                        }
                    }
                    read += 1
                }
            }
            guard read > 0 else { return Outcome() }
            let kind = layout == .ticks ? "ticks" : "bars"
            let intervalText = layout == .ticks ? "tick" : (interval ?? .oneMinute).rawValue
            if layout == .bars {
                // A file may repeat a bar only with the same values.
                let clash = try conn.query("""
                    SELECT b.line::text, a.line::text, b.exchange || ':' || b.symbol, b."timestamp"::text FROM history_load a JOIN history_load b
                      ON a.symbol = b.symbol AND a.exchange = b.exchange AND a."timestamp" = b."timestamp" AND a.line < b.line
                     AND (a.open, a.high, a.low, a.close, a.volume, a.oi) IS DISTINCT FROM (b.open, b.high, b.low, b.close, b.volume, b.oi)
                    ORDER BY b.line LIMIT 1
                    """).rows.first
                if let clash {
                    throw Conflict(line: Int(clash[0] ?? "") ?? 0,
                                   message: "a second \(intervalText) bar of \(clash[2] ?? "") at \(clash[3] ?? "") with other values than line \(clash[1] ?? "")")
                }
            }
            // Only the partitions the rows fall in: a day's for ticks, a month's for bars.
            try conn.query("""
                SELECT market_data_ensure_history_partitions(
                    CASE WHEN $1 THEN ARRAY(SELECT DISTINCT date_trunc('day', "timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM history_load) ELSE '{}' END,
                    CASE WHEN $1 THEN '{}' ELSE ARRAY(SELECT DISTINCT date_trunc('month', "timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM history_load) END)
                """, [layout == .ticks ? "true" : "false"])
            let range = try conn.query(#"SELECT min("timestamp")::text, max("timestamp")::text FROM history_load"#).rows[0]
            let first = range[0] ?? "", last = range[1] ?? ""
            guard let importID = try conn.query("""
                INSERT INTO history_imports (file_name, file_sha256, kind, "interval", instruments, first_time, last_time, rows_read,
                                             rows_imported, rows_adopted, imported_by)
                SELECT $1, $2, $3, $4, array_agg(DISTINCT exchange || ':' || symbol ORDER BY exchange || ':' || symbol),
                       $5::timestamptz, $6::timestamptz, $7::bigint, 0, 0, $8 FROM history_load
                RETURNING import_id::text
                """, [file, sha256, kind, intervalText, first, last, String(read), actor]).scalar else {
                throw PostgresError(code: .unexpectedResult, message: "no history_imports row was made")
            }
            let (imported, adopted) = layout == .ticks
                ? try mergeTicks(conn, importID: importID, first: first, last: last)
                : try mergeBars(conn, importID: importID, interval: intervalText, first: first, last: last)
            if imported == 0 && adopted == 0 {
                try conn.query("DELETE FROM history_imports WHERE import_id = $1::uuid", [importID])
                return Outcome(read: read)
            }
            try conn.query("UPDATE history_imports SET rows_imported = $2::bigint, rows_adopted = $3::bigint WHERE import_id = $1::uuid",
                           [importID, String(imported), String(adopted)])
            return Outcome(read: read, imported: imported, adopted: adopted, importID: importID)
        }
    }

    /// One staged row after its line and id: symbol, exchange, time, the four prices, volume, oi.
    private static func encode(_ symbol: String, _ exchange: String, _ time: Timestamp, _ prices: [FixedDecimal], _ volume: Int64,
                               _ oi: WideDecimal?, _ out: inout [UInt8]) {
        InstrumentStore.field(symbol, &out, tab: true)
        InstrumentStore.field(exchange, &out, tab: true)
        InstrumentStore.field(time.description, &out, tab: true)
        for price in prices { price.append(to: &out); out.append(9) }
        out += Array(String(volume).utf8); out.append(9)
        InstrumentStore.field(oi?.description, &out, tab: false)
        out.append(10)
    }

    /// Per key, the file's n-th copy of a tick is new only if fewer than n are stored; stored
    /// ticks the file holds are adopted.
    private func mergeTicks(_ conn: PostgresConnection, importID: String, first: String, last: String) throws -> (Int, Int) {
        let imported = try conn.query(#"""
            WITH f AS (
                SELECT l.*, row_number() OVER (PARTITION BY symbol, exchange, "timestamp", close, volume ORDER BY data_id) AS n
                FROM history_load l),
            e AS (
                SELECT m.symbol, m.exchange, m."timestamp", m.close, m.volume, count(*) AS c
                FROM market_data m
                WHERE m."interval" = 'tick' AND m."timestamp" BETWEEN $2::timestamptz AND $3::timestamptz
                  AND (m.symbol, m.exchange) IN (SELECT DISTINCT symbol, exchange FROM history_load)
                GROUP BY 1, 2, 3, 4, 5)
            INSERT INTO market_data (data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", import_id)
            SELECT f.data_id, f.symbol, f.exchange, f."timestamp", f.close, f.close, f.close, f.close, f.volume, f.oi, 'tick', $1::uuid
            FROM f LEFT JOIN e USING (symbol, exchange, "timestamp", close, volume)
            WHERE f.n > coalesce(e.c, 0)
            """#, [importID, first, last]).affectedRows
        let adopted = try conn.query(#"""
            UPDATE market_data m SET import_id = $1::uuid
            FROM (SELECT DISTINCT symbol, exchange, "timestamp", close, volume FROM history_load) k
            WHERE m."interval" = 'tick' AND m.import_id IS NULL AND m."timestamp" BETWEEN $2::timestamptz AND $3::timestamptz
              AND m.symbol = k.symbol AND m.exchange = k.exchange AND m."timestamp" = k."timestamp"
              AND m.close = k.close AND m.volume = k.volume
            """#, [importID, first, last]).affectedRows
        return (imported, adopted)
    }

    /// Stored bars the file also holds are kept as stored and adopted; the rest is new.
    private func mergeBars(_ conn: PostgresConnection, importID: String, interval: String, first: String, last: String) throws -> (Int, Int) {
        let adopted = try conn.query(#"""
            UPDATE market_data m SET import_id = $1::uuid FROM (SELECT DISTINCT symbol, exchange, "timestamp" FROM history_load) l
            WHERE m."interval" = $2 AND m.import_id IS NULL AND m.symbol = l.symbol AND m.exchange = l.exchange
              AND m."timestamp" = l."timestamp" AND m."timestamp" BETWEEN $3::timestamptz AND $4::timestamptz
            """#, [importID, interval, first, last]).affectedRows
        let layout = try conn.query("SELECT layout FROM market_data_layout").scalar
        // As BarStore: the native layout's unique index lives on the bar partition.
        let table = layout == "native" ? "market_data_bar" : "market_data"
        let conflict = layout == "native"
            ? #"ON CONFLICT (symbol, exchange, "interval", "timestamp")"#
            : #"ON CONFLICT (symbol, exchange, "interval", "timestamp") WHERE "interval" <> 'tick'"#
        let imported = try conn.query("""
            INSERT INTO \(table) (symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", import_id)
            SELECT DISTINCT ON (symbol, exchange, "timestamp") symbol, exchange, "timestamp", open, high, low, close, volume, oi, $2, $1::uuid
            FROM history_load ORDER BY symbol, exchange, "timestamp", line
            \(conflict) DO NOTHING
            """, [importID, interval]).affectedRows
        return (imported, adopted)
    }

    /// One row of `history_imports`, as `history list` prints it.
    public struct Entry: Sendable {
        public var importID: String, file: String, kind: String, interval: String, instruments: String
        public var first: String, last: String, read: Int, imported: Int, at: String
    }

    /// The imports, newest first.
    public func list() throws -> [Entry] {
        try db.query("""
            SELECT import_id::text, file_name, kind, "interval", array_to_string(instruments, ','), first_time::text, last_time::text,
                   rows_read, rows_imported, imported_at::text
            FROM history_imports ORDER BY imported_at DESC, import_id DESC
            """).rows.map { r in
            Entry(importID: r[0] ?? "", file: r[1] ?? "", kind: r[2] ?? "", interval: r[3] ?? "", instruments: r[4] ?? "",
                  first: r[5] ?? "", last: r[6] ?? "", read: Int(r[7] ?? "0") ?? 0, imported: Int(r[8] ?? "0") ?? 0, at: r[9] ?? "")
        }
    }
}
