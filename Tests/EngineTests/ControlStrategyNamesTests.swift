import Foundation
import Postgres
import TestSupport
import Testing

/// `ctl start|stop|halt|resume` take a strategy's name as well as its id: a trader's name is
/// looked up among their own strategies only (another user's name is "not yours", exactly as an
/// unknown one), an admin's among everyone's, where a name two users share is ambiguous.
@Suite("Control socket strategies by name")
struct ControlStrategyNamesTests {
    @Test func aStrategyNameActsOnTheCallersOwnAndAnAdminsAmbiguousNameIsRefused() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try ControlSocketTests.addUser(db, "root", role: "admin", password: "admin-pw")
        let tara = try ControlSocketTests.addUser(db, "tara", role: "trader", password: "tara-pw")
        let omar = try ControlSocketTests.addUser(db, "omar", role: "trader", password: "omar-pw")
        try db.query("UPDATE strategies SET name = 'omar-only' WHERE strategy_id = $1::uuid", [omar.strategyID])
        let daemon = try DaemonProcess(databaseURL: url)
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
        for (who, password) in [("root", "admin-pw"), ("tara", "tara-pw")] {
            #expect(try ControlSocketTests().ctl(daemon, who, ["login", who], stdin: password + "\n").status == 0)
        }
        let active = { (id: String) in try db.query("SELECT is_active FROM strategies WHERE strategy_id = $1::uuid", [id]).scalar }

        let stopped = try ControlSocketTests().ctl(daemon, "tara", ["stop", "s1"])
        #expect(stopped.status == 0 && stopped.stdout.contains(tara.strategyID), "\(stopped.stdout) \(stopped.stderr)")
        #expect(try active(tara.strategyID) == "f")
        let foreign = try ControlSocketTests().ctl(daemon, "tara", ["stop", "omar-only"])
        #expect(foreign.status == 1 && foreign.stderr.contains("no strategy 'omar-only' of yours"), "\(foreign.stderr)")
        #expect(try active(omar.strategyID) == "t")
        #expect(try ControlSocketTests().ctl(daemon, "tara", ["halt", "--strategy", "s1", "--reason", "by name"]).status == 0)
        #expect(try db.query("SELECT count(*) FROM halts WHERE strategy_id = $1::uuid AND resumed_at IS NULL", [tara.strategyID]).scalar == "1")

        // An admin: anyone's by name, but 's1' is root's and tara's.
        #expect(try ControlSocketTests().ctl(daemon, "root", ["stop", "omar-only"]).status == 0)
        #expect(try active(omar.strategyID) == "f")
        let ambiguous = try ControlSocketTests().ctl(daemon, "root", ["resume", "--strategy", "s1"])
        #expect(ambiguous.status == 1 && ambiguous.stderr.contains("ambiguous") && ambiguous.stderr.contains(tara.strategyID), "\(ambiguous.stderr)")
        #expect(try ControlSocketTests().ctl(daemon, "root", ["resume", "--strategy", tara.strategyID]).status == 0, "its id is not")
        #expect(try db.query("SELECT count(*) FROM halts WHERE resumed_at IS NULL").scalar == "0")
    }
}
