import Foundation
import Postgres
import Security
import TestSupport
import Testing
import TradingCore

/// Issue 20, credentials: a gateway gets its live brokers' decrypted credentials from the engine
/// in `welcome`, only for brokers its connection is authenticated for, and the secrets appear in
/// no log line, `system_logs` row, command line or environment of either process.
@Suite("Credentials to gateways")
struct GatewayCredentialsTests {
    /// The stand-in gateway's last `welcome` (a gateway that says hello before the engine has
    /// read its live brokers is welcomed again when it has).
    static func lastWelcome(_ dir: String) throws -> [String: Any] {
        let log = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/gateway.json"))) as? [String: Any]
        let later = (log?["received"] as? [[String]] ?? []).last { $0.first == "welcome" }.flatMap { $0.last }
        if let later, let object = try JSONSerialization.jsonObject(with: Data(later.utf8)) as? [String: Any] { return object }
        return try #require(log?["welcome"] as? [String: Any])
    }

    @Test func aGatewayReceivesOnlyItsAuthenticatedBrokersCredentialsAndNoLogOrProcessListShowsThem() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let mine = try DaemonGatewayTests.liveUser(db, "asha")
        let wrongKey = try DaemonGatewayTests.liveUser(db, "ravi")
        let notMine = try DaemonGatewayTests.liveUser(db, "meera")
        let key = try CredentialKey.generate(), other = try CredentialKey.generate()
        let secret = "kite-secret-\(UUID().uuidString)", foreign = "meera-secret-\(UUID().uuidString)"
        func seal(_ ids: SampleRows.IDs, _ name: String, _ value: String, _ with: CredentialKey) throws {
            let plain = Array(JSONObjectWriter.object { $0.add("api_key", "key-\(name)"); $0.add("api_secret", value) }.utf8)
            try db.query("UPDATE brokers SET api_credentials_encrypted = $2::jsonb WHERE broker_id = $1::uuid",
                         [ids.brokerID, try CredentialCipher.seal(plain, key: with, userID: ids.userID, brokerID: ids.brokerID)])
        }
        try seal(mine, "asha", secret, key)
        try seal(wrongKey, "ravi", "ravi-secret", other)  // sealed under a key the engine does not hold
        try seal(notMine, "meera", foreign, key)
        let daemon = try DaemonProcess(databaseURL: url, environment: [
            "ALGOTRADER_SECURITY_CREDENTIALS_KEY": key.line,
            // This gateway's endpoint is authenticated for two of the three live brokers.
            "ALGOTRADER_GATEWAY_IPC_BROKERS": "\(mine.brokerID),\(wrongKey.brokerID)",
            "ALGOTRADER_LOGGING_LEVEL": "debug",
        ], captureStderr: true)
        // Once serving, the engine has read its live brokers: the gateway's first welcome grants them.
        #expect(HostileInputTests.waitFor(30) { daemon.stderr.contains("serving") })
        let dir = daemon.directory
        let gateway = try DaemonGatewayTests.startGateway(dir, brokerID: [mine.brokerID, wrongKey.brokerID, notMine.brokerID].joined(separator: ","), [])
        defer { if gateway.isRunning { gateway.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: "\(dir)/gateway.ready") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/gateway.ready"), "the engine welcomed the gateway")

        // Neither process's command line or environment holds a secret (the daemon's holds the
        // key ring, which is not a broker's credential).
        for pid in [daemon.process.processIdentifier, gateway.processIdentifier] {
            for part in ["cmdline", "environ"] {
                let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(part)"))) ?? Data(), as: UTF8.self)
                #expect(!text.contains(secret) && !text.contains(foreign) && !text.contains("ravi-secret"), "/proc/\(pid)/\(part)")
            }
        }
        #expect(FileManager.default.createFile(atPath: "\(dir)/gateway.stop", contents: nil))
        gateway.waitUntilExit()
        #expect(daemon.stop() == 0)

        let welcome = try Self.lastWelcome(dir)
        #expect(Set(welcome["broker_ids"] as? [String] ?? []) == [mine.brokerID, wrongKey.brokerID])
        #expect(welcome["refused_broker_ids"] as? [String] == [notMine.brokerID])
        let credentials = try #require(welcome["credentials"] as? [String: Any])
        #expect(Set(credentials.keys) == [mine.brokerID], "only the broker it is authenticated for and whose credentials open")
        // The API secret signs the daily login, which the engine does itself: a gateway never needs it.
        #expect((credentials[mine.brokerID] as? [String: String]) == ["api_key": "key-asha"], "the API secret stays in the engine")
        let everythingReceived = try String(contentsOfFile: "\(dir)/gateway.json", encoding: .utf8)
        #expect(!everythingReceived.contains(secret), "no message to the gateway carries the API secret")
        let problems = try #require(welcome["credential_errors"] as? [String: String])
        #expect(Set(problems.keys) == [wrongKey.brokerID] && problems[wrongKey.brokerID]?.contains("cannot be opened") == true, "\(problems)")

        let stderr = daemon.stderr
        #expect(stderr.contains("could not be given"), "the failure to open one is logged (without the secret)")
        #expect(!stderr.contains(secret) && !stderr.contains(foreign) && !stderr.contains("ravi-secret"), "no secret in the daemon's log")
        let rows = try db.query("SELECT count(*) FROM system_logs WHERE message LIKE '%' || $1 || '%' OR data::text LIKE '%' || $1 || '%'", [secret]).scalar
        #expect(rows == "0")
    }

    @Test func aDaemonWithoutAKeyTellsTheGatewayWhyItGetsNoCredentialsAndABadKeyIsAConfigurationError() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonGatewayTests.liveUser(db, "asha")
        let key = try CredentialKey.generate()
        try db.query("UPDATE brokers SET api_credentials_encrypted = $2::jsonb WHERE broker_id = $1::uuid",
                     [ids.brokerID, try CredentialCipher.seal(Array(#"{"api_key": "k"}"#.utf8), key: key, userID: ids.userID, brokerID: ids.brokerID)])
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_LOGGING_LEVEL": "info"], captureStderr: true)
        #expect(HostileInputTests.waitFor(30) { daemon.stderr.contains("serving") })
        let dir = daemon.directory
        let gateway = try DaemonGatewayTests.startGateway(dir, brokerID: ids.brokerID, [])
        defer { if gateway.isRunning { gateway.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: "\(dir)/gateway.ready") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(FileManager.default.createFile(atPath: "\(dir)/gateway.stop", contents: nil))
        gateway.waitUntilExit()
        #expect(daemon.stop() == 0)
        let welcome = try Self.lastWelcome(dir)
        #expect((welcome["credentials"] as? [String: Any])?.isEmpty == true)
        #expect((welcome["credential_errors"] as? [String: String])?[ids.brokerID]?.contains("no credentials key") == true, "\(welcome)")

        // A key that is set but not a key: serve refuses to start, naming the key.
        let bad = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_SECURITY_CREDENTIALS_KEY": "not-a-key"], captureStderr: true)
        bad.process.waitUntilExit()
        #expect(bad.process.terminationStatus == 78 && bad.stderr.contains("security.credentials_key"), "\(bad.stderr)")
    }
}
