import Crypto
import Foundation
import Postgres
import Security
import TestSupport
import Testing

/// The control socket of a running daemon, driven by `algotrader ctl`: login tokens stored only as
/// hashes, roles (investor read-only, traders on their own, admins on all), rate-limited failed
/// logins, and an audit row for each action.
@Suite("Control socket and algotrader ctl")
struct ControlSocketTests {
    static func addUser(_ db: PostgresConnection, _ name: String, role: String, password: String) throws -> SampleRows.IDs {
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: name)
        try db.query("UPDATE users SET role = $2, password_hash = $3 WHERE user_id = $1::uuid",
                     [ids.userID, role, try PasswordHasher(logN: 10).hash(password)])
        return ids
    }

    func ctl(_ daemon: DaemonProcess, _ who: String, _ arguments: [String], stdin: String? = nil) throws -> CommandRunner.Outcome {
        let command = arguments.first!
        return try CommandRunner.algotrader(["ctl", command, "--endpoint", "ipc://\(daemon.directory)/control.ipc",
                                             "--token-file", "\(daemon.directory)/\(who).token"] + arguments.dropFirst(),
                                            environment: [:], stdin: stdin)
    }

    @Test func rolesTokensRateLimitsAndAuditThroughTheControlSocket() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let admin = try Self.addUser(db, "root", role: "admin", password: "admin-pw")
        let trader = try Self.addUser(db, "tara", role: "trader", password: "tara-pw")
        let other = try Self.addUser(db, "omar", role: "trader", password: "omar-pw")
        _ = try Self.addUser(db, "ivy", role: "investor", password: "ivy-pw")
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_CONTROL_MAX_FAILED_LOGINS": "3"])
        defer { _ = daemon.stop() }
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: "\(daemon.directory)/control.ipc") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }

        // Logins: a token file per user; only the token's SHA-256 is stored.
        for (who, password) in [("root", "admin-pw"), ("tara", "tara-pw"), ("ivy", "ivy-pw")] {
            let login = try ctl(daemon, who, ["login", who], stdin: password + "\n")
            #expect(login.status == 0, "\(who): \(login.stderr)")
        }
        let token = try String(contentsOfFile: "\(daemon.directory)/tara.token", encoding: .utf8)
        #expect(Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=")?.count == 32,
                "a 256-bit token")
        let hash = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(try db.query("SELECT count(*) FROM user_sessions WHERE token_hash = $1 AND user_id = $2::uuid", [hash, trader.userID]).scalar == "1")
        #expect(try db.query("SELECT count(*) FROM user_sessions WHERE token_hash = $1", [token]).scalar == "0", "never the token itself")
        #expect(try db.query("SELECT last_login IS NOT NULL FROM users WHERE user_id = $1::uuid", [trader.userID]).scalar == "t")

        // An investor reads but never trades.
        #expect(try ctl(daemon, "ivy", ["positions"]).status == 0)
        let investorHalt = try ctl(daemon, "ivy", ["halt", "--reason", "x"])
        #expect(investorHalt.status == 1 && investorHalt.stderr.contains("read-only"), "\(investorHalt.stderr)")
        #expect(try ctl(daemon, "ivy", ["stop", trader.strategyID]).status == 1)
        #expect(try ctl(daemon, "ivy", ["flatten"]).status == 1)

        // A trader acts on their own strategies only.
        let own = try ctl(daemon, "tara", ["strategies"])
        #expect(own.status == 0 && own.stdout.contains(trader.strategyID) && !own.stdout.contains(other.strategyID))
        #expect(try ctl(daemon, "tara", ["strategies", "--user", "omar"]).status == 1)
        #expect(try ctl(daemon, "tara", ["stop", other.strategyID]).status == 1)
        #expect(try db.query("SELECT is_active FROM strategies WHERE strategy_id = $1::uuid", [other.strategyID]).scalar == "t")
        #expect(try ctl(daemon, "tara", ["stop", trader.strategyID]).status == 0)
        #expect(try db.query("SELECT is_active FROM strategies WHERE strategy_id = $1::uuid", [trader.strategyID]).scalar == "f")
        #expect(try ctl(daemon, "tara", ["cancel", "no-such-order"]).status == 1)
        #expect(try ctl(daemon, "tara", ["resume"]).status == 1, "only an admin resumes")
        #expect(try ctl(daemon, "tara", ["halt", "--engine", "--reason", "x"]).status == 1)

        // An admin acts on anyone: halt a user (applied by the daemon), then resume.
        #expect(try ctl(daemon, "root", ["strategies", "--user", "omar"]).stdout.contains(other.strategyID))
        #expect(try ctl(daemon, "root", ["halt", "--user", "tara", "--reason", "review"]).status == 0)
        #expect(try db.query("SELECT count(*) FROM halts WHERE user_id = $1::uuid AND resumed_at IS NULL", [trader.userID]).scalar == "1")
        let status = try ctl(daemon, "tara", ["status"])
        #expect(status.stdout.contains("review"), "the halted user sees their halt: \(status.stdout)")
        #expect(try ctl(daemon, "root", ["resume", "--user", "tara"]).stdout.contains("\"lifted\" : 1"))

        // One strategy: a trader halts their own (not another's); lifting it is an admin's.
        #expect(try ctl(daemon, "tara", ["halt", "--strategy", other.strategyID, "--reason", "x"]).status == 1)
        #expect(try ctl(daemon, "tara", ["halt", "--strategy", trader.strategyID, "--user", "tara", "--reason", "x"]).status == 64)
        #expect(try ctl(daemon, "tara", ["halt", "--strategy", trader.strategyID, "--reason", "odd fills"]).status == 0)
        #expect(try db.query("SELECT user_id::text FROM halts WHERE strategy_id = $1::uuid AND resumed_at IS NULL",
                             [trader.strategyID]).scalar == trader.userID)
        #expect(try ctl(daemon, "tara", ["status"]).stdout.contains(trader.strategyID), "the halt names its strategy")
        #expect(try ctl(daemon, "tara", ["resume", "--strategy", trader.strategyID]).status == 1, "only an admin resumes")
        #expect(try ctl(daemon, "root", ["resume", "--strategy", trader.strategyID]).stdout.contains("\"lifted\" : 1"))
        #expect(try db.query("SELECT count(*) FROM halts WHERE resumed_at IS NULL").scalar == "0")

        // Failed logins: refused, then rate-limited even with the right password.
        for _ in 0..<3 { #expect(try ctl(daemon, "omar", ["login", "omar"], stdin: "wrong\n").stderr.contains("login failed")) }
        let limited = try ctl(daemon, "omar", ["login", "omar"], stdin: "omar-pw\n")
        #expect(limited.status == 1 && limited.stderr.contains("too many failed logins"), "\(limited.stderr)")

        // Logout ends the token.
        #expect(try ctl(daemon, "tara", ["logout"]).status == 0)
        try token.write(toFile: "\(daemon.directory)/tara.token", atomically: true, encoding: .utf8)
        #expect(try ctl(daemon, "tara", ["status"]).stderr.contains("unknown or expired"))

        let actions = try db.query("SELECT action, count(*) FROM audit_log GROUP BY action").rows
            .reduce(into: [String: Int]()) { $0[$1[0]!] = Int($1[1]!)! }
        #expect(actions["login"] == 3 && actions["login_failed"] == 4 && actions["strategy_stopped"] == 1)
        #expect(actions["halt"] == 2 && actions["resume"] == 2 && actions["logout"] == 1)
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE action = 'halt' AND actor = 'ctl:root' AND target_user_id = $1::uuid",
                             [trader.userID]).scalar == "1")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE action = 'login' AND actor_user_id = $1::uuid", [admin.userID]).scalar == "1")
        // Over ipc the peer is the local user the kernel vouches for, so local users are limited apart.
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE peer IS NULL OR peer NOT LIKE 'uid:%'").scalar == "0")
    }
}
