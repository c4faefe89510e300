import Foundation
import Postgres
import Security
import TestSupport
import Testing
import ZeroMQ

/// The admin subcommands against a real database: users with scrypt hashes, broker credentials
/// that never reach the database (or a dump of it) in plaintext, key rotation, strategies that
/// are soft-deleted with their history kept, risk limits, and an audit row for each change.
@Suite("Admin commands: users, brokers, keys, strategies, risk")
struct AdminCommandTests {
    static func environment(_ url: String, key: String? = nil) -> [String: String] {
        var env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N": "10"]
        if let key { env["ALGOTRADER_SECURITY_CREDENTIALS_KEY"] = key }
        return env
    }

    static func run(_ arguments: [String], _ env: [String: String], stdin: String? = nil) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader(arguments + ["--config", Repository.shippedConfig], environment: env, stdin: stdin)
    }

    @Test func usersGetScryptHashesFromStdinAndEveryChangeIsAudited() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let env = Self.environment(url)
        let added = try Self.run(["user", "add", "asha", "--email", "asha@example.com", "--role", "trader"], env, stdin: "pa55-word\n")
        #expect(added.status == 0, "\(added.stderr)")
        let hash = try #require(try db.query("SELECT password_hash FROM users WHERE username = 'asha'").scalar)
        #expect(try PasswordHasher.verify("pa55-word", against: hash))
        #expect(try Self.run(["user", "add", "asha", "--email", "other@example.com"], env, stdin: "x\n").status == 64, "a duplicate is refused")
        #expect(try Self.run(["user", "add", "bad", "--email", "b@example.com", "--role", "king"], env, stdin: "x\n").status == 64)
        // Names are listed one per line: a newline, a space or a control character in one is refused.
        for name in ["eve\nadmin", "eve admin", "eve\u{7}"] {
            #expect(try Self.run(["user", "add", name, "--email", "e@example.com"], env, stdin: "x\n").status == 64, "\(name)")
        }
        #expect(try Self.run(["user", "add", "eve", "--email", "e@x.com\nadmin"], env, stdin: "x\n").status == 64)
        #expect(try db.query("SELECT count(*) FROM users WHERE username LIKE 'eve%'").scalar == "0")
        #expect(try Self.run(["user", "passwd", "asha"], env, stdin: "n3w-pass\n").status == 0)
        let changed = try #require(try db.query("SELECT password_hash FROM users WHERE username = 'asha'").scalar)
        #expect(try PasswordHasher.verify("n3w-pass", against: changed) && !PasswordHasher.verify("pa55-word", against: changed))
        #expect(try Self.run(["user", "disable", "asha"], env).status == 0)
        #expect(try db.query("SELECT is_active FROM users WHERE username = 'asha'").scalar == "f")
        #expect(try Self.run(["user", "enable", "asha"], env).status == 0)
        // A name stored before names were checked (or by hand) still lists on one line, escaped.
        try db.query("INSERT INTO users (username, email, password_hash, role) VALUES ($1, 'old@example.com', 'x', 'trader')", ["old\nadmin"])
        let listed = try Self.run(["user", "list"], env)
        #expect(listed.stdout.contains("asha") && !listed.stdout.contains("scrypt"), "the list never shows hashes")
        #expect(listed.stdout.split(separator: "\n").contains { $0.contains("old\\u{a}admin") } && !listed.stdout.contains("\nadmin"),
                "\(listed.stdout)")
        let actions = try db.query("SELECT action FROM audit_log ORDER BY audit_id").rows.map { $0[0] ?? "" }
        #expect(actions == ["user_added", "password_changed", "user_disabled", "user_enabled"])
    }

    @Test func brokerCredentialsAreSealedNeverDumpedInPlaintextAndSurviveKeyRotation() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let oldKey = try CredentialKey.generate(id: "old"), newKey = try CredentialKey.generate(id: "new")
        var env = Self.environment(url)
        #expect(try Self.run(["user", "add", "ravi", "--email", "ravi@example.com"], env, stdin: "pw\n").status == 0)
        // A paper account needs no key at all.
        let paper = try Self.run(["broker", "add", "--user", "ravi", "--name", "paper", "--api-type", "zerodha"], env)
        #expect(paper.status == 0, "\(paper.stderr)")
        let dir = NSTemporaryDirectory() + "admin-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let secret = #"{"api_key":"kite-KEY-7731","api_secret":"SECRET-zq81-MARKER","totp_seed":"TOTP-SEED-MARKER"}"#
        try secret.write(toFile: "\(dir)/creds.json", atomically: true, encoding: .utf8)
        let noKey = try Self.run(["broker", "add", "--user", "ravi", "--name", "live", "--api-type", "zerodha", "--mode", "live",
                                  "--credentials-file", "\(dir)/creds.json"], env)
        #expect(noKey.status == 78 && noKey.stderr.contains("security.credentials_key"), "a live account's credentials need the key")
        env["ALGOTRADER_SECURITY_CREDENTIALS_KEY"] = oldKey.line
        for name in ["live", "live2"] {
            let added = try Self.run(["broker", "add", "--user", "ravi", "--name", name, "--api-type", "zerodha", "--mode", "live",
                                      "--credentials-stdin"], env, stdin: secret)
            #expect(added.status == 0, "\(added.stderr)")
        }
        let brokers = try db.query("SELECT broker_id::text FROM brokers WHERE name LIKE 'live%' ORDER BY name").rows.map { $0[0]! }
        #expect(brokers.count == 2)
        #expect(try db.query("SELECT count(*) FROM brokers WHERE credentials_key_id = 'old'").scalar == "2")

        // pg_dump of the whole database holds none of the secret's values.
        let dump = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["pg_dump", "--no-owner", url], environment: [:])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("api_credentials_encrypted") && dump.stdout.contains("AES-256-GCM"))
        for marker in ["SECRET-zq81-MARKER", "TOTP-SEED-MARKER", "kite-KEY-7731", "api_secret"] {
            #expect(!dump.stdout.contains(marker), "no plaintext '\(marker)' in the dump")
        }
        let read = try Self.run(["broker", "credentials", brokers[0]], env)
        #expect(read.status == 0 && read.stdout == secret)

        // A ciphertext moved to another row does not decrypt.
        try db.query("""
            UPDATE brokers SET api_credentials_encrypted = (SELECT api_credentials_encrypted FROM brokers WHERE broker_id = $1::uuid)
            WHERE broker_id = $2::uuid
            """, [brokers[0], brokers[1]])
        let moved = try Self.run(["broker", "credentials", brokers[1]], env)
        #expect(moved.status == 65 && moved.stderr.contains("do not decrypt"))
        let fixed = try Self.run(["broker", "add", "--user", "ravi", "--name", "live3", "--api-type", "zerodha", "--mode", "live",
                                  "--credentials-stdin"], env, stdin: secret)
        #expect(fixed.status == 0)
        try db.query("DELETE FROM brokers WHERE broker_id = $1::uuid", [brokers[1]])

        // Rotation: the new key first, the old one still listed to decrypt.
        env["ALGOTRADER_SECURITY_CREDENTIALS_KEY"] = "\(newKey.line),\(oldKey.line)"
        let rotated = try Self.run(["keys", "rotate"], env)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("re-encrypted 2"))
        #expect(try db.query("SELECT count(*) FROM brokers WHERE api_credentials_encrypted <> '{}' AND credentials_key_id = 'new'").scalar == "2")
        env["ALGOTRADER_SECURITY_CREDENTIALS_KEY"] = newKey.line  // the old key is gone now
        for broker in try db.query("SELECT broker_id::text FROM brokers WHERE api_credentials_encrypted <> '{}'").rows.map({ $0[0]! }) {
            let after = try Self.run(["broker", "credentials", broker], env)
            #expect(after.status == 0 && after.stdout == secret, "every row decrypts under the new key alone")
        }
        #expect(try Self.run(["keys", "rotate"], env).stdout.contains("re-encrypted 0"), "rotating again changes nothing")
        let listed = try Self.run(["broker", "list"], env)
        #expect(listed.stdout.contains("new") && !listed.stdout.contains("MARKER"))
        let audited = try db.query("SELECT action, count(*) FROM audit_log GROUP BY action ORDER BY action").rows.map { "\($0[0]!)=\($0[1]!)" }
        #expect(audited.contains("broker_added=4") && audited.contains("keys_rotated=2") && audited.contains("credentials_read=3"))
    }

    @Test func strategiesAreCheckedSoftDeletedWithHistoryAndRiskIsSetPerUser() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let env = Self.environment(url)
        let ids = try SampleRows.userStrategyBrokerTrade(db, username: "meera")
        let bad = try Self.run(["strategy", "add", "--user", "meera", "--name", "x", "--type", "sma_crossover", "--params", #"{"fast": 5}"#], env)
        #expect(bad.status == 64 && bad.stderr.contains("symbol"), "the parameter is named: \(bad.stderr)")
        let good = try Self.run(["strategy", "add", "--user", "meera", "--name", "cross", "--type", "sma_crossover",
                                 "--params", #"{"symbol": "INFY", "fast": 5, "slow": 20, "quantity": 10}"#], env)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try Self.run(["strategy", "disable", ids.strategyID], env).status == 0)
        #expect(try db.query("SELECT is_active FROM strategies WHERE strategy_id = $1::uuid", [ids.strategyID]).scalar == "f")
        #expect(try Self.run(["strategy", "remove", ids.strategyID], env).status == 0)
        #expect(try db.query("SELECT deleted_at IS NOT NULL FROM strategies WHERE strategy_id = $1::uuid", [ids.strategyID]).scalar == "t")
        #expect(try db.query("SELECT count(*) FROM trades WHERE strategy_id = $1::uuid", [ids.strategyID]).scalar == "1", "history kept")
        #expect(throws: PostgresError.self, "even a hard delete cannot cascade trade history away") {
            try db.query("DELETE FROM strategies WHERE strategy_id = $1::uuid", [ids.strategyID])
        }
        let listed = try Self.run(["strategy", "list"], env)
        #expect(listed.stdout.contains("cross") && !listed.stdout.contains(ids.strategyID))
        #expect(try Self.run(["strategy", "list", "--all"], env).stdout.contains(ids.strategyID))

        let set = try Self.run(["risk", "set", "--user", "meera", "--daily-loss-limit", "5000", "--max-position-size", "200000",
                                "--max-drawdown-percent", "8.5", "--max-risk-per-trade", "2"], env)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try Self.run(["risk", "show", "--user", "meera"], env).stdout.contains("200000.00"))
        #expect(try Self.run(["risk", "set", "--user", "meera", "--daily-loss-limit", "5000", "--max-position-size", "1",
                              "--max-drawdown-percent", "150", "--max-risk-per-trade", "2"], env).status == 64)
        let actions = try db.query("SELECT action FROM audit_log ORDER BY audit_id").rows.map { $0[0] ?? "" }
        #expect(actions == ["strategy_added", "strategy_stopped", "strategy_removed", "risk_changed"])
    }
    @Test func keysCurveWritesASecretOnlyItsOwnerReadsAndPrintsItsPublicKey() throws {
        let path = NSTemporaryDirectory() + "curve-\(UUID().uuidString.prefix(8)).key"
        let made = try CommandRunner.algotrader(["keys", "curve", "--secret-file", path], environment: [:])
        #expect(made.status == 0, "\(made.stderr)")
        let secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try CurveKeyPair(secretKey: secret).publicKey == made.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try CommandRunner.algotrader(["keys", "curve", "--secret-file", path], environment: [:]).status == 64, "never overwrites a key")
    }
}
