import Foundation
import Postgres
import TestSupport
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
            "ALGOTRADER_CONTROL_BIND": "ipc://\(dir)-ctl", "ALGOTRADER_JOURNAL_DIR": "\(dir)-journal",
        ])
        #expect(second.status == 69 && second.stderr.contains("another algotrader serve"), "\(second.stderr)")
        let started = Date()
        #expect(daemon.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 10, "SIGTERM drains and exits within 10 s")
    }
}
