import Foundation
import Postgres
import TestSupport
import Testing

/// Faults in the middle of a stream of ticks and fills (issue: operations and reliability):
/// PostgreSQL stopped as by a crash and started again, and the daemon killed with SIGKILL and
/// restarted. Each on a PostgreSQL cluster of its own, with a pyzmq publisher and subscriber.
@Suite("Faults: database crash and daemon kill mid-stream", .serialized)
struct FaultTests {
    struct Event {
        let topic: String
        let payload: String
        let seq: Int64
    }

    /// Starts the pyzmq subscriber; returns it with the path of its output.
    static func subscriber(_ daemon: DaemonProcess, idle: Int) throws -> (Process, String) {
        let out = "\(daemon.directory)/events-\(UUID().uuidString.prefix(4)).json", ready = out + ".ready"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/subscribe_events.py").path,
                       "ipc://\(daemon.directory)/bus.ipc", "ipc://\(daemon.directory)/replay.ipc", out, String(idle), ready]
        try p.run()
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return (p, out)
    }

    static func events(_ path: String) throws -> [Event] {
        struct Captured: Decodable { let live: [[String]] }
        let captured = try JSONDecoder().decode(Captured.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        return captured.live.map { pair in
            let object = (try? JSONSerialization.jsonObject(with: Data(pair[1].utf8))) as? [String: Any]
            return Event(topic: pair[0], payload: pair[1], seq: (object?["seq"] as? NSNumber)?.int64Value ?? -1)
        }
    }

    static func publisher(_ daemon: DaemonProcess, count: Int, rate: Int, seed: Int, out: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/publish_stream.py").path,
                       daemon.feed, "RELIANCE", String(count), String(rate), String(seed), out]
        try p.run()
        return p
    }

    /// Every event a subscriber saw is in bus_events once, with the same payload; each fill's
    /// execution is one trade_logs row.
    static func expectStoredExactlyOnce(_ events: [Event], _ db: PostgresConnection) throws {
        for event in events {
            let rows = try db.query("SELECT payload FROM bus_events WHERE seq = $1::bigint", [String(event.seq)]).rows
            #expect(rows.count == 1 && rows.first?[0] == event.payload, "seq \(event.seq) stored once, as published")
        }
        let fills = events.filter { $0.topic.hasPrefix("fill.") }
        for fill in fills {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(fill.payload.utf8)) as? [String: Any])
            let trade = object["trade_id"] as? String ?? ""
            let executions = try db.query("SELECT count(*) FROM trade_logs WHERE trade_id = $1::uuid AND data ? 'exec_id'", [trade]).scalar
            #expect(executions == "1", "one execution row per fill of trade \(trade)")
        }
    }

    @Test func aDatabaseCrashMidStreamLosesAndDuplicatesNothing() throws {
        let cluster = try ScratchCluster()
        let migrate = try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig],
                                                   environment: ["ALGOTRADER_DATABASE_URL": cluster.url])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        var db = try PostgresConnection(connectionString: cluster.url)
        let ids = try DaemonOrdersTests.addUser(db, "fault", maxPositionSize: "100000000")
        db.close()
        let daemon = try DaemonProcess(databaseURL: cluster.url, environment: [
            "ALGOTRADER_JOURNAL_MEMORY_TICKS": "1000", "ALGOTRADER_INGEST_QUEUE_CAPACITY": "4000", "ALGOTRADER_INGEST_BATCH_SIZE": "500",
        ])
        #expect(daemon.waitUntilStarted())
        let (subscriber, eventsPath) = try Self.subscriber(daemon, idle: 8)
        defer { if subscriber.isRunning { subscriber.terminate() } }
        let sent = "\(daemon.directory)/sent.json"
        let publisher = try Self.publisher(daemon, count: 12_000, rate: 2_000, seed: 5, out: sent)
        Thread.sleep(forTimeInterval: 1.5)
        try cluster.crash()
        Thread.sleep(forTimeInterval: 2.5)
        try cluster.start()
        publisher.waitUntilExit()
        #expect(publisher.terminationStatus == 0)
        struct Sent: Decodable { let session: String; let count: Int }
        let stream = try JSONDecoder().decode(Sent.self, from: Data(contentsOf: URL(fileURLWithPath: sent)))
        db = try PostgresConnection(connectionString: cluster.url)
        defer { db.close() }
        func stored() throws -> Int {
            Int(try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick' AND tick_data->>'session' = $1"#, [stream.session]).scalar ?? "0") ?? 0
        }
        let deadline = Date().addingTimeInterval(60)
        while try stored() < stream.count && Date() < deadline { Thread.sleep(forTimeInterval: 0.25) }
        subscriber.waitUntilExit()
        #expect(daemon.stop() == 0, "a clean stop after the outage")

        // Every accepted tick stored exactly once.
        #expect(try stored() == stream.count)
        #expect(try db.query(#"SELECT count(DISTINCT (tick_data->>'seq')::bigint) FROM market_data WHERE "interval" = 'tick' AND tick_data->>'session' = $1"#,
                             [stream.session]).scalar == String(stream.count))
        // Every published fill and order event stored exactly once, with contiguous seq.
        let events = try Self.events(eventsPath)
        #expect(events.contains { $0.topic.hasPrefix("fill.") }, "fills were published around the outage")
        #expect(events.map(\.seq) == (0..<events.count).map { Int64($0 + 1) })
        try Self.expectStoredExactlyOnce(events, db)
        #expect(try db.query("SELECT count(*) FROM bus_events").scalar == String(events.count))
        // The outage went through the journal (the memory bound was tiny), and it is empty now.
        let journal = try FileManager.default.subpathsOfDirectory(atPath: "\(daemon.directory)/journal").filter { $0.hasSuffix(".seg") }
        #expect(!journal.isEmpty, "segments were written")
        _ = ids
    }

    @Test func aKilledDaemonRestartsWithEveryPublishedFillStoredOnceAndSeqContinuing() throws {
        let cluster = try ScratchCluster()
        #expect(try CommandRunner.algotrader(["migrate", "--config", Repository.shippedConfig],
                                             environment: ["ALGOTRADER_DATABASE_URL": cluster.url]).status == 0)
        let db = try PostgresConnection(connectionString: cluster.url)
        defer { db.close() }
        _ = try DaemonOrdersTests.addUser(db, "killed", maxPositionSize: "100000000")
        var seen: [Event] = []
        for (run, seed) in [(1, 21), (2, 22)] {
            let daemon = try DaemonProcess(databaseURL: cluster.url)
            let (subscriber, path) = try Self.subscriber(daemon, idle: 3)
            let publisher = try Self.publisher(daemon, count: 6_000, rate: 2_000, seed: seed, out: "\(daemon.directory)/sent.json")
            if run == 1 {
                Thread.sleep(forTimeInterval: 1.8)
                kill(daemon.process.processIdentifier, SIGKILL)
                daemon.process.waitUntilExit()
                #expect(daemon.process.terminationReason == .uncaughtSignal)
                publisher.terminate()
            } else {
                publisher.waitUntilExit()
                Thread.sleep(forTimeInterval: 1)
                #expect(daemon.stop() == 0)
            }
            subscriber.waitUntilExit()
            seen += try Self.events(path)
        }
        #expect(seen.contains { $0.topic.hasPrefix("fill.") })
        try Self.expectStoredExactlyOnce(seen, db)
        let seqs = try db.query("SELECT seq FROM bus_events ORDER BY seq").rows.compactMap { $0[0].flatMap { Int64($0) } }
        #expect(seqs == (0..<seqs.count).map { Int64($0 + 1) }, "contiguous across the kill: nothing reused, nothing skipped")
        #expect(Set(seen.map(\.seq)).count == seen.count, "no seq published twice")
    }
}
