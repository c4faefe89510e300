public import Foundation

/// A gateway or market-data publisher of brokers/python as operators run it
/// (`python -m algotrader_brokers gateway|feed --config FILE`, docs/brokers.md), from the brokers'
/// venv, with its stderr (its log) in a file.
public final class BrokerProcess {
    public let process = Process()
    public let logPath: String

    /// `role` is `gateway` or `feed`; `config` the TOML text, written beside the log.
    public init(_ role: String, config: String, directory: String) throws {
        let name = "\(role)-\(UUID().uuidString.prefix(6))"
        let configPath = "\(directory)/\(name).toml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        logPath = "\(directory)/\(name).log"
        process.executableURL = try BrokersPython.require()
        process.arguments = ["-m", "algotrader_brokers", role, "--config", configPath]
        process.currentDirectoryURL = BrokersPython.package
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment["PYTHONPATH"] = BrokersPython.package.path
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit { _ = stop() }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM (a clean exit: 0), SIGKILL after 10 s; the exit status.
    @discardableResult
    public func stop() -> Int32 {
        BrokersPython.stop(process)
        return process.terminationStatus
    }
}

extension BrokersPython {
    /// SIGTERM, then SIGKILL if the child is still there after 10 s (a test never waits forever:
    /// a child started from a Dispatch worker inherits its blocked signals unless it unblocks them).
    public static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
