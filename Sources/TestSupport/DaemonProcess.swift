public import Foundation

/// The real `algotrader` binary, run as a child process by the end-to-end tests.
public enum Repository {
    /// The project's folder (from this file's path).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var shippedConfig: String { root.appendingPathComponent("config/algotrader.yaml").path }

    public struct Missing: Error, CustomStringConvertible {
        public let what: String
        public var description: String { "missing \(what)" }
        public init(what: String) { self.what = what }
    }

    /// The `algotrader` executable built beside the test bundle (`swift build --build-tests`
    /// builds it too), or in `.build/debug`.
    public static func binary() throws -> URL {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("algotrader"))
        }
        candidates.append(root.appendingPathComponent(".build/debug/algotrader"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw Missing(what: "the algotrader binary (run 'swift build' first)")
        }
        return found
    }
}

/// `algotrader serve` on a scratch folder's ipc endpoints.
public final class DaemonProcess {
    public let process = Process()
    /// A fresh folder for the sockets and files of one test.
    public let directory: String
    /// The market-data endpoint the daemon connects to (a test's publisher binds it).
    public var feed: String { "ipc://\(directory)/feed.ipc" }

    /// Where the daemon's stderr goes (its log and the stop line), when the test asked for it.
    public let stderrPath: String?

    /// `pinMarketRules: false` runs the shipped configuration's market rules as they are (the
    /// tests that check the defaults themselves). `directory` reuses an earlier daemon's folder
    /// (its sockets and journal: a restart). `wrapper` runs the daemon through a command (e.g.
    /// `unshare` with a mount of its own); `captureStderr` keeps its log in the folder.
    public init(databaseURL: String, environment extra: [String: String] = [:], pinMarketRules: Bool = true,
                directory reused: String? = nil, wrapper: [String] = [], captureStderr: Bool = false) throws {
        directory = reused ?? NSTemporaryDirectory() + "algotrader-daemon-\(UUID().uuidString.prefix(8))"
        // Private, as an ipc:// gateway endpoint must be: whoever reaches the socket is trusted
        // with gateway.ipc_brokers (every live broker here).
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if let program = wrapper.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(wrapper.dropFirst()) + [try Repository.binary().path, "serve", "--config", Repository.shippedConfig]
        } else {
            process.executableURL = try Repository.binary()
            process.arguments = ["serve", "--config", Repository.shippedConfig]
        }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment["ALGOTRADER_DATABASE_URL"] = databaseURL
        environment["ALGOTRADER_MARKET_DATA_CONNECT"] = "ipc://\(directory)/feed.ipc"
        environment["ALGOTRADER_BUS_BIND"] = "ipc://\(directory)/bus.ipc"
        environment["ALGOTRADER_BUS_REPLAY_BIND"] = "ipc://\(directory)/replay.ipc"
        environment["ALGOTRADER_GATEWAY_BIND"] = "ipc://\(directory)/gateway.ipc"
        environment["ALGOTRADER_CONTROL_BIND"] = "ipc://\(directory)/control.ipc"
        environment["ALGOTRADER_STRATEGIES_BIND"] = "ipc://\(directory)/strategies.ipc"
        environment["ALGOTRADER_GATEWAY_IPC_BROKERS"] = "*"
        environment["ALGOTRADER_JOURNAL_DIR"] = "\(directory)/journal"
        environment["ALGOTRADER_METRICS_BIND"] = ""
        environment["ALGOTRADER_LOGGING_LEVEL"] = "warning"
        // The tests of earlier behaviour pin the market rules that would change their numbers or
        // fire at the wall clock's 15:20/15:30 IST: no charges, no session actions, no rate limits
        // or breakers. The tests of those rules turn them back on through `extra`.
        if pinMarketRules { environment.merge(Self.plainMarketRules) { $1 } }
        environment.merge(extra) { $1 }
        process.environment = environment
        if captureStderr {
            let path = "\(directory)/stderr-\(UUID().uuidString.prefix(6)).log"
            FileManager.default.createFile(atPath: path, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: path)
            stderrPath = path
        } else {
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            stderrPath = nil
        }
        try process.run()
    }

    /// Waits until the daemon has started its services (the control socket binds after the
    /// database checks, the journal replay and the strategies): a test that breaks PostgreSQL
    /// must not do it while `serve` is still starting, which is a failure to start (exit 69).
    @discardableResult
    public func waitUntilStarted(timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: "\(directory)/control.ipc") && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return FileManager.default.fileExists(atPath: "\(directory)/control.ipc")
    }

    /// What the daemon wrote to stderr so far (empty unless `captureStderr`).
    public var stderr: String {
        stderrPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
    }

    /// The `key=value` pairs of the stop line (`received=N accepted=N stored=N ...`), if written.
    public var stopLine: [String: Int]? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("received=") }) else { return nil }
        var pairs: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let n = Int(parts[1]) { pairs[String(parts[0])] = n }
        }
        return pairs
    }

    /// The daemon's resident memory now (VmRSS, bytes), from /proc.
    public var residentBytes: Int? { Self.residentBytes(pid: process.processIdentifier) }

    /// A process's resident memory now (VmRSS, bytes), from /proc.
    public static func residentBytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").compactMap({ Int($0) }).first else { return nil }
        return kb * 1024
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Market rules off (see init); a test merges its own settings over these.
    public static let plainMarketRules: [String: String] = [
        "ALGOTRADER_CHARGES_ENABLED": "false",
        "ALGOTRADER_MARKET_SESSION_ACTIONS": "false",
        "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_SECOND_PER_USER": "0",
        "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_MINUTE_PER_USER": "0",
        "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_SECOND_PER_STRATEGY": "0",
        "ALGOTRADER_CONTROLS_MAX_ORDERS_PER_MINUTE_PER_STRATEGY": "0",
        "ALGOTRADER_CONTROLS_BREAKER_ORDERS_PER_INTENT": "0",
        "ALGOTRADER_ORDERS_ALGO_ID": "TEST-ALGO-1",
    ]

    /// SIGTERM and wait; returns the exit status (`nil` if it died of a signal). A daemon still
    /// running 120 s after SIGTERM is killed (and reads as `nil`): a stop that hangs fails its
    /// test instead of holding up the whole suite.
    public func stop() -> Int32? { Self.terminate(process, within: 120) }

    /// SIGTERM, then SIGKILL if `process` still runs after `seconds`; its exit status, or nil
    /// when a signal ended it (the web process's stop shares it).
    public static func terminate(_ process: Process, within seconds: Double) -> Int32? {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// SIGKILL: the daemon ends without a word (a crash, an OOM kill), mid-whatever it was doing.
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Runs a Python script from Tests/python with arguments; returns its exit status.
    public static func python(_ script: String, _ arguments: [String]) throws -> Int32 {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Repository.root.appendingPathComponent("Tests/python/\(script)").path] + arguments
        try python.run()
        python.waitUntilExit()
        return python.terminationStatus
    }
}
