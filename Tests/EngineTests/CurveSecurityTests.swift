import Foundation
import Postgres
import Security
import TestSupport
import Testing
import ZeroMQ

/// CURVE on the engine's bound sockets with the ZAP allow-list: a listed client gets the bus and
/// the control socket; an unlisted one, though it knows the server's key, gets nothing through.
@Suite("CURVE and the ZAP allow-list")
struct CurveSecurityTests {
    @Test func anUnlistedCurveClientGetsNoMessageThroughWhileAListedOneDoes() throws {
        let url = try TestDatabase.makeMigrated()
        let db = try TestDatabase.connect(url)
        let ids = try DaemonOrdersTests.addUser(db, "curve", maxPositionSize: "100000000")
        try db.query("UPDATE users SET password_hash = $2 WHERE user_id = $1::uuid", [ids.userID, try PasswordHasher(logN: 10).hash("pw")])
        let server = try CurveKeyPair.generate(), listed = try CurveKeyPair.generate(), unlisted = try CurveKeyPair.generate()
        let dir = NSTemporaryDirectory() + "curve-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try server.secretKey.write(toFile: "\(dir)/server.key", atomically: true, encoding: .utf8)
        try "# admitted clients\n\(listed.publicKey)\n".write(toFile: "\(dir)/clients", atomically: true, encoding: .utf8)
        try listed.secretKey.write(toFile: "\(dir)/listed.key", atomically: true, encoding: .utf8)
        try unlisted.secretKey.write(toFile: "\(dir)/unlisted.key", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(databaseURL: url, environment: [
            "ALGOTRADER_SECURITY_CURVE_SECRET_KEY_FILE": "\(dir)/server.key",
            "ALGOTRADER_SECURITY_CURVE_ALLOWED_CLIENTS_FILE": "\(dir)/clients",
        ])
        defer { _ = daemon.stop() }

        // Two bus subscribers, both knowing the server's public key.
        var subscribers: [(Process, String)] = []
        for (name, pair) in [("listed", listed), ("unlisted", unlisted)] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/curve_subscriber.py").path,
                           "ipc://\(daemon.directory)/bus.ipc", server.publicKey, pair.publicKey, pair.secretKey,
                           "\(dir)/\(name).ready", "\(dir)/stop", "\(dir)/\(name).count"]
            try p.run()
            subscribers.append((p, name))
        }
        defer { for (p, _) in subscribers where p.isRunning { p.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while !["listed", "unlisted"].allSatisfy({ FileManager.default.fileExists(atPath: "\(dir)/\($0).ready") }) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try DaemonProcess.python("publish_price_path.py", [daemon.feed, "RELIANCE", "NSE", "3000", "7", "\(dir)/prices.json"]) == 0)
        Thread.sleep(forTimeInterval: 2)
        #expect(FileManager.default.createFile(atPath: "\(dir)/stop", contents: nil), "the stop file tells the Python peers to finish")
        for (p, _) in subscribers { p.waitUntilExit() }
        let counts = try ["listed", "unlisted"].map { Int(try String(contentsOfFile: "\(dir)/\($0).count", encoding: .utf8)) ?? -1 }
        let published = Int(try db.query("SELECT count(*) FROM bus_events").scalar ?? "0")!
        #expect(published > 0)
        #expect(counts[0] == published, "the listed client got every event")
        #expect(counts[1] == 0, "the unlisted client got nothing")

        // The control socket: the listed key logs in; the unlisted one gets no answer at all.
        func login(_ keyFile: String) throws -> CommandRunner.Outcome {
            try CommandRunner.algotrader(["ctl", "login", "curve", "--endpoint", "ipc://\(daemon.directory)/control.ipc",
                                          "--token-file", "\(dir)/token", "--timeout", "2",
                                          // `=`: a Z85 key may start with '-', which would read as an option (failed once so).
                                          "--curve-server-key=\(server.publicKey)",
                                          "--curve-key-file", keyFile], environment: [:], stdin: "pw\n")
        }
        #expect(try login("\(dir)/listed.key").status == 0)
        let refused = try login("\(dir)/unlisted.key")
        #expect(refused.status == 69 && refused.stderr.contains("no answer"), "\(refused.stderr)")
        let plain = try CommandRunner.algotrader(["ctl", "status", "--endpoint", "ipc://\(daemon.directory)/control.ipc",
                                                  "--token-file", "\(dir)/token", "--timeout", "2"], environment: [:])
        #expect(plain.status == 69, "a client without CURVE gets no answer either")
    }

    /// Whether a CURVE client with `keys` completes the handshake with `endpoint` (nil: neither
    /// success nor an authentication failure within 5 s).
    static func handshake(_ endpoint: String, _ type: ZMQSocketType, keys: CurveKeyPair, server: String) throws -> Bool? {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: type, linger: 0)
        defer { socket.close() }
        try socket.setCurveClient(publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey: server)
        let monitor = try socket.monitor(endpoint: "inproc://handshake-\(UUID().uuidString)",
                                         events: [.handshakeSucceeded, .handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedNoDetail])
        defer { monitor.close() }
        try monitor.setReceiveTimeout(milliseconds: 5_000)
        try socket.connect(endpoint)
        guard let event = try ZMQMonitorEvent.receive(from: monitor) else { return nil }
        if event.kind == .handshakeSucceeded { return true }
        return event.kind == .handshakeFailedAuth ? false : nil
    }

    @Test func eachSocketAdmitsOnlyTheKeysListedForItAGatewaysKeyOpensNothingElse() throws {
        // A per-socket list replaces the shared one for that socket; the gateway's keys file is
        // the gateway socket's list. Checked by the CURVE handshake itself (ZAP's answer).
        let url = try TestDatabase.makeMigrated()
        let server = try CurveKeyPair.generate(), subscriber = try CurveKeyPair.generate(), operatorKey = try CurveKeyPair.generate()
        let gateway = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let dir = NSTemporaryDirectory() + "curve-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try server.secretKey.write(toFile: "\(dir)/server.key", atomically: true, encoding: .utf8)
        try "\(subscriber.publicKey)\n".write(toFile: "\(dir)/clients", atomically: true, encoding: .utf8)
        try "\(operatorKey.publicKey)\n".write(toFile: "\(dir)/operators", atomically: true, encoding: .utf8)
        try "\(gateway.publicKey) *\n".write(toFile: "\(dir)/gateways", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(databaseURL: url, environment: [
            "ALGOTRADER_SECURITY_CURVE_SECRET_KEY_FILE": "\(dir)/server.key",
            "ALGOTRADER_SECURITY_CURVE_ALLOWED_CLIENTS_FILE": "\(dir)/clients",
            "ALGOTRADER_CONTROL_CURVE_CLIENTS_FILE": "\(dir)/operators",
            "ALGOTRADER_GATEWAY_CURVE_KEYS_FILE": "\(dir)/gateways",
            "ALGOTRADER_GATEWAY_IPC_BROKERS": "",
        ])
        defer { _ = daemon.stop() }
        let sockets: [(name: String, type: ZMQSocketType, admitted: String)] = [
            ("control", .dealer, "operator"), ("bus", .sub, "subscriber"), ("replay", .dealer, "subscriber"), ("gateway", .dealer, "gateway"),
        ]
        let keys = ["subscriber": subscriber, "operator": operatorKey, "gateway": gateway, "stranger": stranger]
        for socket in sockets {
            for (name, pair) in keys.sorted(by: { $0.key < $1.key }) {
                let admitted = try Self.handshake("ipc://\(daemon.directory)/\(socket.name).ipc", socket.type, keys: pair, server: server.publicKey)
                #expect(admitted == (name == socket.admitted), "\(name)'s key on the \(socket.name) socket: \(String(describing: admitted))")
            }
        }
    }

    @Test func aCurveKeyWithoutAnAllowListIsABadConfigurationNamingTheKey() throws {
        let dir = NSTemporaryDirectory() + "curve-cfg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try CurveKeyPair.generate().secretKey.write(toFile: "\(dir)/server.key", atomically: true, encoding: .utf8)
        let outcome = try CommandRunner.algotrader(["serve", "--config", Repository.shippedConfig], environment: [
            "ALGOTRADER_DATABASE_URL": "postgresql:///nowhere", "ALGOTRADER_MARKET_DATA_CONNECT": "tcp://127.0.0.1:1",
            "ALGOTRADER_BUS_BIND": "ipc://\(dir)/bus", "ALGOTRADER_SECURITY_CURVE_SECRET_KEY_FILE": "\(dir)/server.key",
        ])
        #expect(outcome.status == 78 && outcome.stderr.contains("security.curve_allowed_clients_file"), "\(outcome.stderr)")
    }
}
