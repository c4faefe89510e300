import Foundation

/// A PostgreSQL cluster of one test's own (scripts/pg-cluster.sh), for fault tests that stop it
/// the way a crash does: the shared test cluster must stay up for the other tests.
public final class ScratchCluster {
    public let directory: String
    public let port: Int

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        directory = NSTemporaryDirectory() + "algotrader-pg-fault-\(UUID().uuidString.prefix(8))"
        // A port of its own (see LocalPort): its restart after a crash must bind it again.
        // Away from the project's fixed ones (5543x).
        port = LocalPort.unused()
        try start()
    }

    deinit {
        try? run("reset", directory)
    }

    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/algotrader" }

    /// `pg_ctl -m immediate stop`: what a crash or a pulled plug does.
    public func crash() throws { try run("crash", directory) }

    /// Starts (or restarts) the cluster; a second try after a second, for a start slowed past
    /// pg_ctl's wait by a loaded machine.
    public func start() throws {
        do {
            try run("start", directory, String(port))
        } catch {
            Thread.sleep(forTimeInterval: 1)
            try run("start", directory, String(port))
        }
    }

    /// Runs the script with posix_spawn and waitpid: Foundation's `Process.waitUntilExit` was
    /// seen to miss the exit of this short-lived script (left a zombie, waited forever).
    private func run(_ arguments: String...) throws {
        let script = Repository.root.appendingPathComponent("scripts/pg-cluster.sh").path
        let log = NSTemporaryDirectory() + "pg-cluster-\(UUID().uuidString.prefix(8)).log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failed(description: "cannot run \(script): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let message = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failed(description: "pg-cluster.sh \(arguments.joined(separator: " ")): \(message)")
        }
    }
}
