import Foundation
import Postgres
import Security
import Storage
import TestSupport
import Testing

/// `serve` under a login that owns nothing (docs/operations.md, "A runtime login"): a member of
/// algotrader_engine and algotrader_app only. Everything the daemon does works, audit rows
/// are written through the engine's one audit path, and the login can change nothing in the
/// audit log; `algotrader audit check` tells such a login from the owner or a superuser.
@Suite("serve as a runtime login, and audit check")
struct RuntimeLoginTests {

    static func ctl(_ daemon: DaemonProcess, _ who: String, _ arguments: [String], stdin: String? = nil) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader([arguments[0], arguments[1], "--endpoint", "ipc://\(daemon.directory)/control.ipc",
                                      "--token-file", "\(daemon.directory)/\(who).token"] + arguments.dropFirst(2),
                                     environment: [:], stdin: stdin)
    }

    /// The `count` most recent weekdays before today (UTC), oldest first, as YYYY-MM-DD.
    static func recentWeekdays(_ count: Int) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var days: [String] = []
        var date = Date()
        while days.count < count {
            date = calendar.date(byAdding: .day, value: -1, to: date)!
            let weekday = calendar.component(.weekday, from: date)
            guard weekday != 1 && weekday != 7 else { continue }
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            days.append(String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!))
        }
        return days.reversed()
    }

    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try condition()
    }

    @Test func serveRunsAsALoginThatOwnsNothingAndThatLoginCannotChangeTheAuditLog() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try ControlSocketTests.addUser(db, "root", role: "admin", password: "admin-pw")
        let tara = try ControlSocketTests.addUser(db, "tara", role: "trader", password: "tara-pw")
        let runtimeURL = try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt")
        let daemon = try DaemonProcess(databaseURL: runtimeURL, captureStderr: true)
        defer { _ = daemon.stop() }
        #expect(Self.waitFor(15) { FileManager.default.fileExists(atPath: "\(daemon.directory)/control.ipc") }, "\(daemon.stderr)")

        // The control socket: logins (plain transaction), a failed login, a strategy stop (in a
        // user's scope, as algotrader_app), a halt and a resume; each writes its audit row.
        for (who, password) in [("root", "admin-pw"), ("tara", "tara-pw")] {
            let login = try Self.ctl(daemon, who, ["ctl", "login", who], stdin: password + "\n")
            #expect(login.status == 0, "\(who): \(login.stderr)")
        }
        #expect(try Self.ctl(daemon, "eve", ["ctl", "login", "tara"], stdin: "wrong\n").stderr.contains("login failed"))
        let stop = try Self.ctl(daemon, "tara", ["ctl", "stop", tara.strategyID])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(try Self.ctl(daemon, "root", ["ctl", "halt", "--user", "tara", "--reason", "review"]).status == 0)
        #expect(try Self.ctl(daemon, "root", ["ctl", "resume", "--user", "tara"]).stdout.contains("\"lifted\" : 1"))

        // Ticks over three past trading days: a tick partition for each is made on demand.
        let days = Self.recentWeekdays(3)
        for day in days {
            let feed = try CommandRunner.algotrader(["feed", "--bind", daemon.feed, "--count", "600", "--rate", "0", "--session-day", day,
                                                     "--symbols", "INFY,TCS", "--wait-seconds", "20"], environment: [:])
            #expect(feed.status == 0, "\(day): \(feed.stderr)")
        }
        let stored = try Self.waitFor(30) {
            try db.query(#"SELECT count(*) FROM market_data WHERE "interval" = 'tick'"#).scalar == "1800"
        }
        #expect(stored, "every tick stored: \(daemon.stderr)")
        #expect(daemon.stop() == 0, "SIGTERM: drain, flush, exit 0: \(daemon.stderr)")

        let partitions = try db.query("""
            SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'market_data_tick'::regclass
            """).rows
        for day in days {
            #expect(partitions.contains { $0[0] == "market_data_tick_p" + day.replacingOccurrences(of: "-", with: "") }, "partition for \(day)")
        }
        #expect(partitions.allSatisfy { $0[1] == "postgres" }, "partitions belong to the schema owner: \(partitions)")
        let barDays = try db.query(#"""
            SELECT count(DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date) FROM market_data WHERE "interval" = '1min'
            """#).scalar
        #expect(barDays == "3", "1min bars stored for each day")
        for problem in ["not protected", "permission denied", "must be owner", "refreshing daily_performance_summary failed"] {
            #expect(!daemon.stderr.contains(problem), "\(problem): \(daemon.stderr)")
        }
        let actions = try db.query("SELECT action, count(*) FROM audit_log GROUP BY action").rows
            .reduce(into: [String: Int]()) { $0[$1[0]!] = Int($1[1]!)! }
        #expect(actions == ["login": 2, "login_failed": 1, "strategy_stopped": 1, "halt": 1, "resume": 1], "\(actions)")

        // As that login, nothing in the audit log can be written, changed, or unprotected.
        let runtime = try TestDatabase.connect(runtimeURL)
        for sql in ["INSERT INTO audit_log (actor, action) VALUES ('forger', 'login')", "UPDATE audit_log SET actor = 'x'",
                    "DELETE FROM audit_log", "TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL"] {
            #expect(throws: PostgresError.self, "\(sql) as the runtime login") { try runtime.execute(sql) }
        }
        #expect(try db.query("SELECT count(*) FROM audit_log").scalar == "6")
    }

    @Test func auditCheckFailsForASuperuserAndTheOwnerAndPassesForTheRuntimeLogin() throws {
        func check(_ url: String) throws -> CommandRunner.Outcome {
            try CommandRunner.algotrader(["audit", "check", "--config", Repository.shippedConfig], environment: ["ALGOTRADER_DATABASE_URL": url])
        }
        let url = try TestDatabase.makeMigrated()
        let superuser = try check(url)
        #expect(superuser.status == 1 && superuser.stderr.contains("superuser"), "\(superuser.stdout)\(superuser.stderr)")

        // An operator's schema owner: no superuser, it ran migrate.
        let ownerURL = try TestDatabase.makeEmptyOwnedByLogin()
        try Migrator().migrate(try TestDatabase.connect(ownerURL))
        let owner = try check(ownerURL)
        #expect(owner.status == 1 && owner.stderr.contains("owner of audit_log") && !owner.stderr.contains("superuser"),
                "\(owner.stdout)\(owner.stderr)")

        for (members, appends) in [(["algotrader_engine", "algotrader_app"], "yes"), (["algotrader_app"], "no")] {
            let login = try check(try TestDatabase.makeLogin(for: url, memberOf: members, prefix: "rt"))
            #expect(login.status == 0 && login.stdout.contains("audit log protected from"), "\(members): \(login.stdout)\(login.stderr)")
            #expect(login.stdout.contains("appends through audit_log_append: \(appends)"))
            #expect(login.stdout.contains("INSERT on audit_log: refused") && login.stdout.contains("trigger audit_log_no_update: always"))
        }
    }

    /// Missed before: the database's owner (on PostgreSQL 15+ the owner of schema public) may
    /// drop audit_log and make another, and CREATEROLE may grant itself the owner's role.
    @Test func auditCheckFailsForTheDatabaseOwnerAndForALoginWithCreaterole() throws {
        let url = try TestDatabase.makeMigrated()
        let admin = try TestDatabase.connect(url)
        let database = try #require(URLComponents(string: url)?.path.dropFirst()).description
        for kind in ["database owner", "createrole"] {
            let loginURL = try TestDatabase.makeLogin(for: url, memberOf: ["algotrader_engine", "algotrader_app"], prefix: "rt")
            let login = try #require(URLComponents(string: loginURL)?.user)
            if kind == "createrole" { try admin.execute("ALTER ROLE \(login) CREATEROLE") } else { try admin.execute("ALTER DATABASE \(database) OWNER TO \(login)") }
            let outcome = try CommandRunner.algotrader(["audit", "check", "--config", Repository.shippedConfig],
                                                       environment: ["ALGOTRADER_DATABASE_URL": loginURL])
            #expect(outcome.status == 1, "\(kind): \(outcome.stdout)\(outcome.stderr)")
            #expect(outcome.stderr.contains(kind == "createrole" ? "CREATEROLE" : "schema public"), "\(kind): \(outcome.stderr)")
        }
    }

    @Test func serveWarnsAtStartWhenItsLoginCouldRewriteTheAuditLog() throws {
        let daemon = try DaemonProcess(databaseURL: try TestDatabase.makeMigrated(), captureStderr: true)
        defer { _ = daemon.stop() }
        #expect(Self.waitFor(15) { daemon.stderr.contains("the audit log is not protected from this login") }, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("algotrader audit check"))
    }
}
