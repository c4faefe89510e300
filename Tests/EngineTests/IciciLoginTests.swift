import Foundation
import Logging
import Postgres
import Security
import Storage
import TestSupport
import Testing
import TradingCore
import ZeroMQ
@testable import Engine

/// `algotrader broker login` for an ICICI Direct account: the API_Session from ICICI's login
/// page traded at Breeze's customer details (a GET with a JSON body) for the day's session token,
/// against the fake Breeze (ICICI's servers are unreachable from here).
@Suite("Broker login: ICICI Direct's API_Session")
struct IciciLoginTests {
    static let apiKey = "IC+app/key=1"
    static let apiSecret = "SECRET-icici-MARKER"

    /// A live icici account for asha, the fake Breeze knowing its api_key, and the environment.
    static func rig(_ name: String) throws -> (db: PostgresConnection, fake: FakeBrokerProcess, env: [String: String], broker: String) {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let dir = NSTemporaryDirectory() + "icici-login-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fake = try FakeBrokerProcess(directory: dir, broker: .icici)
        let env = ["ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_SECURITY_PASSWORD_SCRYPT_LOG_N": "10",
                   "ALGOTRADER_SECURITY_CREDENTIALS_KEY": try CredentialKey.generate(id: "k1").line,
                   "ALGOTRADER_BROKERS_ICICI_API_URL": fake.root + "/breezeapi/api/v1/"]
        #expect(try BrokerLoginTests.run(["user", "add", "asha", "--email", "asha@example.com"], env, stdin: "pw\n").status == 0)
        let sealed = JSONObjectWriter.object { $0.add("api_key", apiKey); $0.add("api_secret", apiSecret) }
        let added = try BrokerLoginTests.run(["broker", "add", "--user", "asha", "--name", "icici", "--api-type", "icici", "--mode", "live",
                                              "--credentials-stdin"], env, stdin: sealed)
        #expect(added.status == 0, "\(added.stderr)")
        let broker = try #require(try db.query("SELECT broker_id::text FROM brokers WHERE name = 'icici'").scalar)
        try fake.control("account", ["api_key": apiKey, "api_secret": apiSecret, "user_id": "XY604721", "api_session": "12345678"])
        return (db, fake, env, broker)
    }

    static func customerDetails(_ fake: FakeBrokerProcess) throws -> [[String: Any]] {
        (try fake.control("state")["requests"] as? [[String: Any]] ?? []).filter { $0["path"] as? String == "customerdetails" }
    }

    @Test func theAPISessionIsTradedForASealedSessionTokenKeepingTheSecretAndAWrongOneStoresNothing() throws {
        let (db, fake, environment, broker) = try Self.rig("flow")
        var env = environment
        defer { fake.stop(); db.close() }

        // Without the value (and no terminal): ICICI's login page for the URL-encoded api_key.
        let page = try BrokerLoginTests.run(["broker", "login", broker], env)
        #expect(page.status == 0 && page.stdout == "https://api.icicidirect.com/apiuser/login?api_key=IC%2Bapp%2Fkey%3D1\n", "\(page)")

        // A wrong (or used) API_Session: Breeze's refusal in its words, nothing stored.
        let wrong = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", "99999999"], env)
        #expect(wrong.status == 65 && wrong.stderr.contains("ICICI Direct refused the login") && wrong.stderr.contains("Invalid session.")
                && wrong.stderr.contains("nothing was stored"), "\(wrong.stderr)")
        #expect(try BrokerLoginTests.credentials(broker, env)["session_token"] == nil)
        // Kite's option is not taken for an ICICI account's value.
        #expect(try BrokerLoginTests.run(["broker", "login", broker, "--request-token", "12345678"], env).status == 64)

        let login = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", "12345678"], env)
        #expect(login.status == 0 && login.stdout.contains("logged in at ICICI Direct as XY604721") && login.stdout.contains("ctl reload"),
                "\(login.stdout) \(login.stderr)")
        let stored = try BrokerLoginTests.credentials(broker, env)
        let token = try #require(stored["session_token"])
        let decoded = Data(base64Encoded: token).map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(decoded.hasPrefix("XY604721:") && decoded.count > "XY604721:".count, "base64 of user_id:session_key, as Breeze answered")
        #expect(stored["user_id"] == "XY604721" && stored["api_key"] == Self.apiKey && stored["api_secret"] == Self.apiSecret,
                "the api_key and api_secret are kept: the gateway signs every Breeze call with the secret")
        #expect(!login.stdout.contains(token) && !login.stderr.contains(token), "the token is never shown")

        // The whole redirect URL, its parameter in either spelling, works the same.
        for redirect in ["https://127.0.0.1/icici?apisession=12345678", "http://127.0.0.1/icici?status=ok&API_Session=12345678"] {
            let again = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", redirect], env)
            #expect(again.status == 0 && again.stdout.contains("as XY604721") && !again.stdout.contains(token), "\(again.stderr)")
        }
        #expect(try BrokerLoginTests.credentials(broker, env)["session_token"] == token, "Breeze answers one session a day")

        let audit = try db.query("SELECT details::text FROM audit_log WHERE action = 'credentials_changed' AND target = $1", [broker]).rows
        #expect(audit.count == 3, "one row per login stored, none for the refused one")
        #expect(audit.allSatisfy { ($0[0] ?? "").contains("XY604721") && !($0[0] ?? "").contains(token) && !($0[0] ?? "").contains(Self.apiSecret) },
                "\(audit)")

        // Each call was Breeze's: a GET whose body is the SDK's compact JSON, the secret not in it.
        let calls = try Self.customerDetails(fake)
        #expect(calls.count == 4 && calls.allSatisfy { $0["method"] as? String == "GET" }, "\(calls)")
        #expect(calls.last?["body"] as? String == #"{"SessionToken":"12345678","AppKey":"IC+app/key=1"}"#, "\(calls)")
        #expect(calls.map { $0["error"] as? String ?? "" } == ["Invalid session.", "", "", ""])

        // Breeze unreachable: 69, the stored token untouched.
        env["ALGOTRADER_BROKERS_ICICI_API_URL"] = "http://127.0.0.1:\(LocalPort.unused())/breezeapi/api/v1/"
        let down = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", "12345678"], env)
        #expect(down.status == 69 && down.stderr.contains("ICICI Direct Breeze could not be reached"), "\(down.stderr)")
        #expect(try BrokerLoginTests.credentials(broker, env)["session_token"] == token)
    }

    @Test func anOutageWithoutBreezesJSONIsRetriedButBreezesRefusalIsFinal() throws {
        let (db, fake, env, broker) = try Self.rig("retry")
        defer { fake.stop(); db.close() }
        // A 503 page from something in front of Breeze, once: the second attempt logs in.
        try fake.control("fail", ["method": "GET", "path": "customerdetails", "status": 503, "error": "", "count": 1,
                                  "raw": "<html>Service Unavailable</html>", "http": 503])
        let login = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", "12345678"], env)
        #expect(login.status == 0 && login.stdout.contains("as XY604721"), "\(login.stdout) \(login.stderr)")
        #expect(try Self.customerDetails(fake).count == 2)

        // An expired API_Session is Breeze's JSON refusal: asked once, not again.
        try fake.control("expire", ["api_key": Self.apiKey])
        let expired = try BrokerLoginTests.run(["broker", "login", broker, "--api-session", "12345678"], env)
        #expect(expired.status == 65 && expired.stderr.contains("Resource not available.") && expired.stderr.contains("nothing was stored"),
                "\(expired.stderr)")
        #expect(try Self.customerDetails(fake).count == 3)
    }

    @Test func theAPISessionIsReadFromTheValueOrAnyRedirectSpellingAndJunkIsRefused() throws {
        #expect(try IciciSessionLogin.apiSession(from: " 12345678\n") == "12345678")
        #expect(try IciciSessionLogin.apiSession(from: "https://example.com/cb?apisession=51234567") == "51234567")
        #expect(try IciciSessionLogin.apiSession(from: "example.com/cb?x=1&ApiSession=77&y=2#top") == "77")
        #expect(try IciciSessionLogin.apiSession(from: "https://example.com/cb?API_Session=abc123") == "abc123")
        for junk in ["", "https://example.com/cb?request_token=1", "12 34", "1234;rm"] {
            #expect(throws: IciciSessionLogin.Failure.self, "\(junk)") { try IciciSessionLogin.apiSession(from: junk) }
        }
    }

    @Test func anICICIGatewaysWelcomeCarriesTheAPISecretAndAZerodhaOnesDoesNot() throws {
        let key = try CredentialKey.generate(id: "k1")
        let server = GatewayServer(settings: .init(endpoint: "inproc://icici-welcome"), context: try ZMQContext(), connectionString: "",
                                   logger: Logger(label: "test"), keyRing: try CredentialKeyRing(keys: [key]))
        let state = GatewayServer.State()
        let kite = "11111111-1111-1111-1111-111111111111", icici = "22222222-2222-2222-2222-222222222222", user = "33333333-3333-3333-3333-333333333333"
        func sealed(_ broker: String, _ fields: (inout JSONObjectWriter) -> Void) throws -> SealedCredentials {
            SealedCredentials(userID: user, envelope: try CredentialCipher.seal(Array(JSONObjectWriter.object(fields).utf8), key: key,
                                                                                userID: user, brokerID: broker))
        }
        state.liveBrokers = [kite: "zerodha", icici: "icici"]
        state.credentials = [
            kite: try sealed(kite) { $0.add("api_key", "kite-key"); $0.add("api_secret", "kite-secret"); $0.add("access_token", "at") },
            icici: try sealed(icici) {
                $0.add("api_key", "icici-key"); $0.add("api_secret", "icici-secret"); $0.add("session_token", "st"); $0.add("user_id", "XY604721")
                $0.add("password", "not-for-the-gateway")
            },
        ]
        let welcome = try #require(try JSONSerialization.jsonObject(with: Data(server.welcome(accepted: [kite, icici], refused: [], state).text.utf8))
                                   as? [String: Any])
        let credentials = try #require(welcome["credentials"] as? [String: [String: String]])
        #expect(credentials[kite] == ["api_key": "kite-key", "access_token": "at"], "Kite's secret signs only the login, the engine's")
        #expect(credentials[icici] == ["api_key": "icici-key", "api_secret": "icici-secret", "session_token": "st", "user_id": "XY604721"],
                "Breeze signs every call with the secret; the other engine-only members still stay")
    }
}
