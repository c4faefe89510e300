import Config
import Foundation
import TestSupport
import Testing

/// Sockets that change state or reveal users' data (bus, replay, gateway, control) stay on this
/// machine unless CURVE guards them: `serve` exits 78 naming the key otherwise. Before, each of
/// them bound any address in plain text.
@Suite("Sockets beyond loopback need CURVE")
struct SocketExposureTests {
    @Test(arguments: [
        ("ALGOTRADER_BUS_BIND", "bus.bind"), ("ALGOTRADER_BUS_REPLAY_BIND", "bus.replay_bind"),
        ("ALGOTRADER_GATEWAY_BIND", "gateway.bind"), ("ALGOTRADER_CONTROL_BIND", "control.bind"),
        ("ALGOTRADER_STRATEGIES_BIND", "strategies.bind"),
    ])
    func aStateChangingSocketBoundBeyondLoopbackWithoutKeysExits78NamingTheKey(variable: String, key: String) throws {
        for endpoint in ["tcp://0.0.0.0:5990", "tcp://*:5990", "tcp://eth0:5990", "tcp://[::]:5990"] {
            let outcome = try CommandRunner.algotrader(["serve", "--config", Repository.shippedConfig], environment: [
                "ALGOTRADER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", variable: endpoint,
            ])
            #expect(outcome.status == 78, "\(key)=\(endpoint): \(outcome.stderr)")
            #expect(outcome.stderr.contains(key) && outcome.stderr.contains("CURVE"), "\(outcome.stderr)")
        }
    }

    @Test func loopbackAndFilesystemEndpointsAreLocalAndEverythingElseIsNot() {
        for local in ["tcp://127.0.0.1:5556", "tcp://127.1.2.3:1", "tcp://localhost:5", "tcp://[::1]:5", "tcp://lo:5", "ipc:///run/a.ipc",
                      "inproc://x", "tcp://10.0.0.1;127.0.0.1:5"] {
            #expect(EngineConfig.isLocal(local), "\(local)")
        }
        for exposed in ["tcp://0.0.0.0:5", "tcp://*:5", "tcp://192.168.1.2:5", "tcp://[::]:5", "tcp://eth0:5", "tcp://127.0.0.1.evil:5",
                        "tcp://1270.0.0.1:5", "ws://127.0.0.1:5", "pgm://eth0;239.192.1.1:5555", "tcp://127.0.0.256:5"] {
            #expect(!EngineConfig.isLocal(exposed), "\(exposed)")
        }
    }

    @Test func anIPCGatewayEndpointTrustedWithBrokersMustLiveInAPrivateDirectory() throws {
        let url = try TestDatabase.makeMigrated()
        let open = NSTemporaryDirectory() + "gw-open-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let daemon = try DaemonProcess(databaseURL: url, environment: ["ALGOTRADER_GATEWAY_BIND": "ipc://\(open)/gateway.ipc"], captureStderr: true)
        let deadline = Date().addingTimeInterval(30)
        while daemon.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let status = daemon.stop()
        #expect(status == 78, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("gateway.bind") && daemon.stderr.contains("admits every user"), "\(daemon.stderr)")
    }
}
