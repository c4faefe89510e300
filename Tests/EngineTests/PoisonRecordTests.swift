import Foundation
import Logging
import Postgres
@testable import Engine
import Storage
import TestSupport
import Testing
@testable import TradingCore
import Synchronization
import ZeroMQ

/// Records the database refuses for their content never block the ones around them: a gateway
/// reason with a NUL byte, an order record a column refuses, a journaled round or a journal
/// record that cannot be applied or read (issue 14, failure 4).
@Suite("Poison order records: quarantined, never wedging", .serialized)
struct PoisonRecordTests {
    @Test func aGatewayReasonWithANulByteIsStoredVisiblyAndEveryLaterOrderFlows() throws {
        // Before: the rejected report's reason made every later order round fail (22P05), the
        // report was acknowledged "applied" anyway, and the bus ran ahead of the database.
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "nul")
        let daemon = try DaemonProcess(databaseURL: url, environment: [
            "ALGOTRADER_GATEWAY_HEARTBEAT_INTERVAL_MS": "200", "ALGOTRADER_GATEWAY_RESEND_INTERVAL_MS": "300",
        ], captureStderr: true)
        let dir = daemon.directory
        let (subscriber, eventsPath) = try FaultTests.subscriber(daemon, idle: 3)
        defer { if subscriber.isRunning { subscriber.terminate() } }
        let gateway = try DaemonGatewayTests.startGateway(dir, brokerID: ids.brokerID, ["--reject-first", "3"])
        defer { if gateway.isRunning { gateway.terminate() } }
        #expect(HostileInputTests.waitFor(20) { FileManager.default.fileExists(atPath: "\(dir)/gateway.ready") })
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "7", "\(dir)/prices.json"]) == 0)
        func settled() throws -> Bool {
            try HostileInputTests.count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status = 'FILLED'", [ids.brokerID]) > 2
                && HostileInputTests.count(db, "SELECT count(*) FROM trades WHERE broker_id = $1::uuid AND status NOT IN ('FILLED', 'REJECTED')",
                                           [ids.brokerID]) == 0
        }
        #expect(try HostileInputTests.waitFor(120, settled), "orders after the poisoned reasons were filled")
        subscriber.waitUntilExit()
        Thread.sleep(forTimeInterval: 1.2)  // the last report.acks reach the gateway
        _ = FileManager.default.createFile(atPath: "\(dir)/gateway.stop", contents: nil)
        gateway.waitUntilExit()
        #expect(daemon.stop() == 0)

        let rejected = try db.query("""
            SELECT metadata->>'reason' FROM trades WHERE broker_id = $1::uuid AND status = 'REJECTED' ORDER BY order_timestamp
            """, [ids.brokerID]).rows.map { $0[0] ?? "" }
        #expect(rejected.count == 3)
        #expect(rejected.allSatisfy { $0 == #"margin\u{0} shortfall\u{a}RMS"# }, "the reason kept, its control characters visible: \(rejected)")
        let events = try FaultTests.events(eventsPath)
        #expect(!events.isEmpty)
        #expect(events.map(\.seq) == (0..<events.count).map { Int64($0 + 1) }, "contiguous seq")
        for event in events {
            let rows = try db.query("SELECT payload FROM bus_events WHERE seq = $1::bigint", [String(event.seq)]).rows
            #expect(rows.count == 1 && rows.first?[0] == event.payload, "seq \(event.seq) stored once, as published")
        }
        #expect(try HostileInputTests.count(db, "SELECT count(*) FROM bus_events") == events.count, "the database holds what the bus published")
        #expect(try HostileInputTests.count(db, "SELECT count(*) FROM quarantine") == 0)
        struct GatewayLog: Decodable { let acks: [[String: String]] }
        let log = try JSONDecoder().decode(GatewayLog.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/gateway.json")))
        #expect(log.acks.filter { $0["status"] == "applied" }.count >= 3)
        try HostileInputTests.expectCleanRestart(url, daemon)
    }

    /// An event writer on a real database, publishing on an ipc endpoint a test subscriber reads.
    struct Harness {
        let url: String
        let directory: String
        let context: ZMQContext
        let writer: EventWriter
        let subscriber: ZMQSocket
        let journal: SegmentJournal
        let acks: Acks

        final class Acks: Sendable {
            let records = Mutex<[DeskRecord]>([])
        }

        init(url: String, directory: String? = nil) throws {
            self.url = url
            self.directory = directory ?? NSTemporaryDirectory() + "poison-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            context = try ZMQContext()
            journal = try SegmentJournal(directory: self.directory + "/events")
            let acks = Acks()
            self.acks = acks
            writer = EventWriter(connectionString: url, endpoint: "ipc://\(self.directory)/bus.ipc", context: context,
                                 logger: Logger(label: "test"), onGateway: { records in acks.records.withLock { $0 += records } },
                                 journal: journal, seqFloor: try SequenceFloor(directory: self.directory + "/events"))
            subscriber = try ZMQSocket(context: context, type: .sub)
            try writer.start()
            try subscriber.subscribe("")
            try subscriber.connect("ipc://\(self.directory)/bus.ipc")
            Thread.sleep(forTimeInterval: 0.3)
        }

        func received(until count: Int) throws -> [(String, String)] {
            var out: [(String, String)] = []
            let deadline = Date().addingTimeInterval(10)
            while out.count < count && Date() < deadline {
                if let frames = try subscriber.receive(dontWait: true) {
                    out.append((String(decoding: frames[0], as: UTF8.self), String(decoding: frames[1], as: UTF8.self)))
                } else {
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
            return out
        }

        func stop() {
            writer.stop()
            subscriber.close()
        }
    }

    static func newID() -> String { UUIDBytes.derived(from: UUID().uuidString).description }

    static func order(_ ids: SampleRows.IDs, symbol: String) -> DeskOrder {
        let intent = OrderIntent(strategyID: ids.strategyID, userID: ids.userID, brokerID: ids.brokerID, symbol: symbol, exchange: "NSE",
                                 side: .buy, type: .market, quantity: 1, referencePrice: FixedDecimal(100),
                                 time: SystemClock().now(), reason: "test")
        return DeskOrder(tradeID: Self.newID(), orderID: Self.newID(), intent: intent, state: OrderState(quantity: 1),
                         orderTime: SystemClock().now())
    }

    @Test func anOrderRecordAColumnRefusesIsQuarantinedAndTheRestOfItsRoundIsStoredAndPublished() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "poison")
        let harness = try Harness(url: url)
        let good = Self.order(ids, symbol: "RELIANCE"), after = Self.order(ids, symbol: "INFY")
        // The reason of issue 14's gateway report: a NUL in trades.metadata's jsonb (22P05).
        var poison = Self.order(ids, symbol: "TCS")
        poison.reason = "margin\u{0} short"
        // One round: the poison order's row between two good ones, each with its event; and a
        // gateway report's ack in the poison's batch.
        harness.writer.enqueue([.order(good), .event(BusEvent(kind: .order, order: good, time: SystemClock().now()))])
        harness.writer.enqueue([.order(poison), .event(BusEvent(kind: .order, order: poison, time: SystemClock().now())),
                                .gatewayAck(peer: [1], reportID: "r-poison", status: "applied")])
        harness.writer.enqueue([.order(after), .event(BusEvent(kind: .order, order: after, time: SystemClock().now())),
                                .gatewayAck(peer: [1], reportID: "r-after", status: "applied")])
        let published = try harness.received(until: 3)
        harness.stop()
        #expect(published.count == 3, "every event is published once durable")
        let stored = try db.query("SELECT trade_id::text FROM trades WHERE trade_id = ANY($1::uuid[]) ORDER BY symbol",
                                  [PostgresArrayLiteral.text([good.tradeID, poison.tradeID, after.tradeID])]).rows.map { $0[0] ?? "" }
        #expect(stored == [after.tradeID, good.tradeID], "the two good orders, not the poison")
        #expect(try HostileInputTests.count(db, "SELECT count(*) FROM bus_events") == 3, "the events of all three, the poison's too")
        let quarantined = try QuarantineStore.list(kind: .orderRecord, on: db)
        #expect(quarantined.count == 1 && quarantined.first?.sqlState == "22P05", "\(quarantined.map(\.reason))")
        #expect(quarantined.first.map { String(decoding: $0.record, as: UTF8.self).contains(#"margin\u0000 short"#) } == true, "the record as it was")
        let acks = harness.acks.records.withLock { $0 }.compactMap { record -> (String, String)? in
            if case .gatewayAck(_, let id, let status) = record { return (id, status) } else { return nil }
        }
        #expect(acks.contains { $0 == ("r-poison", "quarantined") }, "never acknowledged as applied: \(acks)")
        #expect(acks.contains { $0 == ("r-after", "applied") })
    }

    @Test func aJournaledRoundWithAPoisonRecordAndAnUnreadableRecordNeverBlockTheRoundsBehind() throws {
        // Before: one record that could not be applied stopped the replay for good, every later
        // round waited behind it, and deleting the segment by hand made the next start reuse seq.
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "journal")
        let directory = NSTemporaryDirectory() + "poison-\(UUID().uuidString.prefix(8))"
        do {
            // Rounds journaled during an "outage": seq 1-2 (one poison order), garbage, seq 3.
            let journal = try SegmentJournal(directory: directory + "/events")
            let a = Self.order(ids, symbol: "RELIANCE"), b = Self.order(ids, symbol: "TCS")
            let poison = Self.order(ids, symbol: String(repeating: "X", count: 60))  // past trades.symbol's 50 (22001)
            let rounds = [
                EventWriter.JournalRound(roundID: Self.newID(), firstSeq: 1,
                                         records: [.order(a), .event(BusEvent(kind: .order, order: a, time: SystemClock().now())),
                                                   .order(poison), .event(BusEvent(kind: .order, order: poison, time: SystemClock().now()))]),
                EventWriter.JournalRound(roundID: Self.newID(), firstSeq: 3,
                                         records: [.order(b), .event(BusEvent(kind: .order, order: b, time: SystemClock().now()))]),
            ]
            try journal.append(Array(try JSONEncoder().encode(rounds[0])))
            try journal.append(Array("ATJ1 this is not a frame at all".utf8))
            try journal.append(Array(try JSONEncoder().encode(rounds[1])))
            try SequenceFloor(directory: directory + "/events").raise(to: 4)
        }
        let harness = try Harness(url: url, directory: directory)
        let next = Self.order(ids, symbol: "WIPRO")
        harness.writer.enqueue([.order(next), .event(BusEvent(kind: .order, order: next, time: SystemClock().now()))])
        let published = try harness.received(until: 1)
        harness.stop()
        #expect(published.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.1.utf8)) as? [String: Any] }?["seq"] as? Int == 4,
                "seq continues after the journaled rounds, never reused")
        let seqs = try db.query("SELECT seq FROM bus_events ORDER BY seq").rows.compactMap { $0[0] }
        #expect(seqs == ["1", "2", "3", "4"], "the rounds before and after the damage are applied")
        #expect(try HostileInputTests.count(db, "SELECT count(*) FROM trades WHERE symbol IN ('TCS', 'WIPRO') OR length(symbol) > 50") == 2)
        #expect(try QuarantineStore.list(kind: .orderRecord, on: db).count == 1, "the poison order record")
        #expect(try QuarantineStore.list(kind: .eventJournal, on: db).count == 1, "the unreadable journal record, as bytes")
        #expect(harness.journal.isEmpty && harness.journal.pendingBytes == 0)
        let store = BusEventStore(connectionString: url)
        defer { store.close() }
        #expect(try store.events(from: 1, to: 4, limit: 10).map(\.seq) == [1, 2, 3, 4], "the replay endpoint serves every seq")
    }

    @Test func seqIsNeverReusedWhenTheJournaledRoundsAreLostBeforeTheyReachedPostgreSQL() throws {
        // Before: events published from the journal during an outage, then the journal's
        // segments lost (deleted by hand, a disk replaced), and the next start handed out the
        // same seqs again to different events.
        let cluster = try ScratchCluster()
        #expect(try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig],
                                             environment: ["ALGOTRADER_DATABASE_URL": cluster.url]).status == 0)
        let ids = try SampleRows.userStrategyBrokerTrade(try TestDatabase.connect(cluster.url), username: "lost")
        let directory = NSTemporaryDirectory() + "lost-\(UUID().uuidString.prefix(8))"
        do {
            let harness = try PoisonRecordTests.Harness(url: cluster.url, directory: directory)
            try cluster.crash()
            for symbol in ["RELIANCE", "TCS", "INFY"] {
                let order = PoisonRecordTests.order(ids, symbol: symbol)
                harness.writer.enqueue([.order(order), .event(BusEvent(kind: .order, order: order, time: SystemClock().now()))])
            }
            let published = try harness.received(until: 3)
            #expect(published.count == 3, "published once journaled")
            harness.stop()
        }
        let events = directory + "/events"
        let lost = try FileManager.default.contentsOfDirectory(atPath: events).filter { $0.hasSuffix(".seg") }
        #expect(!lost.isEmpty, "the rounds were journaled")
        for name in lost { try FileManager.default.removeItem(atPath: events + "/" + name) }
        try cluster.start()
        let harness = try PoisonRecordTests.Harness(url: cluster.url, directory: directory)
        let next = PoisonRecordTests.order(ids, symbol: "WIPRO")
        harness.writer.enqueue([.order(next), .event(BusEvent(kind: .order, order: next, time: SystemClock().now()))])
        let published = try harness.received(until: 1)
        harness.stop()
        let payload = published.first.map { Data($0.1.utf8) } ?? Data()
        let seq = (try? JSONSerialization.jsonObject(with: payload) as? [String: Any])?["seq"] as? Int
        #expect(seq == 4, "the next event takes the next seq, not one a subscriber already saw: \(String(describing: seq))")
    }
}

/// The tick journal's half of failure 3: a journaled batch holding a row PostgreSQL refuses, and
/// a record that does not decode, left by an earlier run; before, every start exited 69 on them.
@Suite("A poisoned tick journal at start")
struct PoisonedTickJournalTests {
    @Test func aStartReplaysTheJournalQuarantiningThePoisonAndStoresEveryOtherTick() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let identity = try #require(try db.query("SELECT database_id::text FROM engine_identity").scalar)
        let directory = NSTemporaryDirectory() + "algotrader-daemon-\(UUID().uuidString.prefix(8))"
        do {
            let journal = TickJournal(journal: try SegmentJournal(directory: "\(directory)/journal/\(identity)/ticks"))
            let now = SystemClock().now()
            var ticks = (0..<300).map { Tick(symbol: "J\($0 % 3)", exchange: "NSE", timestamp: now, price: FixedDecimal(Int64($0 + 1))) }
            ticks[150].symbol = "POISON\u{0}"  // written by an engine from before the edge checks
            let writer = MarketDataWriter(connectionString: url)
            try journal.append(try #require(writer.prepare(ticks[..<200], now: now)))
            try journal.journal.append(Array("not a tick record".utf8))
            try journal.append(try #require(writer.prepare(ticks[200...], now: now)))
        }
        let daemon = try DaemonProcess(databaseURL: url, directory: directory, captureStderr: true)
        #expect(try HostileInputTests.waitFor(20) {
            try HostileInputTests.count(db, #"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#) == 299 || !daemon.process.isRunning
        })
        #expect(daemon.stop() == 0, "\(daemon.stderr.suffix(600))")
        #expect(try HostileInputTests.count(db, #"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#) == 299)
        let refused = try QuarantineStore.list(kind: .tick, on: db)
        #expect(refused.count == 1 && refused.first?.sqlState == "22021", "the refused row with the database's reason: \(refused.map(\.reason))")
        #expect(try QuarantineStore.list(kind: .tickJournal, on: db).count == 1, "the record that does not decode, as bytes")
        try HostileInputTests.expectCleanRestart(url, daemon)
    }

    @Test func aBatchOverTheRecordBoundIsJournaledInSeveralRecordsAndReplayedOnce() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let directory = NSTemporaryDirectory() + "split-\(UUID().uuidString.prefix(8))"
        let journal = TickJournal(journal: try SegmentJournal(directory: directory, maxRecordBytes: 4_096))
        let now = SystemClock().now()
        let ticks = (0..<500).map { Tick(symbol: "S\($0 % 7)", exchange: "NSE", timestamp: now, price: FixedDecimal(Int64($0 + 1))) }
        let writer = MarketDataWriter(connectionString: url)
        defer { writer.close() }
        let batch = try #require(writer.prepare(ticks[...], now: now))
        try journal.append(batch, streams: [])
        let records = try journal.journal.read(limit: 1_000)
        #expect(records.count > 1 && records.allSatisfy { $0.payload.count <= 4_096 }, "\(records.map(\.payload.count))")
        let replayed = try journal.replay(with: writer)
        #expect(replayed.ticks == 500 && journal.isEmpty)
        #expect(try HostileInputTests.count(db, #"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#) == 500)
        // The same batch journaled again (a replay interrupted before its checkpoint moved): no row twice.
        try journal.append(batch, streams: [])
        _ = try journal.replay(with: writer)
        #expect(try HostileInputTests.count(db, #"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#) == 500)
    }
}
