public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// `algotrader web` for a test, against a running daemon's control socket: it gets a forwarder
/// secret of its own (the daemon must read the same file), a free loopback port, and answers
/// HTTP requests through `call`.
public final class WebProcess {
    public let process = Process()
    public let port: Int
    public let stderrPath: String
    public var base: String { "http://127.0.0.1:\(port)" }

    /// The forwarder secret file to give the daemon (`ALGOTRADER_CONTROL_FORWARDER_SECRET_FILE`)
    /// before starting it, in `directory`.
    public static func forwarderSecret(in directory: String) throws -> String {
        let path = "\(directory)/forwarder.secret"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: path, contents: Data("web-forwarder-\(UUID().uuidString)".utf8),
                                             attributes: [.posixPermissions: 0o600]) else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    public init(controlEndpoint: String, forwarderSecretFile: String, environment extra: [String: String] = [:]) throws {
        port = LocalPort.unused()
        stderrPath = NSTemporaryDirectory() + "algotrader-web-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = try Repository.binary()
        process.arguments = ["web", "--config", Repository.shippedConfig]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment["ALGOTRADER_CONTROL_BIND"] = controlEndpoint
        environment["ALGOTRADER_CONTROL_FORWARDER_SECRET_FILE"] = forwarderSecretFile
        environment["ALGOTRADER_HTTP_BIND"] = "127.0.0.1:\(port)"
        environment["ALGOTRADER_LOGGING_LEVEL"] = "warning"
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the server answers `/api/v1/health` at all (200 or 503).
    @discardableResult
    public func waitUntilServing(timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if (try? call("GET", "/api/v1/health", timeout: 2))?.status != nil { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// An HTTP answer.
    public struct Answer: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as JSON (an object or an array), or nil.
        public var json: Any? { try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        public var object: [String: Any] { json as? [String: Any] ?? [:] }
        public var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
        public func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    public struct NoAnswer: Error, CustomStringConvertible {
        public let description: String
    }

    /// One request; `body` is sent as JSON when it is a dictionary, as bytes when Data.
    public func call(_ method: String, _ path: String, token: String? = nil, body: Any? = nil, headers: [String: String] = [:],
                     timeout: Double = 30) throws -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let data = body as? Data {
            request.httpBody = data
        } else if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let result = Mutex<Result<Answer, NoAnswer>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let session = URLSession(configuration: .ephemeral)
        session.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var fields: [String: String] = [:]
                for (k, v) in http.allHeaderFields { fields["\(k)"] = "\(v)" }
                result.withLock { $0 = .success(Answer(status: http.statusCode, headers: fields, body: data ?? Data())) }
            } else {
                result.withLock { $0 = .failure(NoAnswer(description: "\(method) \(path): \(error.map { "\($0)" } ?? "no answer")")) }
            }
            done.signal()
        }.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        return try result.withLock { $0! }.get()
    }

    /// SIGTERM and wait; the exit status, or nil if it died of a signal (or was killed after 30 s).
    @discardableResult
    public func stop() -> Int32? { DaemonProcess.terminate(process, within: 30) }

}
