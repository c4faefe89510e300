public import Foundation

/// Runs the real `algotrader` binary (or another program) and captures what it printed.
public enum CommandRunner {
    public struct Outcome: Sendable {
        public let status: Int32
        public let stderr: String
        public let stdout: String
    }

    /// `algotrader ARGUMENTS` with the test's environment minus ALGOTRADER_* plus `environment`,
    /// `stdin` written to its standard input (then closed).
    public static func algotrader(_ arguments: [String], environment extra: [String: String], stdin: String? = nil) throws -> Outcome {
        try run(try Repository.binary(), arguments, environment: extra, stdin: stdin)
    }

    public static func run(_ executable: URL, _ arguments: [String], environment extra: [String: String], stdin: String? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALGOTRADER_") }
        environment.merge(extra) { $1 }
        process.environment = environment
        let errorPipe = Pipe(), outputPipe = Pipe(), inputPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = outputPipe
        process.standardInput = inputPipe
        try process.run()
        if let stdin { inputPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inputPipe.fileHandleForWriting.close()
        // Read both pipes at once so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        // nonisolated(unsafe) is safe here: `errors` is written only by the one block below and read
        // only after group.wait() returns, which orders that write before the read.
        nonisolated(unsafe) var errors = Data()
        group.enter()
        DispatchQueue.global().async {
            errors = errorPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self),
                       stdout: String(decoding: output, as: UTF8.self))
    }
}
