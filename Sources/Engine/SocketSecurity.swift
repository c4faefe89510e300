public import Config
import Foundation
public import ZeroMQ

/// CURVE for the engine's sockets (docs/security.md): every socket the engine binds becomes a
/// CURVE server with a ZAP domain of its own (`algotrader.control`, `algotrader.gateway`, ...), so
/// the context's ``ZAPHandler`` admits to each socket only the client keys listed for it: a
/// gateway's or a subscriber's key opens nothing else. Sockets the engine connects to CURVE
/// publishers are clients with its own pair.
public struct SocketSecurity: Sendable {
    /// The bound sockets, each with its allow-list.
    public enum Socket: String, Sendable, CaseIterable {
        case control, bus, replay, marketData = "market_data", gateway, strategies

        /// The configuration key of its own allow-list.
        public var clientsKey: String {
            switch self {
            case .control: "control.curve_clients_file"
            case .bus: "bus.curve_clients_file"
            case .replay: "bus.replay_curve_clients_file"
            case .marketData: "market_data.curve_clients_file"
            case .gateway: "gateway.curve_keys_file"
            case .strategies: "strategies.curve_clients_file"
            }
        }

        public var zapDomain: String { "algotrader." + rawValue }
    }

    public let keys: CurveKeyPair
    /// Client public keys (Z85) admitted, per socket.
    public let allowedClients: [Socket: Set<String>]
    /// Gateway public key -> the live broker ids it may serve (`*`: every live broker).
    public let gatewayBrokers: [String: Set<String>]
    public let marketDataServerKey: String?

    public init(keys: CurveKeyPair, allowedClients: [Socket: Set<String>], gatewayBrokers: [String: Set<String>] = [:],
                marketDataServerKey: String?) {
        self.keys = keys
        self.allowedClients = allowedClients
        self.gatewayBrokers = gatewayBrokers
        self.marketDataServerKey = marketDataServerKey
    }

    public struct Problem: Error, CustomStringConvertible {
        public let key: String
        public let message: String
        public var description: String { "\(key): \(message)" }
    }

    /// The allow-lists by ZAP domain, for the ``ZAPHandler``.
    public var allowedByDomain: [String: Set<String>] {
        Dictionary(uniqueKeysWithValues: allowedClients.map { ($0.key.zapDomain, $0.value) })
    }

    /// From configuration; nil when no CURVE key is configured (plain sockets, loopback only).
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
        let shared = config.curveAllowedClientsFile.isEmpty ? [] : try keyLines(config.curveAllowedClientsFile, key: "security.curve_allowed_clients_file")
            .map(\.key)
        var allowed: [Socket: Set<String>] = [:]
        var gatewayBrokers: [String: Set<String>] = [:]
        for socket in Socket.allCases {
            let file = socket == .gateway ? config.gatewayCurveKeysFile
                : socket == .strategies ? config.strategiesCurveClientsFile : config.curveClientsFiles[socket.clientsKey] ?? ""
            // The strategy socket has a list of its own only: a subscriber's or an operator's key
            // opens no strategy, and a strategy's opens nothing else.
            if socket == .strategies && file.isEmpty {
                allowed[socket] = []
                continue
            }
            guard !file.isEmpty else {
                allowed[socket] = Set(shared)
                continue
            }
            let lines = try keyLines(file, key: socket.clientsKey)
            allowed[socket] = Set(lines.map(\.key))
            if socket == .gateway {
                for line in lines {
                    guard !line.rest.isEmpty else {
                        throw Problem(key: socket.clientsKey, message: "line \(line.number): a gateway key needs the broker ids it may serve after it (or *)")
                    }
                    gatewayBrokers[line.key, default: []].formUnion(line.rest.map { $0 == "*" ? "*" : $0.lowercased() })
                }
            }
        }
        return SocketSecurity(keys: keys, allowedClients: allowed, gatewayBrokers: gatewayBrokers,
                              marketDataServerKey: config.curveMarketDataServerKey.isEmpty ? nil : config.curveMarketDataServerKey)
    }

    /// `KEY [words...]` lines of a key file; blank lines and `#` comments skipped.
    private static func keyLines(_ path: String, key: String) throws(Problem) -> [(number: Int, key: String, rest: [String])] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Problem(key: key, message: "cannot read '\(path)'")
        }
        var out: [(Int, String, [String])] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            guard first.utf8.count == 40 else {
                throw Problem(key: key, message: "line \(index + 1) does not start with a Z85 public key (40 characters)")
            }
            out.append((index + 1, first, Array(words.dropFirst())))
        }
        return out
    }

    /// Makes a socket the engine binds a CURVE server checked by the ZAP handler against `socket`'s list.
    public func applyServer(to zmqSocket: ZMQSocket, as socket: Socket) throws(ZMQError) {
        try zmqSocket.setZapDomain(socket.zapDomain)
        try zmqSocket.setCurveServer(secretKey: keys.secretKey)
    }

    /// Makes a socket the engine connects a CURVE client of a publisher, when one is configured.
    public func applyMarketDataClient(to socket: ZMQSocket) throws(ZMQError) {
        guard let server = marketDataServerKey else { return }
        try socket.setCurveClient(publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey: server)
    }
}
