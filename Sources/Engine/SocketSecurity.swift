public import Config
import Foundation
public import ZeroMQ

/// CURVE for the engine's sockets (docs/security.md): every socket the engine binds becomes a
/// CURVE server with the ZAP domain `algotrader`, so the context's ``ZAPHandler`` admits only the
/// listed client keys; sockets it connects to CURVE publishers are clients with its own pair.
public struct SocketSecurity: Sendable {
    public static let zapDomain = "algotrader"
    public let keys: CurveKeyPair
    public let allowedClients: Set<String>
    public let marketDataServerKey: String?

    public init(keys: CurveKeyPair, allowedClients: Set<String>, marketDataServerKey: String?) {
        self.keys = keys
        self.allowedClients = allowedClients
        self.marketDataServerKey = marketDataServerKey
    }

    public struct Problem: Error, CustomStringConvertible {
        public let key: String
        public let message: String
        public var description: String { "\(key): \(message)" }
    }

    /// From configuration; nil when no CURVE key is configured (plain sockets, loopback by default).
    public static func load(_ config: EngineConfig) throws(Problem) -> SocketSecurity? {
        guard !config.curveSecretKeyFile.isEmpty else {
            guard config.curveMarketDataServerKey.isEmpty else {
                throw Problem(key: "security.curve_market_data_server_key", message: "needs security.curve_secret_key_file (this engine's own key pair)")
            }
            return nil
        }
        guard let secret = try? String(contentsOfFile: config.curveSecretKeyFile, encoding: .utf8) else {
            throw Problem(key: "security.curve_secret_key_file", message: "cannot read '\(config.curveSecretKeyFile)'")
        }
        let keys: CurveKeyPair
        do {
            keys = try CurveKeyPair(secretKey: secret.trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw Problem(key: "security.curve_secret_key_file", message: "not a Z85 CURVE secret key (40 characters): \(error)")
        }
        var allowed: Set<String> = []
        if !config.curveAllowedClientsFile.isEmpty {
            guard let text = try? String(contentsOfFile: config.curveAllowedClientsFile, encoding: .utf8) else {
                throw Problem(key: "security.curve_allowed_clients_file", message: "cannot read '\(config.curveAllowedClientsFile)'")
            }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let key = line.trimmingCharacters(in: .whitespaces)
                if key.isEmpty || key.hasPrefix("#") { continue }
                guard key.utf8.count == 40 else {
                    throw Problem(key: "security.curve_allowed_clients_file", message: "line \(number + 1) is not a Z85 public key (40 characters)")
                }
                allowed.insert(key)
            }
        }
        return SocketSecurity(keys: keys, allowedClients: allowed,
                              marketDataServerKey: config.curveMarketDataServerKey.isEmpty ? nil : config.curveMarketDataServerKey)
    }

    /// Makes a socket the engine binds a CURVE server checked by the ZAP handler.
    public func applyServer(to socket: ZMQSocket) throws(ZMQError) {
        try socket.setZapDomain(Self.zapDomain)
        try socket.setCurveServer(secretKey: keys.secretKey)
    }

    /// Makes a socket the engine connects a CURVE client of a publisher, when one is configured.
    public func applyMarketDataClient(to socket: ZMQSocket) throws(ZMQError) {
        guard let server = marketDataServerKey else { return }
        try socket.setCurveClient(publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey: server)
    }
}
