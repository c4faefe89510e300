import Engine
import Foundation
import Postgres
import TestSupport
import Synchronization
import Testing

@Suite("Daemon lifecycle: one instance per database, prompt clean stop")
struct LifecycleTests {
    @Test func aSecondInstanceOnTheSameDatabaseIsRefusedAndSIGTERMStopsWithinTenSeconds() throws {
        let url = try TestDatabase.makeMigrated()
        let daemon = try DaemonProcess(databaseURL: url)
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: "\(daemon.directory)/control.ipc") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let dir = NSTemporaryDirectory() + "second-\(UUID().uuidString.prefix(8))"
        let second = try CommandRunner.algotrader(["serve", "--config", Repository.shippedConfig], environment: [
            "ALGOTRADER_DATABASE_URL": url, "ALGOTRADER_MARKET_DATA_CONNECT": "ipc://\(dir)-feed", "ALGOTRADER_BUS_BIND": "ipc://\(dir)-bus",
            "ALGOTRADER_BUS_REPLAY_BIND": "ipc://\(dir)-replay", "ALGOTRADER_GATEWAY_BIND": "ipc://\(dir)-gw",
            "ALGOTRADER_CONTROL_BIND": "ipc://\(dir)-ctl", "ALGOTRADER_STRATEGIES_BIND": "ipc://\(dir)-strategies", "ALGOTRADER_JOURNAL_DIR": "\(dir)-journal",
        ])
        #expect(second.status == 69 && second.stderr.contains("another algotrader serve"), "\(second.stderr)")
        let started = Date()
        #expect(daemon.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 10, "SIGTERM drains and exits within 10 s")
    }

    /// A start that fails late (here the intake, the last component to start: its market-data
    /// port is taken) stops everything that had started, in reverse order, before it exits 78,
    /// and the exit is not a crash. Before, such a start exited with the threads still running;
    /// CI once saw such a daemon die by a signal.
    @Test func aStartThatFailsLateStopsWhatHadStartedAndExitsWithTheConfigurationStatus() throws {
        let url = try TestDatabase.makeMigrated()
        let taken = try PortHolder()
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_MARKET_DATA_BIND": "tcp://127.0.0.1:\(taken.port)",
                                                                       "ALGOTRADER_LOGGING_LEVEL": "debug"], captureStderr: true)
        let deadline = Date().addingTimeInterval(60)
        while daemon.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!daemon.process.isRunning, "the daemon exits")
        #expect(daemon.stop() == 78, "exit 78, not a signal: \(daemon.stderr.suffix(1_500))")
        #expect(daemon.stderr.contains("market_data.bind: cannot use 'tcp://127.0.0.1:\(taken.port)'"), "\(daemon.stderr.suffix(1_500))")
        let line = daemon.stderr.split(separator: "\n").first { $0.contains("start failed: stopping what had started") }
        #expect(line.map { ["strategies", "event_writer", "gateway", "control", "replay", "halts"].allSatisfy($0.contains) } == true,
                "\(String(describing: line))")
        let stopped = daemon.stderr.split(separator: "\n").filter { $0.hasSuffix(" stopping") && $0.contains("component=") }
            .compactMap { $0.split(separator: "component=").last?.split(separator: " ").first.map(String.init) }
        #expect(stopped == ["control", "strategy_processes", "strategies", "halts", "order_desk", "event_writer", "gateway", "replay", "maintenance"],
                "every started component stopped, the last started first: \(stopped)")
        withExtendedLifetime(taken) {}
    }

    /// An idle daemon's threads sleep in blocking waits: none wakes more than 100 times a second
    /// (what still wakes is a timer with a job: heartbeats, flushes, the watchdog's turn), and
    /// the receiver, the writers and the replay and control sockets not at all. Before, the
    /// gateway's thread polled its outbox every 1 ms, about 1,000 wake-ups a second with nothing
    /// to do, and those four woke 10-20 times a second to look at their stop flags.
    @Test func anIdleDaemonsThreadsWakeAtMostAHundredTimesASecond() throws {
        let url = try TestDatabase.makeMigrated()
        let daemon = try DaemonProcess(databaseURL: url)
        defer { _ = daemon.stop() }
        #expect(daemon.waitUntilStarted())
        Thread.sleep(forTimeInterval: 1)
        func wakeUps() -> [String: Int] {
            let tasks = "/proc/\(daemon.process.processIdentifier)/task"
            var out: [String: Int] = [:]
            for tid in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
                let status = (try? String(contentsOfFile: "\(tasks)/\(tid)/status", encoding: .utf8)) ?? ""
                let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
                out[tid] = line.flatMap { Int($0.split(separator: "\t").last ?? "") }
            }
            return out
        }
        let before = wakeUps()
        Thread.sleep(forTimeInterval: 3)
        let after = wakeUps()
        let perSecond = after.compactMap { tid, n in before[tid].map { (tid, (n - $0) / 3) } }.sorted { $0.1 > $1.1 }
        #expect(!perSecond.isEmpty)
        #expect((perSecond.first?.1 ?? 0) <= 100, "wake-ups a second per thread: \(perSecond.prefix(5))")
        let tasks = "/proc/\(daemon.process.processIdentifier)/task"
        let named = perSecond.map { tid, rate in
            (((try? String(contentsOfFile: "\(tasks)/\(tid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines), rate)
        }
        for prefix in ["feed ", "tick writer", "replay", "control"] {
            let threads = named.filter { $0.0.hasPrefix(prefix) }
            #expect(!threads.isEmpty, "a thread named \(prefix)... is there: \(named.map(\.0))")
            #expect(threads.allSatisfy { $0.1 <= 2 }, "idle wake-ups a second: \(threads)")
        }
    }
}
