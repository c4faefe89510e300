public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// The broker processes' Python: the venv brokers/venv.sh builds (`make test` builds it before
/// the Swift suite), with the brokers' SDKs at their pins.
public enum BrokersPython {
    public static var interpreter: URL { Repository.root.appendingPathComponent(".build-brokers/venv/bin/python") }
    public static var package: URL { Repository.root.appendingPathComponent("brokers/python") }

    public static func require() throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: interpreter.path) else {
            throw Repository.Missing(what: "the brokers' venv \(interpreter.path) (run brokers/venv.sh .build-brokers/venv; make test does)")
        }
        return interpreter
    }
}

/// A fake of a broker's documented API as a child process of a test: Kite Connect
/// (brokers/python/tests/fake_kite.py: REST and the Ticker WebSocket) or Angel One SmartAPI
/// (fake_angel.py: REST, the order-status WebSocket and the scrip master) or ICICI Direct Breeze
/// (fake_icici.py: REST under `/breezeapi/api/v1/`), each on one port with `/_fake/` control
/// endpoints.
public final class FakeBrokerProcess {
    public enum Broker: String, Sendable {
        case kite, angel, icici
    }

    public let broker: Broker
    public let process = Process()
    public let port: Int
    public let logPath: String

    public init(directory: String, broker: Broker = .kite) throws {
        self.broker = broker
        let ready = "\(directory)/fake-\(broker.rawValue).port"
        logPath = "\(directory)/fake-\(broker.rawValue).log"
        process.executableURL = try BrokersPython.require()
        process.arguments = [BrokersPython.package.appendingPathComponent("tests/fake_\(broker.rawValue).py").path, "--port", "0",
                             "--ready-file", ready]
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                self.port = port
                return
            }
            guard process.isRunning, Date() < deadline else {
                process.terminate()
                throw Repository.Missing(what: "a running fake \(broker.rawValue): " + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    deinit { stop() }

    public var root: String { "http://127.0.0.1:\(port)" }
    /// Kite's Ticker root, or Angel One's order-status WebSocket.
    public var wsRoot: String { broker == .kite ? "ws://127.0.0.1:\(port)/ws" : "ws://127.0.0.1:\(port)/smart-order-update" }
    /// Angel One's scrip master download.
    public var scripMaster: String { "\(root)/OpenAPI_File/files/OpenAPIScripMaster.json" }

    /// SIGTERM, then SIGKILL if it is still there after 10 s (a test never waits forever on it).
    public func stop() { BrokersPython.stop(process) }

    /// `POST /_fake/NAME` with a JSON body (or GET without one); the fake's JSON answer.
    @discardableResult
    public func control(_ name: String, _ body: [String: Any]? = nil) throws -> [String: Any] {
        var request = URLRequest(url: URL(string: "\(root)/_fake/\(name)")!, timeoutInterval: 10)
        if let body {
            request.httpMethod = "POST"
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (status, data) = try Self.send(request)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Repository.Missing(what: "an answer from /_fake/\(name): HTTP \(status) \(String(decoding: data, as: UTF8.self))")
        }
        return object
    }

    /// The fake's orders for a client (the `state` control endpoint): Kite's user id, Angel's
    /// client code or ICICI's user id (ICICI's fake lists every order with its `user_id`).
    public func orders(user: String) throws -> [[String: Any]] {
        let state = try control("state")
        if let all = state["orders"] as? [[String: Any]] { return all.filter { $0["user_id"] as? String == user } }
        return ((state["orders"] as? [String: Any])?[user] as? [[String: Any]]) ?? []
    }

    static func send(_ request: URLRequest) throws -> (Int, Data) {
        let result = Mutex<Result<(Int, Data), any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            result.withLock {
                if let error { $0 = .failure(error) } else { $0 = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())) }
            }
            done.signal()
        }.resume()
        done.wait()
        guard let outcome = result.withLock({ $0 }) else { throw Repository.Missing(what: "an answer") }
        return try outcome.get()
    }
}

/// The Kite fake by the name its tests know it by.
public typealias FakeKiteProcess = FakeBrokerProcess
