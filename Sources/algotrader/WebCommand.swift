import ArgumentParser
import Config
import Engine
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Web
import ZeroMQ

/// `algotrader web`: the HTTP API and dashboard, a process of its own (docs/web.md). It reads
/// the configuration's `http.*`, `control.bind` and `control.forwarder_secret_file`; it needs no
/// database URL, key ring or database role, since every answer comes from the engine's control
/// socket.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the JSON API (/api/v1) and the dashboard (/) at http.bind, steering the engine through its control socket."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try Startup.loadConfig(options, purpose: .web)
        let logger = Startup.bootstrapLogging(level: config.logLevel)
        func configurationError(_ key: String, _ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("algotrader web: \(key): \(message)\n".utf8))
            return ExitCode(ExitStatus.config)
        }
        // The engine records and limits logins by the address the web forwards, and takes it only
        // with the forwarder secret; without it every browser would count as this process.
        let secretFile = config.controlForwarderSecretFile
        guard !secretFile.isEmpty else {
            throw configurationError("control.forwarder_secret_file", "is required by algotrader web (the same file the engine reads)")
        }
        guard let secret = (try? String(contentsOfFile: secretFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
              secret.count >= 16 else {
            throw configurationError("control.forwarder_secret_file", "cannot read '\(secretFile)' or it holds under 16 characters")
        }
        // The web speaks to the control socket without CURVE keys of its own, so only where the
        // engine may bind it without CURVE: loopback or ipc, on this machine.
        guard EngineConfig.isLocal(config.controlBind) else {
            throw configurationError("control.bind", "'\(config.controlBind)' is beyond this machine; algotrader web connects only to a loopback or ipc:// control socket")
        }
        let context: ZMQContext
        do {
            context = try ZMQContext()
        } catch {
            FileHandle.standardError.write(Data("algotrader web: cannot start ZeroMQ: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let control = ControlClient(context: context, endpoint: config.controlBind, forwarderSecret: secret,
                                    timeoutSeconds: config.httpControlTimeoutSeconds)
        // The stream relays the bus, which carries every user's events: like the control socket,
        // only a loopback or ipc bus (beyond this machine it needs CURVE keys the web has not).
        var relay: BusRelay?
        if !config.busBind.isEmpty {
            guard EngineConfig.isLocal(config.busBind) else {
                throw configurationError("bus.bind", "'\(config.busBind)' is beyond this machine; algotrader web relays only a loopback or ipc:// bus")
            }
            relay = BusRelay(context: context, endpoint: config.busBind, logger: logger)
        }
        let server = WebServer(
            settings: .init(host: config.httpHost, port: config.httpPort, corsOrigins: config.httpCORSOrigins,
                            maxBodyBytes: config.httpMaxBodyBytes, maxConnections: config.httpMaxConnections),
            control: control, relay: relay, logger: logger)
        let signals = StopSignals()
        let notifier = SystemdNotifier()
        let failure = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let app = server.application { port in
                logger.info("web serving", metadata: ["http": "\(config.httpHost):\(port)", "control": "\(config.controlBind)"])
                _ = notifier.notify("READY=1")
            }
            let services: [any Service] = (relay.map { [$0] } ?? []) + [app]
            let group = ServiceGroup(configuration: .init(
                services: services.map {
                    .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [], logger: logger))
            signals.onStop {
                _ = notifier.notify("STOPPING=1")
                Task { await group.triggerGracefulShutdown() }
            }
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            done.signal()
        }
        done.wait()
        if let message = failure.withLock({ $0 }) {
            FileHandle.standardError.write(Data("algotrader web: cannot serve at \(config.httpHost):\(config.httpPort): \(message)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        logger.info("web stopped")
    }
}
