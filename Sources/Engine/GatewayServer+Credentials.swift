import Logging
import Security
import Storage
import TradingCore

/// What of a broker's sealed credentials a gateway or feed is given in its `welcome`.
extension GatewayServer {
    /// Credential members that never leave the engine: it alone logs in at the broker (Angel
    /// One's refresh_token makes new session tokens, so it is one of them).
    static let engineOnlyCredentials: Set<String> = ["api_secret", "password", "pin", "totp_secret", "refresh_token"]

    /// What stays in the engine for a broker of `apiType` (nil: not known as live, the full set).
    /// ICICI Direct's gateway needs the api_secret: Breeze signs every REST call, not only the
    /// login, with `X-Checksum` = SHA-256 of timestamp + body + api_secret (breeze-connect), so
    /// without it the gateway could place no order. Kite's secret only signs the daily login,
    /// which the engine does, so it stays here; so do the rest for every api_type.
    static func engineOnlyCredentials(apiType: String?) -> Set<String> {
        apiType == "icici" ? engineOnlyCredentials.subtracting(["api_secret"]) : engineOnlyCredentials
    }

    /// The decrypted credentials of `brokers` (those a connection was just granted: it is
    /// authenticated for each), by broker id, and why any could not be opened. Never logged: a
    /// failure is logged with the broker and the cause only.
    func opened(_ brokers: [String], _ state: State) -> (JSONObjectWriter, JSONObjectWriter) {
        var credentials = JSONObjectWriter(), problems = JSONObjectWriter()
        for broker in brokers {
            guard let sealed = state.credentials[broker] else { continue }
            let why: String
            if let keyRing {
                do {
                    if let plain = try CredentialCipher.open(sealed.envelope, ring: keyRing, userID: sealed.userID, brokerID: broker),
                       case .success(.object(let members)) = GatewayMessages.parseObject(plain) {
                        // What only the engine uses (to log in at the broker) stays in it; the
                        // api_type is the live set's (`brokers.api_type`), as the grant checked.
                        let withheld = Self.engineOnlyCredentials(apiType: state.liveBrokers[broker])
                        credentials.add(broker, value: .object(members.filter { !withheld.contains($0.0) }))
                        continue
                    }
                    why = "the stored credentials are not a JSON object"
                } catch {
                    why = "the stored credentials cannot be opened: \(error)"
                }
            } else {
                why = "the engine has no credentials key (security.credentials_key, security.credentials_key_file or the systemd credential credentials-key)"
            }
            problems.add(broker, why)
            logger.error("a gateway was granted a live broker whose credentials could not be given to it", metadata: ["broker": "\(broker)", "why": "\(why)"])
        }
        return (credentials, problems)
    }
}
