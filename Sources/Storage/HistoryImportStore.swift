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

    /// Imports ticks (in file order: ties in time keep it, through their row ids).
    public func importTicks(_ ticks: [Tick], file: String, sha256: String, actor: String?, now: Timestamp,
                            progress: (Int) -> Void) throws -> Outcome {
        guard let first = ticks.map(\.timestamp).min(), let last = ticks.map(\.timestamp).max() else { return Outcome() }
        var ids = UUIDv7Generator()
        return try db.transaction { conn in
            try ensurePartitions(conn, ticks: ticks.map(\.timestamp), bars: [])
            _ = try conn.execute("""
                CREATE TEMPORARY TABLE history_load (data_id UUID, symbol TEXT, exchange TEXT, "timestamp" TIMESTAMPTZ, price NUMERIC,
                                                     qty BIGINT, oi NUMERIC) ON COMMIT DROP
                """)
            _ = try conn.copyIn(#"COPY history_load (data_id, symbol, exchange, "timestamp", price, qty, oi) FROM STDIN"#) { copy in
                for (i, t) in ticks.enumerated() {
                    let id = ids.next(now: now)
                    try copy.write { out in
                        id.append(to: &out); out.append(9)
                        InstrumentStore.field(t.symbol, &out, tab: true)
                        InstrumentStore.field(t.exchange, &out, tab: true)
                        InstrumentStore.field(t.timestamp.description, &out, tab: true)
                        t.price.append(to: &out); out.append(9)
                        out += Array(String(t.quantity).utf8); out.append(9)
                        InstrumentStore.field(t.openInterest?.description, &out, tab: false)
                        out.append(10)
                    }
                    if i % 10_000 == 0 { progress(i / 2) }
                }
            }
            let importID = try record(conn, file: file, sha256: sha256, kind: "ticks", interval: "tick", read: ticks.count,
                                      first: first, last: last, actor: actor)
            progress(ticks.count / 2)
            // Per key, the file's n-th copy is new only if more than n - 1 copies are stored.
            let imported = try conn.query(#"""
                WITH f AS (
                    SELECT l.*, row_number() OVER (PARTITION BY symbol, exchange, "timestamp", price, qty ORDER BY data_id) AS n
                    FROM history_load l),
                e AS (
                    SELECT m.symbol, m.exchange, m."timestamp", m.close AS price, m.volume AS qty, count(*) AS c
                    FROM market_data m
                    WHERE m."interval" = 'tick' AND m."timestamp" BETWEEN $2::timestamptz AND $3::timestamptz
                      AND (m.symbol, m.exchange) IN (SELECT DISTINCT symbol, exchange FROM history_load)
                    GROUP BY 1, 2, 3, 4, 5)
                INSERT INTO market_data (data_id, symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", import_id)
                SELECT f.data_id, f.symbol, f.exchange, f."timestamp", f.price, f.price, f.price, f.price, f.qty, f.oi, 'tick', $1::uuid
                FROM f LEFT JOIN e USING (symbol, exchange, "timestamp", price, qty)
                WHERE f.n > coalesce(e.c, 0)
                """#, [importID, first.description, last.description]).affectedRows
            let adopted = try conn.query(#"""
                UPDATE market_data m SET import_id = $1::uuid
                FROM (SELECT DISTINCT symbol, exchange, "timestamp", price, qty FROM history_load) k
                WHERE m."interval" = 'tick' AND m.import_id IS NULL AND m."timestamp" BETWEEN $2::timestamptz AND $3::timestamptz
                  AND m.symbol = k.symbol AND m.exchange = k.exchange AND m."timestamp" = k."timestamp"
                  AND m.close = k.price AND m.volume = k.qty
                """#, [importID, first.description, last.description]).affectedRows
            return try finish(conn, importID: importID, read: ticks.count, imported: imported, adopted: adopted)
        }
    }

    /// Imports bars of one interval.
    public func importBars(_ bars: [Bar], interval: BarInterval, file: String, sha256: String, actor: String?,
                           progress: (Int) -> Void) throws -> Outcome {
        guard let first = bars.map(\.start).min(), let last = bars.map(\.start).max() else { return Outcome() }
        return try db.transaction { conn in
            try ensurePartitions(conn, ticks: [], bars: bars.map(\.start))
            _ = try conn.execute("""
                CREATE TEMPORARY TABLE history_load (symbol TEXT, exchange TEXT, "timestamp" TIMESTAMPTZ, open NUMERIC, high NUMERIC,
                                                     low NUMERIC, close NUMERIC, volume BIGINT, oi NUMERIC) ON COMMIT DROP
                """)
            _ = try conn.copyIn(#"COPY history_load (symbol, exchange, "timestamp", open, high, low, close, volume, oi) FROM STDIN"#) { copy in
                for (i, b) in bars.enumerated() {
                    try copy.write { out in
                        InstrumentStore.field(b.symbol, &out, tab: true)
                        InstrumentStore.field(b.exchange, &out, tab: true)
                        InstrumentStore.field(b.start.description, &out, tab: true)
                        for price in [b.open, b.high, b.low, b.close] { price.append(to: &out); out.append(9) }
                        out += Array(String(b.volume).utf8); out.append(9)
                        InstrumentStore.field(b.openInterest?.description, &out, tab: false)
                        out.append(10)
                    }
                    if i % 10_000 == 0 { progress(i / 2) }
                }
            }
            let importID = try record(conn, file: file, sha256: sha256, kind: "bars", interval: interval.rawValue, read: bars.count,
                                      first: first, last: last, actor: actor)
            progress(bars.count / 2)
            let layout = try conn.query("SELECT layout FROM market_data_layout").scalar
            // As BarStore: the native layout's unique index lives on the bar partition.
            let table = layout == "native" ? "market_data_bar" : "market_data"
            let conflict = layout == "native"
                ? #"ON CONFLICT (symbol, exchange, "interval", "timestamp")"#
                : #"ON CONFLICT (symbol, exchange, "interval", "timestamp") WHERE "interval" <> 'tick'"#
            // Stored bars the file also holds are kept as stored and marked imported; the rest is new.
            let adopted = try conn.query(#"""
                UPDATE market_data m SET import_id = $1::uuid FROM history_load l
                WHERE m."interval" = $2 AND m.import_id IS NULL AND m.symbol = l.symbol AND m.exchange = l.exchange
                  AND m."timestamp" = l."timestamp" AND m."timestamp" BETWEEN $3::timestamptz AND $4::timestamptz
                """#, [importID, interval.rawValue, first.description, last.description]).affectedRows
            let imported = try conn.query("""
                INSERT INTO \(table) (symbol, exchange, "timestamp", open, high, low, close, volume, oi, "interval", import_id)
                SELECT symbol, exchange, "timestamp", open, high, low, close, volume, oi, $2, $1::uuid FROM history_load
                \(conflict) DO NOTHING
                """, [importID, interval.rawValue]).affectedRows
            return try finish(conn, importID: importID, read: bars.count, imported: imported, adopted: adopted)
        }
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

    private func ensurePartitions(_ conn: PostgresConnection, ticks: [Timestamp], bars: [Timestamp]) throws {
        // One time per day or month is enough for the function; it dedupes again.
        func distinct(_ times: [Timestamp], every unit: Int64) -> [String?] {
            var seen = Set<Int64>()
            return times.filter { seen.insert(floorDiv($0.nanosecondsSinceEpoch, unit)).inserted }.map { $0.description }
        }
        try conn.query("SELECT market_data_ensure_history_partitions($1::timestamptz[], $2::timestamptz[])",
                       [PostgresArrayLiteral.text(distinct(ticks, every: Timestamp.nanosecondsPerDay)),
                        PostgresArrayLiteral.text(distinct(bars, every: Timestamp.nanosecondsPerDay))])
    }

    private func record(_ conn: PostgresConnection, file: String, sha256: String, kind: String, interval: String, read: Int,
                        first: Timestamp, last: Timestamp, actor: String?) throws -> String {
        guard let id = try conn.query("""
            INSERT INTO history_imports (file_name, file_sha256, kind, "interval", instruments, first_time, last_time, rows_read,
                                         rows_imported, rows_adopted, imported_by)
            SELECT $1, $2, $3, $4, array_agg(DISTINCT exchange || ':' || symbol ORDER BY exchange || ':' || symbol),
                   $5::timestamptz, $6::timestamptz, $7::bigint, 0, 0, $8 FROM history_load
            RETURNING import_id::text
            """, [file, sha256, kind, interval, first.description, last.description, String(read), actor]).scalar else {
            throw PostgresError(code: .unexpectedResult, message: "no history_imports row was made")
        }
        return id
    }

    /// Completes the import's record, or drops it when the file added nothing.
    private func finish(_ conn: PostgresConnection, importID: String, read: Int, imported: Int, adopted: Int) throws -> Outcome {
        if imported == 0 && adopted == 0 {
            try conn.query("DELETE FROM history_imports WHERE import_id = $1::uuid", [importID])
            return Outcome(read: read)
        }
        try conn.query("UPDATE history_imports SET rows_imported = $2::bigint, rows_adopted = $3::bigint WHERE import_id = $1::uuid",
                       [importID, String(imported), String(adopted)])
        return Outcome(read: read, imported: imported, adopted: adopted, importID: importID)
    }
}

/// Floor division, as the core's bar grid does it.
private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let (q, r) = a.quotientAndRemainder(dividingBy: b)
    return r < 0 ? q - 1 : q
}
