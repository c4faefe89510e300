import Foundation
import Postgres
import TestSupport
import Testing

/// `algotrader ctl reload` against a running daemon: an admin's reload applies strategy changes
/// made in the database (a newly enabled strategy, an edit that fixes a refused one) before it
/// answers, with the counts it applied, and is audited; anyone else is refused and nothing moves.
@Suite("Control socket reload")
struct ControlReloadTests {
    @Test func anAdminsReloadStartsAnEnabledAndAnEditedStrategyBeforeItAnswersAndATradersIsRefused() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let root = try ControlSocketTests.addUser(db, "root", role: "admin", password: "admin-pw")
        let tara = try ControlSocketTests.addUser(db, "tara", role: "trader", password: "tara-pw")
        try db.query("UPDATE strategies SET is_active = false WHERE strategy_id = $1::uuid", [root.strategyID])
        // tara's 's1' has no parameters: refused at start until edited.
        let added = try AdminCommandTests.run(["strategy", "add", "--user", "tara", "--name", "fresh", "--type", "sma_crossover", "--inactive",
                                               "--params", #"{"symbol": "RELIANCE", "fast": 5, "slow": 20, "quantity": 10}"#],
                                              AdminCommandTests.environment(url))
        #expect(added.status == 0, "\(added.stderr)")
        let fresh = try #require(try db.query("SELECT strategy_id::text FROM strategies WHERE name = 'fresh'").scalar)
        let running = { (id: String) in try db.query("SELECT is_running FROM strategies WHERE strategy_id = $1::uuid", [id]).scalar }

        let daemon = try DaemonProcess(databaseURL: url)
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
        for (who, password) in [("root", "admin-pw"), ("tara", "tara-pw")] {
            let login = try ControlSocketTests().ctl(daemon, who, ["login", who], stdin: password + "\n")
            #expect(login.status == 0, "\(who): \(login.stderr)")
        }
        #expect(try AdminCommandTests.run(["strategy", "enable", "fresh"], AdminCommandTests.environment(url)).status == 0)

        let refused = try ControlSocketTests().ctl(daemon, "tara", ["reload"])
        #expect(refused.status == 1 && refused.stderr.contains("only an admin"), "\(refused.stderr)")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try running(fresh) == "f", "a refused reload applies nothing")

        // Applied when it answers: is_running is already set, no waiting.
        let first = try ControlSocketTests().ctl(daemon, "root", ["reload"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains(#""strategies_running" : 1"#) && first.stdout.contains(#""strategies_refused" : 1"#), "\(first.stdout)")
        #expect(try running(fresh) == "t")
        let listed = try ControlSocketTests().ctl(daemon, "root", ["strategies", "--user", "tara"])
        #expect(listed.status == 0 && listed.stdout.contains(fresh), "\(listed.stdout)")

        // An edit that makes the refused strategy valid: the next reload starts it.
        let edited = try AdminCommandTests.run(["strategy", "edit", tara.strategyID, "--params",
                                                #"{"symbol": "INFY", "fast": 3, "slow": 9, "quantity": 5}"#], AdminCommandTests.environment(url))
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(try running(tara.strategyID) == "f")
        let second = try ControlSocketTests().ctl(daemon, "root", ["reload"])
        #expect(second.status == 0 && second.stdout.contains(#""strategies_running" : 2"#) && second.stdout.contains(#""strategies_refused" : 0"#),
                "\(second.stdout) \(second.stderr)")
        #expect(try running(tara.strategyID) == "t")
        let status = try ControlSocketTests().ctl(daemon, "tara", ["status"])
        #expect(status.stdout.contains(#""strategies_running" : 2"#), "\(status.stdout)")

        let audited = try db.query("SELECT actor, details->>'strategies_running' FROM audit_log WHERE action = 'reload' ORDER BY audit_id").rows
        #expect(audited == [["ctl:root", "1"], ["ctl:root", "2"]], "the admin's two reloads, not the refused one")
    }
}
