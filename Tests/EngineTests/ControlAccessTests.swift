import Foundation
import Postgres
import TestSupport
import Testing
import TradingCore
import ZeroMQ

/// Who may knock on the control socket, attacked the way a local stranger would: each test failed
/// on the code before (login limits were global, peers never recorded, refusals appended without
/// bound, `"engine": "true"` halted the caller, errors told which usernames exist).
@Suite("Control socket access: per-peer limits, recorded peers, strict fields")
struct ControlAccessTests {
    /// A control client over TCP from `source` (an address on the loopback range).
    struct Client {
        let context: ZMQContext
        let socket: ZMQSocket

        init(port: Int, source: String = "127.0.0.1") throws {
            context = try ZMQContext()
            socket = try ZMQSocket(context: context, type: .dealer, linger: 0)
            try socket.setReceiveTimeout(milliseconds: 15_000)
            // libzmq's "source;destination" form binds the connection's local end to `source`.
            try socket.connect("tcp://\(source):0;127.0.0.1:\(port)")
        }

        func send(_ command: String, _ body: String) throws -> (status: String, body: JSONValue)? {
            _ = try socket.send([Array(command.utf8), Array(body.utf8)])
            guard let frames = try socket.receive(), frames.count == 2 else { return nil }
            return (String(decoding: frames[0], as: UTF8.self), try JSONValue.parse(frames[1]))
        }

        func login(_ user: String, _ password: String, extra: String = "") throws -> (status: String, body: JSONValue)? {
            var w = JSONObjectWriter()
            w.add("username", user)
            w.add("password", password)
            let text = w.text
            return try send("login", extra.isEmpty ? text : String(text.dropLast()) + "," + extra + "}")
        }
    }

    static func freePort() -> Int { LocalPort.unused() }

    static func startDaemon(_ url: String, port: Int, extra: [String: String] = [:]) throws -> DaemonProcess {
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_CONTROL_BIND": "tcp://127.0.0.1:\(port)"].merging(extra) { $1 })
        let probe = try Client(port: port)
        let deadline = Date().addingTimeInterval(20)
        try probe.socket.setReceiveTimeout(milliseconds: 500)
        while Date() < deadline, (try? probe.send("status", "{}")) == nil {}
        return daemon
    }

    @Test func failedLoginsFromOnePeerLockOutNeitherOtherUsersNorOtherPeers() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let admin = try ControlSocketTests.addUser(db, "root", role: "admin", password: "admin-pw")
        _ = try ControlSocketTests.addUser(db, "bob", role: "trader", password: "bob-pw")
        let port = Self.freePort()
        let daemon = try Self.startDaemon(url, port: port)
        defer { _ = daemon.stop() }
        let attacker = try Client(port: port, source: "127.0.0.1")
        for _ in 0..<5 { #expect(try attacker.login("root", "guess")?.body["error"]?.stringValue == "login failed") }
        #expect(try attacker.login("root", "admin-pw")?.body["error"]?.stringValue?.contains("too many failed logins") == true,
                "the (user, peer) pair is limited")
        #expect(try attacker.login("bob", "bob-pw")?.status == "ok", "another user from the same peer is not locked out")
        let elsewhere = try Client(port: port, source: "127.0.0.2")
        #expect(try elsewhere.login("root", "admin-pw")?.status == "ok", "the admin from another address is not locked out")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND peer = '127.0.0.1'").scalar == "6",
                "every failure records its peer (5 failures and one refusal)")
        #expect(try db.query("SELECT host(ip_address) FROM user_sessions WHERE user_id = $1::uuid", [admin.userID]).scalar == "127.0.0.2")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE peer IS NULL").scalar == "0")
    }

    @Test func aFloodOfRefusedLoginsAppendsABoundedNumberOfAuditRowsAndOversizedRequestsAreDroppedUnread() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        _ = try ControlSocketTests.addUser(db, "bob", role: "trader", password: "bob-pw")
        let port = Self.freePort()
        let daemon = try Self.startDaemon(url, port: port)
        defer { _ = daemon.stop() }
        let attacker = try Client(port: port)
        for i in 0..<300 { _ = try attacker.login("user\(i % 7)", "guess") }
        let rows = Int(try db.query("SELECT count(*) FROM audit_log").scalar ?? "0") ?? 0
        #expect(rows <= 20 + 2, "20 failures (the per-peer limit) and one row per limit for the refusals, not 300: \(rows)")
        let refused = try db.query("SELECT coalesce(sum((details->>'refused')::int), 0) FROM audit_log WHERE details->>'reason' = 'rate_limited'").scalar
        #expect(refused == "1", "the first refusal is written at once; later ones are counted into the next row")

        // A 4 MiB username never reaches the parser (ZMQ_MAXMSGSIZE drops the connection), and a
        // long one that fits is audited cut to 64 characters.
        let big = try Client(port: port, source: "127.0.0.3")
        try big.socket.setReceiveTimeout(milliseconds: 1_000)
        #expect(try big.login(String(repeating: "x", count: 4 << 20), "pw") == nil, "no answer: the message was dropped unread")
        let long = try Client(port: port, source: "127.0.0.4")
        #expect(try long.login(String(repeating: "y", count: 30_000), "pw")?.body["error"]?.stringValue == "login failed")
        #expect(try db.query("SELECT max(length(target)) FROM audit_log WHERE peer = '127.0.0.4'").scalar == "65", "64 characters and '…'")
        #expect(try Client(port: port, source: "127.0.0.5").login("bob", "bob-pw")?.status == "ok", "the daemon still answers")
    }

    @Test func controlFieldsAreTypedStrictlyAndErrorsDoNotTellWhichUsersExist() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let bob = try ControlSocketTests.addUser(db, "bob", role: "trader", password: "bob-pw")
        _ = try ControlSocketTests.addUser(db, "carol", role: "trader", password: "carol-pw")
        let port = Self.freePort()
        let daemon = try Self.startDaemon(url, port: port)
        defer { _ = daemon.stop() }
        let client = try Client(port: port)
        let token = try #require(try client.login("bob", "bob-pw")?.body["token"]?.stringValue)
        func request(_ command: String, _ fields: String) throws -> (status: String, body: JSONValue)? {
            try client.send(command, "{\"token\":\"\(token)\"\(fields.isEmpty ? "" : "," + fields)}")
        }
        let truthy = try request("halt", "\"engine\":\"true\",\"reason\":\"x\"")
        #expect(truthy?.status == "error" && truthy?.body["error"]?.stringValue?.contains("must be true or false") == true)
        #expect(try request("halt", "\"engine\":1")?.status == "error")
        #expect(try db.query("SELECT count(*) FROM halts").scalar == "0", "a truthy string halts nobody (it used to halt the caller)")
        #expect(try request("orders", "\"limit\":\"5\"")?.status == "error")
        #expect(try request("strategy.stop", "\"strategy_id\":42")?.status == "error")
        #expect(try request("halt", "\"strategy_id\":\"\(bob.strategyID)\",\"engine\":true")?.body["error"]?.stringValue?.contains("one scope") == true)
        let existing = try request("positions", "\"user\":\"carol\"")?.body["error"]?.stringValue
        let missing = try request("positions", "\"user\":\"nobody\"")?.body["error"]?.stringValue
        #expect(existing == "no user 'carol' you may act on" && missing == "no user 'nobody' you may act on", "\(existing ?? "") / \(missing ?? "")")
        #expect(try request("halt", "\"reason\":\"bad\\u0000reason\"")?.status == "error", "control characters in text are refused")
        let foreign = try request("halt", "\"scope\":\"engine\"")
        #expect(foreign?.body["error"]?.stringValue?.contains("takes no field 'scope'") == true, "an unknown field is refused, never read as a self-halt")
        _ = try client.socket.send([Array("status".utf8)] + Array(repeating: [UInt8](repeating: 0x20, count: 60 << 10), count: 20))
        #expect(try client.socket.receive().flatMap { try JSONValue.parse($0[1])["error"]?.stringValue }?.contains("larger than") == true,
                "a request split into many frames under the per-frame cap is refused whole")
        #expect(try request("halt", "\"reason\":\"real\"")?.status == "ok")
        #expect(try db.query("SELECT count(*) FROM halts WHERE user_id = $1::uuid", [bob.userID]).scalar == "1")
    }

    @Test func aFrontEndWithTheForwarderSecretHasItsClientsLimitedAndRecordedByTheirOwnAddresses() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let bob = try ControlSocketTests.addUser(db, "bob", role: "trader", password: "bob-pw")
        let port = Self.freePort()
        let secretFile = NSTemporaryDirectory() + "forwarder-\(UUID().uuidString.prefix(8))"
        try "a-forwarder-secret-of-some-length".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let daemon = try Self.startDaemon(url, port: port, extra: ["ALGOTRADER_CONTROL_FORWARDER_SECRET_FILE": secretFile])
        defer { _ = daemon.stop() }
        let web = try Client(port: port)
        let forged = try web.login("bob", "bob-pw", extra: "\"forwarded_for\":\"203.0.113.7\"")
        #expect(forged?.body["error"]?.stringValue?.contains("forwarder secret") == true, "without the secret a forwarded address is refused")
        func via(_ address: String) -> String {
            "\"forwarded_for\":\"\(address)\",\"user_agent\":\"Firefox/140\",\"forwarder_secret\":\"a-forwarder-secret-of-some-length\""
        }
        for _ in 0..<5 { _ = try web.login("bob", "guess", extra: via("203.0.113.7")) }
        #expect(try web.login("bob", "bob-pw", extra: via("203.0.113.7"))?.body["error"]?.stringValue?.contains("too many") == true)
        #expect(try web.login("bob", "bob-pw", extra: via("198.51.100.9"))?.status == "ok", "another browser behind the same front end logs in")
        let session = try db.query("SELECT host(ip_address), user_agent FROM user_sessions WHERE user_id = $1::uuid", [bob.userID]).rows
        #expect(session.count == 1 && session[0][0] == "198.51.100.9" && session[0][1] == "Firefox/140")
        #expect(try db.query("SELECT count(*) FROM audit_log WHERE peer = '203.0.113.7'").scalar == "6")
    }
}
