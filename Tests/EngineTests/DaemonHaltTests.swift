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
}
