import Postgres

/// Reads published bus events back by `seq` (the replay endpoint): from `bus_events`, and from
/// `quarantine` for an event whose row the database refused, so every event a subscriber saw is
/// served from the database. One owner thread.
public final class BusEventStore {
    private let connection: LazyConnection

    public init(connectionString: String) {
        connection = LazyConnection(connectionString: connectionString)
    }

    public func close() { connection.close() }

    public struct Event: Sendable, Equatable {
        public var seq: Int64
        public var topic: String
        public var payload: [UInt8]
    }

    /// Up to `limit` events with `seq` in `from...to`, in `seq` order.
    public func events(from: Int64, to: Int64, limit: Int) throws -> [Event] {
        do {
            return try connection.get().query("""
                SELECT DISTINCT ON (seq) seq, topic, payload FROM (
                    SELECT seq, topic, encode(convert_to(payload, 'UTF8'), 'hex') AS payload, 0 AS source
                    FROM bus_events WHERE seq BETWEEN $1::bigint AND $2::bigint
                    UNION ALL
                    SELECT (details->>'seq')::bigint, details->>'topic', encode(record, 'hex'), 1
                    FROM quarantine WHERE kind = 'event' AND (details->>'seq')::bigint BETWEEN $1::bigint AND $2::bigint
                ) e ORDER BY seq, source LIMIT $3::int
                """, [String(from), String(to), String(limit)]).rows.compactMap { row in
                guard let seq = row[0].flatMap({ Int64($0) }), let topic = row[1] else { return nil }
                return Event(seq: seq, topic: topic, payload: QuarantineStore.unhex(row[2] ?? ""))
            }
        } catch {
            connection.close()
            throw error
        }
    }
}
