import Engine
import Foundation
import Logging
import Postgres
import Storage
import TestSupport
import Testing
import ZeroMQ

/// Halts reach the engine when they change, without a polling query (migration 12's channel).
@Suite("Halts reach the engine by notification")
struct HaltWatcherTests {
    @Test func aHaltAppliesWhenItIsCommittedAndOneMadeWhileTheConnectionWasLostAppliesAfterItReconnects() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let alice = try SampleRows.userStrategyBrokerTrade(db, username: "alice")
        let bob = try SampleRows.userStrategyBrokerTrade(db, username: "bob")
        let context = try ZMQContext()
        let writer = EventWriter(connectionString: url, endpoint: "inproc://halts-bus", context: context, logger: Logger(label: "test"))
        try writer.start()
        defer { writer.stop() }
        let desk = OrderDesk(writer: writer)
        let watcher = HaltWatcher(connectionString: url, desk: desk, logger: Logger(label: "test"))
        try watcher.start()
        defer { watcher.stop() }
        #expect(HostileInputTests.waitFor(5) { watcher.reads.load(ordering: .relaxed) >= 2 }, "the first read, and the thread's after it listens")

        // Idle: no reads (before, one every 100 ms).
        let idle = watcher.reads.load(ordering: .relaxed)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(watcher.reads.load(ordering: .relaxed) == idle, "no polling while nothing changes")

        try OperatorHalts.halt(db, .user(alice.userID), reason: "review", actor: "test")
        #expect(HostileInputTests.waitFor(5) { watcher.activeHalts.load(ordering: .relaxed) == 1 }, "applied on its notification")

        // The watcher's connection is cut; a halt made while it is away is read when it returns.
        let cut = try db.query("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1
            """, [HaltStore.applicationName]).rows.count
        #expect(cut == 1, "the watcher's listening connection")
        try OperatorHalts.halt(db, .user(bob.userID), reason: "review", actor: "test")
        #expect(HostileInputTests.waitFor(10) { watcher.activeHalts.load(ordering: .relaxed) == 2 }, "read again after it reconnected")
        _ = try OperatorHalts.resume(db, .user(alice.userID), actor: "test")
        #expect(HostileInputTests.waitFor(5) { watcher.activeHalts.load(ordering: .relaxed) == 1 }, "a resume applies the same way")
    }
}
