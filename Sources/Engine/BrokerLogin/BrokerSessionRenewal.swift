public import Foundation
public import Security
public import Storage
import TradingCore

/// The daily session token of a live Kite account, obtained by the engine (it alone holds the
/// key ring and the api_secret) and sealed into the account's credentials as `access_token`, the
/// name its gateway and publisher read from their `welcome` (docs/brokers.md, "The daily login").
/// The running engine hands it on at its next reload (SIGHUP or `ctl reload`).
public struct BrokerSessionRenewal {
    public enum Failure: Error, CustomStringConvertible {
        /// The account cannot log in this way (what to do is in the message).
        case unusable(String)
        /// The stored credentials cannot be opened or lack what the login needs.
        case credentials(String)

        public var description: String {
            switch self {
            case let .unusable(why), let .credentials(why): return why
            }
        }
    }

    /// The account's owner and the fields of its credentials a login uses.
    public struct Login: Sendable {
        public let brokerID: String, userID: String, apiKey: String
        let apiSecret: String
        /// Kite's client id if the credentials name one: a login as anyone else is refused.
        let kiteUserID: String?
    }

    public let db: DatabaseConnection
    public let ring: CredentialKeyRing
    public let exchange: KiteSessionExchange

    public init(db: DatabaseConnection, ring: CredentialKeyRing, exchange: KiteSessionExchange) {
        self.db = db
        self.ring = ring
        self.exchange = exchange
    }

    /// The account and its api_key/api_secret; refuses what is not a Kite account with them.
    public func login(_ brokerID: String) throws -> Login {
        guard let account = try BrokerDirectory.account(db, brokerID: brokerID) else { throw Failure.unusable("no broker '\(brokerID)'") }
        let id = brokerID.lowercased()
        guard account.apiType == "zerodha" else {
            throw Failure.unusable("broker \(id) is \(account.apiType): broker login is Kite Connect's (zerodha) daily login")
        }
        guard account.isActive else { throw Failure.unusable("broker \(id) is disabled") }
        let fields = try credentials(account.sealed, userID: account.userID, brokerID: id)
        guard let apiKey = fields["api_key"] as? String, !apiKey.isEmpty, let secret = fields["api_secret"] as? String, !secret.isEmpty else {
            throw Failure.credentials("broker \(id): its credentials need api_key and api_secret (the Kite app's, from developers.kite.trade)")
        }
        return Login(brokerID: id, userID: account.userID, apiKey: apiKey, apiSecret: secret, kiteUserID: fields["user_id"] as? String)
    }

    /// Exchanges the request token and stores the access token; returns Kite's session.
    public func renew(_ login: Login, requestToken: String, actor: String) throws -> KiteSessionExchange.Session {
        let session = try exchange.exchange(apiKey: login.apiKey, requestToken: requestToken, apiSecret: login.apiSecret)
        if let expected = login.kiteUserID, !expected.isEmpty, !session.userID.isEmpty, expected.uppercased() != session.userID.uppercased() {
            throw Failure.unusable("Kite logged in client \(session.userID) but broker \(login.brokerID) is client \(expected): "
                                   + "nothing stored (log out of Kite in the browser and log in as \(expected))")
        }
        var details = JSONObjectWriter()
        details.add("renewed", "access_token")
        details.add("kite_user_id", session.userID)
        details.add("login_time", session.loginTime)
        details.add("key_id", ring.active.id)
        try BrokerDirectory.changeCredentials(db, brokerID: login.brokerID, owner: login.userID, actor: actor, details: details.text) { stored in
            // Read again under the row lock: a rotation or a change since `login` is kept.
            var fields = try credentials(stored, userID: login.userID, brokerID: login.brokerID)
            fields["access_token"] = session.accessToken
            let plaintext = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            return BrokerDirectory.Sealed(text: try CredentialCipher.seal(Array(plaintext), key: ring.active, userID: login.userID,
                                                                          brokerID: login.brokerID),
                                          keyID: ring.active.id)
        }
        return session
    }

    func credentials(_ sealed: String, userID: String, brokerID: String) throws -> [String: Any] {
        let plaintext: [UInt8]?
        do { plaintext = try CredentialCipher.open(sealed, ring: ring, userID: userID, brokerID: brokerID) } catch {
            throw Failure.credentials("broker \(brokerID): its credentials cannot be opened: \(error)")
        }
        guard let plaintext else { throw Failure.credentials("broker \(brokerID) has no credentials (a paper account)") }
        guard let fields = try? JSONSerialization.jsonObject(with: Data(plaintext)) as? [String: Any] else {
            throw Failure.credentials("broker \(brokerID): its credentials are not a JSON object")
        }
        return fields
    }
}
