import Foundation
import Security
import Storage
import TestSupport
import Testing

/// `algotrader broker login`: Kite's daily request_token -> access_token exchange, done by the
/// engine's binary against the fake Kite Connect (Kite's servers are unreachable from here).
@Suite("Broker login: Kite's daily session token")
struct BrokerLoginTests {
    static func run(_ arguments: [String], _ env: [String: String], stdin: String? = nil) throws -> CommandRunner.Outcome {
        try CommandRunner.algotrader(arguments + ["--config", Repository.shippedConfig], environment: env, stdin: stdin)
    }

    static func credentials(_ broker: String, _ env: [String: String]) throws -> [String: String] {
        let read = try run(["broker", "credentials", broker], env)
        #expect(read.status == 0, "\(read.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: String]) ?? [:]
    }

    @Test func theRequestTokenIsExchangedOnceAndTheAccessTokenSealedBesideTheOtherCredentials() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let dir = NSTemporaryDirectory() + "kite-login-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fake = try FakeKiteProcess(directory: dir)
        defer { fake.stop() }
        var env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N": "10",
                   "ALGOTRADER_SECURITY_CREDENTIALS_KEY": try CredentialKey.generate(id: "k1").line,
                   "ALGOTRADER_BROKERS_KITE_API_URL": fake.root]
        #expect(try Self.run(["user", "add", "ravi", "--email", "ravi@example.com"], env, stdin: "pw\n").status == 0)
        let secret = #"{"api_key":"kiteapp1","api_secret":"SECRET-login-MARKER","user_id":"AB1234"}"#
        let added = try Self.run(["broker", "add", "--user", "ravi", "--name", "kite", "--api-type", "zerodha", "--mode", "live",
                                  "--credentials-stdin"], env, stdin: secret)
        #expect(added.status == 0, "\(added.stderr)")
        let broker = try #require(try db.query("SELECT broker_id::text FROM brokers WHERE name = 'kite'").scalar)

        // Without a token (and no terminal): the login page for the account's api_key.
        let page = try Self.run(["broker", "login", broker], env)
        #expect(page.status == 0 && page.stdout == "https://kite.zerodha.com/connect/login?v=3&api_key=kiteapp1\n", "\(page)")

        try fake.control("request_token", ["api_key": "kiteapp1", "api_secret": "SECRET-login-MARKER", "request_token": "rt0001",
                                           "access_token": "day1-access-token", "user_id": "AB1234"])
        // The whole redirect URL pasted works as well as the bare token.
        let login = try Self.run(["broker", "login", broker, "--request-token",
                                  "https://example.com/kite/callback?request_token=rt0001&action=login&status=success"], env)
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.contains("Kite client AB1234") && !login.stdout.contains("day1-access-token"), "\(login.stdout)")
        let renewed = try Self.credentials(broker, env)
        #expect(renewed == ["api_key": "kiteapp1", "api_secret": "SECRET-login-MARKER", "user_id": "AB1234",
                            "access_token": "day1-access-token"])
        let posts = (try fake.control("state")["requests"] as? [[String: Any]] ?? []).filter { $0["path"] as? String == "/session/token" }
        #expect(posts.count == 1 && posts.first?["status"] as? Int == 200)
        let audit = try db.query("SELECT details::text FROM audit_log WHERE action = 'credentials_changed' AND target = $1", [broker]).rows
        #expect(audit.count == 1)
        #expect(audit.first?[0]?.contains("AB1234") == true && audit.first?[0]?.contains("day1-access-token") == false)

        // A request token is single use: Kite's refusal is passed through and nothing changes.
        let again = try Self.run(["broker", "login", broker, "--request-token", "rt0001"], env)
        #expect(again.status == 65 && again.stderr.contains("TokenException") && again.stderr.contains("Token is invalid or has expired"),
                "\(again.stderr)")
        #expect(try Self.credentials(broker, env)["access_token"] == "day1-access-token")

        // A login on Kite as another client is refused before anything is stored.
        try fake.control("request_token", ["api_key": "kiteapp1", "api_secret": "SECRET-login-MARKER", "request_token": "rt0002",
                                           "access_token": "other-client-token", "user_id": "ZZ9999"])
        let other = try Self.run(["broker", "login", broker, "--request-token", "rt0002"], env)
        #expect(other.status == 65 && other.stderr.contains("ZZ9999") && other.stderr.contains("nothing stored"), "\(other.stderr)")
        #expect(try Self.credentials(broker, env)["access_token"] == "day1-access-token")

        // Something that is not a token is refused as the operator's mistake, not as Kite's answer
        // (failed before: "Kite Connect answered something unexpected").
        let typo = try Self.run(["broker", "login", broker, "--request-token", "rt-0001"], env)
        #expect(typo.status == 65 && typo.stderr.contains("not a Kite request token") && !typo.stderr.contains("answered"), "\(typo.stderr)")
        // A failed login on Kite's page, and a redirect without a token, are refused as such.
        let failed = try Self.run(["broker", "login", broker, "--request-token", "https://example.com/cb?action=login&status=failure"], env)
        #expect(failed.status == 65 && failed.stderr.contains("status=failure"), "\(failed.stderr)")

        // Kite unreachable: exit 69 (try again), nothing stored.
        env["ALGOTRADER_BROKERS_KITE_API_URL"] = "http://127.0.0.1:\(LocalPort.unused())"
        let down = try Self.run(["broker", "login", broker, "--request-token", "rt0003"], env)
        #expect(down.status == 69 && down.stderr.contains("could not be reached"), "\(down.stderr)")
        env["ALGOTRADER_BROKERS_KITE_API_URL"] = "ftp://kite"
        let badURL = try Self.run(["broker", "login", broker], env)
        #expect(badURL.status == 78 && badURL.stderr.contains("brokers.kite_api_url"), "\(badURL.stderr)")
    }

    @Test func onlyALiveKiteAccountWithItsAppKeysCanLogIn() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N": "10",
                   "ALGOTRADER_SECURITY_CREDENTIALS_KEY": try CredentialKey.generate(id: "k1").line]
        #expect(try Self.run(["user", "add", "mina", "--email", "mina@example.com"], env, stdin: "pw\n").status == 0)
        for (name, api, creds) in [("angel", "angel", #"{"api_key":"a","client_code":"C1"}"#), ("nosecret", "zerodha", #"{"api_key":"k"}"#)] {
            #expect(try Self.run(["broker", "add", "--user", "mina", "--name", name, "--api-type", api, "--mode", "live", "--credentials-stdin"],
                                 env, stdin: creds).status == 0)
        }
        #expect(try Self.run(["broker", "add", "--user", "mina", "--name", "paper", "--api-type", "zerodha"], env).status == 0)
        let ids = Dictionary(uniqueKeysWithValues: try db.query("SELECT name, broker_id::text FROM brokers").rows.map { ($0[0]!, $0[1]!) })
        let angel = try Self.run(["broker", "login", ids["angel"]!], env)
        #expect(angel.status == 65 && angel.stderr.contains("need pin, totp_secret"), "\(angel.stderr)")
        let noSecret = try Self.run(["broker", "login", ids["nosecret"]!], env)
        #expect(noSecret.status == 65 && noSecret.stderr.contains("api_key and api_secret"), "\(noSecret.stderr)")
        let paper = try Self.run(["broker", "login", ids["paper"]!], env)
        #expect(paper.status == 65 && paper.stderr.contains("no credentials"), "\(paper.stderr)")
        let none = try Self.run(["broker", "login", "00000000-0000-0000-0000-000000000000"], env)
        #expect(none.status == 65 && none.stderr.contains("no broker"), "\(none.stderr)")
    }
}
