import Postgres

/// `feed_sequences` (migration 5): the last durable seq per publisher stream, so a restarted
/// engine still drops resends. Not thread-safe; one owner thread.
public final class FeedSequenceStore {
    private let connection: LazyConnection

    public init(connectionString: String) {
        connection = LazyConnection(connectionString: connectionString)
    }

    public func close() { connection.close() }

    private struct StreamKeyText: Hashable {
        var source: String
        var session: String
    }

    public struct Stream: Sendable, Equatable {
        public var source: String
        public var session: String
        public var last: Int64
        public init(source: String, session: String, last: Int64) {
            self.source = source
            self.session = session
            self.last = last
        }
    }

    /// Upserts streams' last seq (never lowering a stored one).
    public func save(_ streams: [Stream]) throws {
        guard !streams.isEmpty else { return }
        try connection.get().query("""
            INSERT INTO feed_sequences (src, session, last_seq, updated_at)
            SELECT s, n, q, now() FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(s, n, q)
            ON CONFLICT (src, session) DO UPDATE SET last_seq = greatest(feed_sequences.last_seq, EXCLUDED.last_seq), updated_at = now()
            """, [PostgresArrayLiteral.text(streams.map(\.source)), PostgresArrayLiteral.text(streams.map(\.session)),
                  PostgresArrayLiteral.text(streams.map { String($0.last) })])
    }

    /// Every saved stream, plus the streams of ticks stored since shortly before the last save
    /// (found by their time-ordered UUIDv7 ids, so the scan reads only recent rows): together the
    /// last durable seq of each stream, however the previous run ended.
    /// Only streams heard from within `idleSeconds`, the `limit` most recent: the ones the engine
    /// would still remember had it not restarted (docs/ingest.md, "Bounds").
    public func load(idleSeconds: Int = 86_400, limit: Int = 50_000) throws -> [Stream] {
        let db = try connection.get()
        var best: [StreamKeyText: Stream] = [:]
        func add(_ s: Stream) {
            let key = StreamKeyText(source: s.source, session: s.session)
            if s.last > best[key]?.last ?? Int64.min { best[key] = s }
        }
        for r in try db.query("""
            SELECT src, session, last_seq FROM feed_sequences WHERE updated_at > now() - make_interval(secs => $1::int)
            ORDER BY updated_at DESC LIMIT $2::int
            """, [String(idleSeconds), String(limit)]).rows {
            if let src = r[0], let session = r[1], let last = r[2].flatMap({ Int64($0) }) { add(Stream(source: src, session: session, last: last)) }
        }
        // Ticks written after the last save (or in the last 10 minutes if nothing was ever saved).
        let rows = try db.query(#"""
            WITH since AS (SELECT coalesce(max(updated_at), now() - interval '10 minutes') - interval '30 seconds' AS t FROM feed_sequences),
                 bound AS (SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7000-8000-000000000000')::uuid AS id
                           FROM (SELECT lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') AS h FROM since) x)
            SELECT tick_data->>'src', coalesce(tick_data->>'session', ''), max((tick_data->>'seq')::bigint)
            FROM market_data WHERE "interval" = 'tick' AND data_id >= (SELECT id FROM bound) AND tick_data ? 'seq' AND tick_data ? 'src'
            GROUP BY 1, 2 LIMIT $1::int
            """#, [String(limit)]).rows
        for r in rows {
            if let src = r[0], let session = r[1], let last = r[2].flatMap({ Int64($0) }) { add(Stream(source: src, session: session, last: last)) }
        }
        return Array(best.values)
    }
}
