public import Config
import Foundation
public import Security

extension CredentialKeyRing {
    /// Why no key ring could be read: the configuration key to fix and what is wrong with it.
    public struct LoadProblem: Error, CustomStringConvertible {
        public let key: String, message: String
        public var description: String { "\(key): \(message)" }
    }

    /// The key ring when one is configured, for `serve` (which needs one only to hand live
    /// brokers' credentials to their gateways): nil when no source is set; a source that is set
    /// but unusable is a problem naming its key.
    public static func loadIfConfigured(_ config: EngineConfig, environment: [String: String]? = nil) throws(LoadProblem) -> CredentialKeyRing? {
        let env = environment ?? ProcessInfo.processInfo.environment
        let systemd = env["CREDENTIALS_DIRECTORY"].map { $0 + "/credentials-key" }
        guard !config.credentialsKey.isEmpty || !config.credentialsKeyFile.isEmpty
                || systemd.map({ FileManager.default.fileExists(atPath: $0) }) == true else { return nil }
        return try load(config, environment: env)
    }

    /// The key ring for broker credentials: `security.credentials_key` (environment), then
    /// `security.credentials_key_file`, then the systemd credential `credentials-key`.
    public static func load(_ config: EngineConfig, environment: [String: String]? = nil) throws(LoadProblem) -> CredentialKeyRing {
        do {
            if !config.credentialsKey.isEmpty {
                return try CredentialKeyRing(fileContents: config.credentialsKey.replacingOccurrences(of: ",", with: "\n"))
            }
            var path = config.credentialsKeyFile
            if path.isEmpty, let dir = (environment ?? ProcessInfo.processInfo.environment)["CREDENTIALS_DIRECTORY"] {
                path = dir + "/credentials-key"
            }
            guard !path.isEmpty, let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw LoadProblem(key: "security.credentials_key_file",
                                  message: "no credentials key (set ALGOTRADER_SECURITY_CREDENTIALS_KEY, the key file, or the systemd credential 'credentials-key'; make one with 'algotrader keys generate')")
            }
            return try CredentialKeyRing(fileContents: text)
        } catch let problem as LoadProblem {
            throw problem
        } catch {
            throw LoadProblem(key: "security.credentials_key", message: "\(error)")
        }
    }
}
