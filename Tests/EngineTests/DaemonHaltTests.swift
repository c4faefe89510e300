import Foundation
import Postgres
import TestSupport
import Testing

/// `algotrader halt` against a running daemon: the user's strategies add no risk until resumed.
@Suite("Operator halts on a running daemon")
struct DaemonHaltTests {
    static func cli(_ arguments: [String], url: String) throws -> Int32 {
        let process = Process()
        process.executableURL = try Repository.binary()
        process.arguments = arguments + ["--config", Repository.shippedConfig]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment["ALGOTRADER_DATABASE_URL"] = url
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func aHaltedUserAddsNoRiskUntilResumed() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonOrdersTests.addUser(db, "halted", maxPositionSize: "100000000")
        let daemon = try DaemonProcess(databaseURL: url)
        #expect(try Self.cli(["halt", "--user", "halted", "--reason", "operator test"], url: url) == 0)
        Thread.sleep(forTimeInterval: 0.5)  // the daemon reads halts every 100 ms
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1500", "3", "\(daemon.directory)/p1.json"]) == 0)
        let deadline = Date().addingTimeInterval(20)
        func count(_ status: String) throws -> Int {
            Int(try db.query("SELECT count(*) FROM trades t JOIN strategies s USING (strategy_id) WHERE s.user_id = $1::uuid AND t.status = $2",
                             [ids.userID, status]).scalar ?? "0") ?? 0
        }
        while try count("REJECTED") == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try count("REJECTED") > 0)
        #expect(try count("FILLED") == 0, "nothing that adds risk fills while halted")
        let reason = try db.query("SELECT metadata->>'reason' FROM trades WHERE status = 'REJECTED' LIMIT 1").scalar
        #expect(reason?.contains("halted") == true)

        #expect(try Self.cli(["resume", "--user", "halted"], url: url) == 0)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1500", "4", "\(daemon.directory)/p2.json"]) == 0)
        while try count("FILLED") == 0 && Date() < deadline.addingTimeInterval(20) { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try count("FILLED") > 0, "trading resumes")
        #expect(daemon.stop() == 0)
        #expect(try db.query("SELECT count(*) FROM halts WHERE resumed_at IS NOT NULL AND source = 'operator'").scalar == "1")
    }

    /// An operator halts one strategy (CLI `halt --strategy`): its orders that add risk are
    /// rejected while another user's strategy on the same ticks goes on filling, and
    /// `resume --strategy` lifts only that halt. A name shared by two strategies is refused.
    @Test func aHaltedStrategyAddsNoRiskWhileOthersTradeUntilResumedAlone() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let halted = try DaemonOrdersTests.addUser(db, "one", maxPositionSize: "100000000")
        let other = try DaemonOrdersTests.addUser(db, "two", maxPositionSize: "100000000")
        let strategyID = try #require(try db.query("SELECT strategy_id::text FROM strategies WHERE user_id = $1::uuid AND name = 'cross'",
                                                   [halted.userID]).scalar)
        #expect(try Self.cli(["halt", "--strategy", "cross", "--reason", "x"], url: url) == 64, "'cross' names two strategies")
        #expect(try Self.cli(["halt", "--strategy", "nonesuch", "--reason", "x"], url: url) == 64)
        #expect(try Self.cli(["halt", "--user", "one", "--strategy", strategyID, "--reason", "x"], url: url) == 64)
        // A user halt beside it, lifted at once, so resuming the strategy is seen to touch only its own row.
        #expect(try Self.cli(["halt", "--user", "two", "--reason", "kept"], url: url) == 0)
        #expect(try Self.cli(["resume", "--user", "two"], url: url) == 0)

        let daemon = try DaemonProcess(databaseURL: url)
        #expect(try Self.cli(["halt", "--strategy", strategyID, "--reason", "review this strategy"], url: url) == 0)
        #expect(try db.query("SELECT user_id::text, source FROM halts WHERE strategy_id = $1::uuid AND resumed_at IS NULL",
                             [strategyID]).rows.map { $0.compactMap { $0 } } == [[halted.userID, "operator"]])
        Thread.sleep(forTimeInterval: 0.5)  // the daemon reads halts every 100 ms
        func count(_ userID: String, _ status: String) throws -> Int {
            Int(try db.query("SELECT count(*) FROM trades t JOIN strategies s USING (strategy_id) WHERE s.user_id = $1::uuid AND t.status = $2",
                             [userID, status]).scalar ?? "0") ?? 0
        }
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1500", "3", "\(daemon.directory)/p1.json"]) == 0)
        let deadline = Date().addingTimeInterval(20)
        while (try count(halted.userID, "REJECTED") == 0 || count(other.userID, "FILLED") == 0) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try count(halted.userID, "REJECTED") > 0)
        #expect(try count(halted.userID, "FILLED") == 0, "the halted strategy adds no risk")
        #expect(try count(other.userID, "FILLED") > 0, "another strategy on the same ticks trades on")

        #expect(try Self.cli(["resume", "--strategy", strategyID], url: url) == 0)
        #expect(try db.query("SELECT count(*) FROM halts WHERE resumed_at IS NULL").scalar == "0")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "1500", "4", "\(daemon.directory)/p2.json"]) == 0)
        while try count(halted.userID, "FILLED") == 0 && Date() < deadline.addingTimeInterval(20) { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try count(halted.userID, "FILLED") > 0, "the strategy trades again once resumed")
        #expect(daemon.stop() == 0)
        let audit = try db.query("SELECT action, target FROM audit_log WHERE target = 'strategy' ORDER BY audit_id").rows.map { $0.compactMap { $0 } }
        #expect(audit == [["halt", "strategy"], ["resume", "strategy"]])
    }
}
