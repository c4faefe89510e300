import Foundation
public import Postgres
public import TradingCore

/// A round of the desk's records, prepared once for one transaction (docs/architecture.md): the
/// latest state of each order, position and strategy day, the append-only rows, and the events
/// with consecutive `seq` from `firstSeq`. The same round prepares the same way for a direct
/// commit and for a replay from the journal.
public struct OrderRound: Sendable {
    public let roundID: String
    public let firstSeq: Int64
    public let records: [DeskRecord]
    /// The round this one is a part of (itself when whole): parts' ids derive from it and from
    /// their absolute place in it, so a part split for the journal and split again for a poison
    /// record during replay gets the same id as the same records split on the direct path.
    public let rootID: String
    public let rootOffset: Int
    public let rootCount: Int
    /// Each event with its `seq` and payload, in `seq` order.
    public let published: [(seq: Int64, event: BusEvent, payload: String)]
    /// Each record's event `seq`, for the records that are events.
    let eventSeq: [Int: Int64]

    public init(records: [DeskRecord], firstSeq: Int64, roundID: String, root: (id: String, offset: Int, count: Int)? = nil) {
        self.roundID = roundID
        self.firstSeq = firstSeq
        self.records = records
        self.rootID = root?.id ?? roundID
        self.rootOffset = root?.offset ?? 0
        self.rootCount = root?.count ?? records.count
        var seq = firstSeq
        var published: [(Int64, BusEvent, String)] = []
        var eventSeq: [Int: Int64] = [:]
        for (index, record) in records.enumerated() {
            guard case .event(let event) = record else { continue }
            published.append((seq, event, event.json(seq: seq)))
            eventSeq[index] = seq
            seq += 1
        }
        self.published = published
        self.eventSeq = eventSeq
    }

    /// The records in `range` as a round of their own: their events keep their `seq`, and the
    /// part has an id derived from this round's, the same every time it is made.
    public func part(_ range: Range<Int>) -> OrderRound {
        if range == records.indices { return self }
        let before = records[..<range.lowerBound].reduce(Int64(0)) { if case .event = $1 { $0 + 1 } else { $0 } }
        let lower = rootOffset + range.lowerBound, upper = rootOffset + range.upperBound
        let id = lower == 0 && upper == rootCount ? rootID : UUIDBytes.derived(from: "\(rootID)/\(lower)-\(upper)").description
        return OrderRound(records: Array(records[range]), firstSeq: firstSeq + before, roundID: id, root: (rootID, lower, rootCount))
    }

    /// The last `seq` its events take, if it has any.
    public var lastSeq: Int64? { published.last?.seq }
}

/// Stores rounds of the desk's records in PostgreSQL: the only place their SQL lives. One owner
/// thread (the event writer's).
public final class OrderRoundStore {
    private let connection: LazyConnection

    public init(connectionString: String) {
        connection = LazyConnection(connectionString: connectionString)
    }

    public func close() { connection.close() }

    /// The next `seq` after everything in `bus_events` and the quarantine.
    public func nextSeq() throws -> Int64 {
        let text = try connection.get().query("""
            SELECT greatest((SELECT coalesce(max(seq), 0) FROM bus_events),
                            (SELECT coalesce(max((details->>'seq')::bigint), 0) FROM quarantine WHERE kind = 'event')) + 1
            """).scalar
        return text.flatMap { Int64($0) } ?? 1
    }

    /// Applies a round in one transaction. With `deduplicate`, a round whose id was applied
    /// before is skipped whole (replays from the journal, parts of split rounds).
    public func apply(_ round: OrderRound, deduplicate: Bool) throws {
        let db = try connection.get()
        do {
            try db.transaction { conn in try OrderRoundSQL.apply(round, deduplicate: deduplicate, conn) }
        } catch let error as PostgresError where !error.isContentRefusal {
            if !db.isConnected { connection.close() }
            throw error
        }
    }

    /// Quarantines record `index` of `round`, refused with `error`: an event with its payload
    /// (served by the replay endpoint by its seq), any other record as its JSON.
    public func quarantine(_ round: OrderRound, index: Int, error: PostgresError) throws {
        let record = round.records[index]
        var details = JSONObjectWriter()
        details.add("round_id", round.roundID)
        details.add("index", index)
        let entry: QuarantineStore.Entry
        if case .event(let event) = record, let seq = round.eventSeq[index] {
            details.add("seq", seq)
            details.add("topic", event.topic)
            details.add("trade_id", event.order.tradeID)
            let payload = round.published.first { $0.seq == seq }?.payload ?? event.json(seq: seq)
            entry = QuarantineStore.Entry(kind: .event, key: "\(round.roundID):\(index)", refusal: error, record: Array(payload.utf8), details: details)
        } else {
            let json = (try? JSONEncoder().encode(record)).map { Array($0) } ?? []
            entry = QuarantineStore.Entry(kind: .orderRecord, key: "\(round.roundID):\(index)", refusal: error, record: json, details: details)
        }
        try QuarantineStore.insert([entry], on: try connection.get())
    }

    /// Quarantines bytes that could not be read back from the order journal.
    public func quarantineJournalRecord(key: String, reason: String, bytes: [UInt8]) throws {
        try QuarantineStore.insert([QuarantineStore.Entry(kind: .eventJournal, key: key, reason: reason, record: bytes)],
                                   on: try connection.get())
    }
}
