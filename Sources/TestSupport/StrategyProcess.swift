public import Foundation

/// A strategy process of the user's, as the tests run one: a Python program on the SDK
/// (`sdk/python` on its path, nothing installed) connecting to a daemon's strategy socket with a
/// strategy's name and secret. Its stderr goes to a file in `directory`, so a failing test can
/// say what the process saw.
public final class StrategyProcess {
    public let process = Process()
    public let stderrPath: String

    /// `script` is a path relative to the repository (e.g. `sdk/python/examples/sma_crossover.py`).
    public init(script: String, arguments: [String] = [], endpoint: String, strategy: String, token: String, directory: String,
                environment extra: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repository.root.appendingPathComponent(script).path] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment["PYTHONPATH"] = Repository.root.appendingPathComponent("sdk/python").path
        environment["PYTHONUNBUFFERED"] = "1"
        environment["ALGOTRADER_STRATEGY_ENDPOINT"] = endpoint
        environment["ALGOTRADER_STRATEGY"] = strategy
        environment["ALGOTRADER_STRATEGY_TOKEN"] = token
        environment.merge(extra) { $1 }
        process.environment = environment
        stderrPath = "\(directory)/strategy-\(UUID().uuidString.prefix(6)).log"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGKILL: the process ends without a word to the engine (as a crash would).
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM and wait (at most 30 s, then SIGKILL); the exit status, nil if it died of a signal.
    @discardableResult
    public func stop() -> Int32? {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(); return nil }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    deinit { if process.isRunning { kill() } }
}
